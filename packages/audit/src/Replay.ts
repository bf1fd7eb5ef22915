/**
 * Replay: runs a recorded execution again, from its start or from a chosen node with the input that node
 * received, on the flow version the execution ran (recorded in the store) or on the current one. The new
 * execution carries `replayOf`, so the store links it to the original.
 *
 * Recorded values need `full` snapshots (the audit layer's default; the runner's is `metadata`). Each
 * execution records its policy, and an execution recorded with `metadata` or `none` is refused with a
 * {@link SnapshotsNotReplayable}: a metadata snapshot such as `{ "type": "object" }` must never be fed to a
 * flow as if it were the data. Values that were encrypted are
 * decrypted with the keyring; masked values cannot be recovered, so a replay that would feed them to a node
 * is refused unless `allowMasked` is set.
 *
 * From a node, only what is downstream of it runs again. The engine starts a run at one node, so a node
 * downstream that also waits on an edge from outside that part of the graph (a join of two branches, one
 * not replayed) could never run: such a replay is refused with the reason, rather than half done.
 *
 * @module Replay
 */
import { Compiler, type FlowError, type Ir, type Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import type { NodeRun, Trace } from "./Record.ts"
import { hasEncrypted, hasMasked, type Keyring, reveal } from "./Redaction.ts"
import { AuditStore, type StoreError } from "./Store.ts"

/** A replay cannot be done as asked; `reason` says why and what would make it possible. */
export class ReplayError extends Schema.TaggedError<ReplayError>()("ReplayError", {
  executionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot replay execution ${this.executionId}: ${this.reason}`
  }
}

/**
 * The execution was recorded without the values a replay needs. `snapshots`: the policy it was recorded
 * under; `unknown` when it was recorded before executions carried their policy and the value a replay would
 * use is a metadata snapshot (`{ "type": "object" }`, `{ "type": "string", "length": 12 }`, ...).
 */
export class SnapshotsNotReplayable extends Schema.TaggedError<SnapshotsNotReplayable>()("SnapshotsNotReplayable", {
  executionId: Schema.String,
  snapshots: Schema.Literals(["metadata", "none", "unknown"])
}) {
  override get message() {
    const how =
      this.snapshots === "unknown"
        ? "its recorded input is a metadata snapshot (types and sizes, not the values)"
        : this.snapshots === "metadata"
          ? "it was recorded with metadata snapshots (types and sizes, not the values)"
          : "it was recorded with no snapshots (snapshots: none)"
    return `cannot replay execution ${this.executionId}: ${how}; set audit.snapshots to full (Audit.layer({ snapshots: "full" })) so that executions recorded from then on can be replayed`
  }
}

const META_TYPES = new Set(["null", "object", "number", "boolean", "undefined", "bigint", "symbol", "function"])

// The shapes the engine's `metadata` snapshots take: `{ type }`, or `{ type, length }` for arrays and strings.
const isMetadataSnapshot = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const keys = Object.keys(value)
  const type = (value as { readonly type?: unknown }).type
  if (keys.length === 1) return typeof type === "string" && META_TYPES.has(type)
  return (
    keys.length === 2 &&
    (type === "array" || type === "string") &&
    typeof (value as { readonly length?: unknown }).length === "number"
  )
}

export interface ReplayOptions<R> {
  readonly executionId: string
  /** `start` (default), `failed` (the node whose failure ended the execution), or a node id. */
  readonly from?: string
  /** `recorded` (default): the version the execution ran; `current`: what `resolveFlow` returns. */
  readonly version?: "recorded" | "current"
  /** The node types (and the services they need, `R`). */
  readonly registry: Registry.Registry<R>
  /** Flows called by id from sub-flow nodes. */
  readonly flows?: Readonly<Record<string, Ir.Flow>>
  /** The current version of a flow (required for `current`; a fallback when a version was not recorded). */
  readonly resolveFlow?: (flowId: string) => Ir.Flow | undefined
  /** Decrypts values recorded with encryption. */
  readonly keyring?: Keyring
  /** Replay even though recorded values were masked (the masks are passed as they are). */
  readonly allowMasked?: boolean
  /** The new execution's id (default: a random UUID). */
  readonly newExecutionId?: string
}

/** What a replay will run. */
export interface ReplayPlan {
  readonly original: Trace
  readonly flow: Ir.Flow
  /** `undefined`: from the start. */
  readonly startAt: { readonly nodeId: string; readonly input: unknown } | undefined
  /** The execution's input (the trigger data of the new run). */
  readonly input: unknown
}

const downstreamOf = (flow: Ir.Flow, start: string): Set<string> => {
  const reached = new Set([start])
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.pop()!
    for (const edge of flow.edges) {
      if (edge.from.node === node && !reached.has(edge.to.node)) {
        reached.add(edge.to.node)
        queue.push(edge.to.node)
      }
    }
  }
  return reached
}

const lastRunOf = (trace: Trace, nodeId: string): NodeRun | undefined =>
  [...trace.nodes].reverse().find((n) => n.nodeId === nodeId && n.status !== "skipped")

/**
 * Works out what a replay would run, without running it.
 *
 * @example
 * ```ts
 * import { Builtins } from "@jsonflow/core"
 * import { Replay } from "@jsonflow/audit"
 * const plan = Replay.plan({ executionId: "7f3a...", from: "failed", registry: Builtins.registry })
 * ```
 */
export const plan = <R>(
  options: ReplayOptions<R>
): Effect.Effect<ReplayPlan, ReplayError | SnapshotsNotReplayable | StoreError, AuditStore> =>
  Effect.gen(function* () {
    const store = yield* AuditStore
    const id = options.executionId
    const fail = (reason: string) => Effect.fail(new ReplayError({ executionId: id, reason }))
    const original = yield* store.trace(id)
    if (original === undefined) return yield* fail("no such execution in the audit store")
    const started = original.events.find((e) => e._tag === "ExecutionStarted")
    const policy =
      (started?._tag === "ExecutionStarted" ? started.snapshots : undefined) ?? original.execution.snapshots
    if (policy === "metadata" || policy === "none") {
      return yield* Effect.fail(new SnapshotsNotReplayable({ executionId: id, snapshots: policy }))
    }
    // Recorded before executions carried their policy: what looks like a metadata snapshot is taken for one.
    const unknownMetadata = (value: unknown) =>
      policy === undefined && isMetadataSnapshot(value)
        ? Effect.fail(new SnapshotsNotReplayable({ executionId: id, snapshots: "unknown" }))
        : Effect.void
    const { flowId, flowVersion } = original.execution
    let flow: Ir.Flow | undefined
    if ((options.version ?? "recorded") === "recorded") {
      flow = (yield* store.flow(flowId, flowVersion)) ?? undefined
      const current = options.resolveFlow?.(flowId)
      if (flow === undefined && current?.version === flowVersion) flow = current
      if (flow === undefined) {
        return yield* fail(
          `flow ${flowId} version ${flowVersion} was not recorded (register it with Audit.registerFlow), and the current version is ${current?.version ?? "unknown"}; replay on the current version instead`
        )
      }
    } else {
      flow = options.resolveFlow?.(flowId)
      if (flow === undefined) return yield* fail(`the current version of flow ${flowId} is not known here`)
    }

    const recordedInput = started?._tag === "ExecutionStarted" ? started.input : original.execution.input
    let from = options.from ?? "start"
    if (from === "failed") {
      const failed = [...original.nodes].reverse().find((n) => n.status === "failed" && n.handled !== true)
      if (failed === undefined) return yield* fail("it has no failed node")
      from = failed.nodeId
    }

    const recover = (value: unknown, what: string) => {
      let revealed: unknown
      try {
        revealed = options.keyring === undefined ? value : reveal(value, options.keyring)
      } catch (error) {
        return fail(
          `the recorded ${what} cannot be decrypted: ${error instanceof Error ? error.message : String(error)}`
        )
      }
      if (hasEncrypted(revealed)) {
        return fail(`the recorded ${what} is encrypted; pass the keyring (JSONFLOW_AUDIT_KEYS for the CLI)`)
      }
      if (!options.allowMasked && hasMasked(revealed)) {
        return fail(
          `the recorded ${what} holds masked values; record with encryption (Redaction mode "encrypt") to replay them, or pass allowMasked`
        )
      }
      return Effect.succeed(revealed)
    }

    if (from === "start") {
      if (started === undefined) return yield* fail("its ExecutionStarted event is missing")
      if (recordedInput === undefined) return yield* fail("its input was not recorded (snapshots must be full)")
      yield* unknownMetadata(recordedInput)
      return { original, flow, startAt: undefined, input: yield* recover(recordedInput, "input") }
    }

    if (!Object.hasOwn(flow.nodes, from)) {
      return yield* fail(`flow ${flow.id} version ${flow.version} has no node "${from}"`)
    }
    const run = lastRunOf(original, from)
    if (run === undefined) {
      const ran = [...new Set(original.nodes.filter((n) => n.status !== "skipped").map((n) => n.nodeId))]
      return yield* fail(`node "${from}" did not run in it (nodes that ran: ${ran.join(", ") || "none"})`)
    }
    if (run.input === undefined)
      return yield* fail(`the input of node "${from}" was not recorded (snapshots must be full)`)
    yield* unknownMetadata(run.input)
    const region = downstreamOf(flow, from)
    for (const edge of flow.edges) {
      if (region.has(edge.to.node) && edge.to.node !== from && !region.has(edge.from.node)) {
        return yield* fail(
          `node "${edge.to.node}" downstream of "${from}" also waits on ${edge.from.node}.${edge.from.port}, which would not run again; replay from an earlier node or from the start`
        )
      }
    }
    return {
      original,
      flow,
      startAt: { nodeId: from, input: yield* recover(run.input, `input of node "${from}"`) },
      input: recordedInput === undefined ? undefined : yield* recover(recordedInput, "input")
    }
  })

/**
 * Replays an execution; the new execution is linked to the original (`replayOf`). Record it by running
 * under the audit layer like any execution.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Builtins } from "@jsonflow/core"
 * import { Replay } from "@jsonflow/audit"
 * const again = Replay.replay({ executionId: "7f3a...", from: "failed", version: "current", registry: Builtins.registry,
 *   resolveFlow: (id) => flows[id] })
 * ```
 */
export const replay = <R>(options: ReplayOptions<R>) =>
  Effect.gen(function* () {
    const p = yield* plan(options)
    const compiled = yield* Compiler.compile(p.flow, options.registry, options.flows ? { flows: options.flows } : {})
    return yield* compiled.run(p.input, {
      replayOf: options.executionId,
      ...(p.startAt === undefined ? {} : { startAt: p.startAt }),
      ...(options.newExecutionId === undefined ? {} : { executionId: options.newExecutionId })
    })
  }) as Effect.Effect<
    Compiler.ExecutionResult,
    ReplayError | SnapshotsNotReplayable | StoreError | Compiler.CompileError | FlowError.FlowError,
    AuditStore | R
  >
