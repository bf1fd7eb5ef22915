/**
 * Replay: runs a recorded execution again, from its start or from a chosen node with the input that node
 * received, on the flow version the execution ran (recorded in the store) or on the current one. The new
 * execution carries `replayOf`, so the store links it to the original.
 *
 * Recorded values need `full` snapshots (the default of the audit layer and of the runner). Each
 * execution records its policy, and an execution recorded with `metadata` or `none` is refused with a
 * {@link SnapshotsNotReplayable}: a metadata snapshot such as `{ "type": "object" }` must never be fed to a
 * flow as if it were the data. Values that were encrypted are
 * decrypted with the keyring; masked values cannot be recovered, so a replay that would feed them to a node
 * is refused unless `allowMasked` is set.
 *
 * Besides the input, a replay restores what the nodes saw of their execution: the trigger data (the HTTP
 * request: method, path, params, query, headers, body) and the variables, as they were when the chosen node
 * started (the initial ones, then each change recorded on `NodeSucceeded`, folded in order). Credential
 * headers the audit masked (`Authorization`, `Cookie`, ...) are left out of the replayed request and listed
 * in the plan's `notes`; encrypted ones are decrypted with the keyring.
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
    return `cannot replay execution ${this.executionId}: ${how}; set audit.snapshots to full (the default: remove "snapshots" from the runner's audit settings or set JSONFLOW_AUDIT_SNAPSHOTS=full; in code Audit.layer({ snapshots: "full" })) so that executions recorded from then on can be replayed`
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
  /** The execution's input. */
  readonly input: unknown
  /** The recorded trigger data (the HTTP request); `undefined`: none was recorded apart from the input. */
  readonly trigger: unknown
  /** The variables the run starts with (at the chosen node: as they were when it started); `undefined`: none. */
  readonly variables: Readonly<Record<string, unknown>> | undefined
  /** What the replay cannot restore as it was, e.g. masked credential headers left out of the request. */
  readonly notes: ReadonlyArray<string>
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
 * The variables as they were when `run` started: the initial ones, then every change recorded before its
 * `NodeStarted` (or, when that event is missing, before the event that ended it).
 */
const variablesAt = (trace: Trace, run: NodeRun | undefined): Record<string, unknown> | undefined => {
  const events = trace.events
  let end = events.length
  if (run !== undefined) {
    const at = (tags: ReadonlyArray<string>) =>
      events.findLastIndex(
        (e) =>
          tags.includes(e._tag) &&
          "nodeId" in e &&
          e.nodeId === run.nodeId &&
          "attempt" in e &&
          e.attempt === run.attempt
      )
    const started = at(["NodeStarted"])
    end = started >= 0 ? started : Math.max(at(["NodeSucceeded", "NodeFailed"]), 0)
  }
  let variables: Record<string, unknown> | undefined
  for (let i = 0; i < end; i++) {
    const e = events[i]!
    if ((e._tag === "ExecutionStarted" || e._tag === "NodeSucceeded") && e.variables !== undefined) {
      variables = e.variables
    }
  }
  return variables
}

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

    const recover = (value: unknown, what: string, masksAllowed = options.allowMasked === true) => {
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
      if (!masksAllowed && hasMasked(revealed)) {
        return fail(
          `the recorded ${what} holds masked values; record with encryption (Redaction mode "encrypt") to replay them, or pass allowMasked`
        )
      }
      return Effect.succeed(revealed)
    }

    // The request as it came, but for the credential headers the audit masked: left out, and said so.
    const notes: Array<string> = []
    const recordedTrigger = started?._tag === "ExecutionStarted" ? started.triggerData : undefined
    const trigger = (value: unknown) =>
      Effect.gen(function* () {
        if (value === undefined) return undefined
        const revealed = yield* recover(value, "trigger data", true)
        const headers = (revealed as { readonly headers?: unknown } | null)?.headers
        if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
          return yield* recover(revealed, "trigger data")
        }
        const kept: Record<string, unknown> = {}
        const left: Array<string> = []
        for (const [name, header] of Object.entries(headers)) {
          if (hasMasked(header)) left.push(name)
          else kept[name] = header
        }
        // Sorted: JSONB does not keep the order the headers came in.
        for (const name of left.sort()) notes.push(`the ${name} header was masked by the audit and is left out`)
        return yield* recover({ ...(revealed as Record<string, unknown>), headers: kept }, "trigger data")
      })
    const variables = (value: Readonly<Record<string, unknown>> | undefined) =>
      value === undefined
        ? Effect.succeed(undefined)
        : (recover(value, "variables") as Effect.Effect<Record<string, unknown>, ReplayError>)

    if (from === "start") {
      if (started === undefined) return yield* fail("its ExecutionStarted event is missing")
      if (recordedInput === undefined) return yield* fail("its input was not recorded (snapshots must be full)")
      yield* unknownMetadata(recordedInput)
      return {
        original,
        flow,
        startAt: undefined,
        input: yield* recover(recordedInput, "input"),
        trigger: yield* trigger(recordedTrigger),
        variables: yield* variables(started._tag === "ExecutionStarted" ? started.variables : undefined),
        notes
      }
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
      input: recordedInput === undefined ? undefined : yield* recover(recordedInput, "input"),
      trigger: yield* trigger(recordedTrigger),
      variables: yield* variables(variablesAt(original, run)),
      notes
    }
  })

/**
 * Runs what {@link plan} worked out: the new execution is linked to the original (`replayOf`), with the
 * recorded trigger data and variables. Split from {@link replay} for callers that show the plan's `notes`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Builtins } from "@jsonflow/core"
 * import { Replay } from "@jsonflow/audit"
 * const options = { executionId: "7f3a...", from: "compute", registry: Builtins.registry }
 * const again = Effect.flatMap(Replay.plan(options), (p) => {
 *   for (const note of p.notes) console.warn(note)
 *   return Replay.runPlan(p, options)
 * })
 * ```
 */
export const runPlan = <R>(
  p: ReplayPlan,
  options: ReplayOptions<R>
): Effect.Effect<Compiler.ExecutionResult, Compiler.CompileError | FlowError.FlowError, R> =>
  Effect.flatMap(
    Compiler.compile(p.flow, options.registry, options.flows ? { flows: options.flows } : {}),
    (compiled) =>
      compiled.run(p.input, {
        replayOf: options.executionId,
        ...(p.trigger === undefined ? {} : { trigger: p.trigger }),
        ...(p.variables === undefined ? {} : { variables: p.variables }),
        ...(p.startAt === undefined ? {} : { startAt: p.startAt }),
        ...(options.newExecutionId === undefined ? {} : { executionId: options.newExecutionId })
      })
  ) as Effect.Effect<Compiler.ExecutionResult, Compiler.CompileError | FlowError.FlowError, R>

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
  Effect.flatMap(plan(options), (p) => runPlan(p, options)) as Effect.Effect<
    Compiler.ExecutionResult,
    ReplayError | SnapshotsNotReplayable | StoreError | Compiler.CompileError | FlowError.FlowError,
    AuditStore | R
  >
