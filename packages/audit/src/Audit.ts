/**
 * The audit layer: subscribes to the engine's `FlowEvents`, and gives every sink a bounded buffer of its
 * own (so a slow sink never holds up another) with a spill journal, redaction before anything is written,
 * and the recording of flow versions for replay. Provide it where flows run:
 *
 * ```ts
 * const program = compiled.run(input).pipe(Effect.provide(Audit.layer({ sinks: [Embedded.sink()] })))
 * ```
 *
 * It provides `FlowEvents` (so the engine emits), the {@link Audit} service (counters, flush, admission),
 * `AuditStore` (the first sink with a queryable store: PostgreSQL, embedded; without one, its calls fail
 * with a `StoreError` saying so), and `Credentials`, wrapping the credentials it is given (provide them to
 * this layer) so that every resolved credential value is redacted from records. Closing the layer flushes.
 *
 * @module Audit
 */
import { Credentials, FlowEvents, type Ir } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import * as Buffer from "./Buffer.ts"
import { type Entry, flowKey } from "./Record.ts"
import * as Redaction from "./Redaction.ts"
import type { SinkFactory } from "./Sink.ts"
import { AuditStore, type AuditStoreShape, StoreError } from "./Store.ts"

const noStore = (operation: string) =>
  Effect.fail(
    new StoreError({ operation, reason: "no audit sink with a queryable store is configured", retryable: false })
  )

// Served as AuditStore when no sink is queryable (console, JSON lines, Redis bus): every call says so.
const missingStore: AuditStoreShape = {
  name: "none",
  write: () => noStore("write"),
  listExecutions: () => noStore("listExecutions"),
  trace: () => noStore("trace"),
  whereStopped: () => noStore("whereStopped"),
  flow: () => noStore("flow"),
  prune: () => noStore("prune"),
  count: () => noStore("count")
}

/** The audit service. */
export interface AuditShape {
  /** Counters per sink. */
  readonly counters: () => ReadonlyArray<Buffer.Counters>
  /** Waits until everything recorded so far is written (it waits while a sink is down: add a timeout). */
  readonly flush: Effect.Effect<void>
  /**
   * Waits until every buffer has room. With the `block` policy, call it before starting an execution:
   * that is where back-pressure can wait (an event emitter may not).
   */
  readonly admit: Effect.Effect<void>
  /** Makes a flow version's IR known; it is recorded with the first execution of that version. */
  readonly registerFlow: (flow: Ir.Flow) => void
  /** Records an entry directly (tests, benchmarks, importing traces). */
  readonly record: (entry: Entry) => void
}

/** The audit service tag. */
export class Audit extends Context.Service<Audit, AuditShape>()("@jsonflow/audit/Audit") {}

export interface AuditOptions<E, R> {
  /** Where entries go; each gets its own buffer and journal. */
  readonly sinks: ReadonlyArray<SinkFactory<E, R>>
  /**
   * How much of node inputs and outputs the engine records (default `full`: replay needs the inputs;
   * `metadata` keeps only types and sizes).
   */
  readonly snapshots?: Ir.SnapshotPolicy
  readonly redaction?: Redaction.RedactionOptions
  readonly buffer?: Buffer.BufferOptions
  /** Flow versions to record for replay (more with `registerFlow`). */
  readonly flows?: ReadonlyArray<Ir.Flow>
}

/**
 * The audit layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Audit, Embedded, Jsonl } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({
 *   sinks: [Embedded.sink(), Jsonl.sink({ path: "audit.jsonl" })],
 *   redaction: { paths: ["input.customer.ssn"] },
 *   buffer: { capacity: 50_000, onFull: "spill" }
 * })
 * ```
 */
export const layer = <E = never, R = never>(
  options: AuditOptions<E, R>
): Layer.Layer<Audit | AuditStore, E, Exclude<R, Scope.Scope>> =>
  Layer.effectContext(
    Effect.gen(function* () {
      // Every credential value a connector resolves through this layer is scrubbed from records, wherever
      // it shows up (a node echoing a password, a driver error quoting a connection string).
      const resolved = new Set<string>()
      const upstream = yield* Credentials.Credentials
      const credentials: Credentials.CredentialsShape = {
        resolve: (name) =>
          Effect.tap(upstream.resolve(name), (credential) =>
            Effect.sync(() => {
              for (const value of Object.values(credential)) resolved.add(Redacted.value(value))
            })
          )
      }
      const userSecrets = options.redaction?.secrets
      const redactor = Redaction.make({
        ...options.redaction,
        secrets: () => (userSecrets === undefined ? resolved : [...userSecrets(), ...resolved])
      })
      const channels: Array<Buffer.Channel> = []
      const names = new Set<string>()
      for (const factory of options.sinks) {
        const sink = yield* factory
        if (names.has(sink.name)) return yield* Effect.die(new Error(`audit: two sinks named "${sink.name}"`))
        names.add(sink.name)
        channels.push(yield* Buffer.make(sink, redactor, options.buffer))
      }
      const flows = new Map<string, Ir.Flow>()
      const recorded = new Set<string>()
      const registerFlow = (flow: Ir.Flow) => {
        flows.set(flowKey(flow.id, flow.version), flow)
      }
      for (const flow of options.flows ?? []) registerFlow(flow)

      const record = (entry: Entry) => {
        for (const channel of channels) channel.offer(entry)
      }
      const subscriber: FlowEvents.Subscriber = (event) => {
        if (event._tag === "ExecutionStarted" && flows.size > 0) {
          const key = flowKey(event.flowId, event.flowVersion)
          if (!recorded.has(key)) {
            const flow = flows.get(key)
            if (flow !== undefined) {
              recorded.add(key)
              record({ _tag: "FlowRecorded", flowId: flow.id, flowVersion: flow.version, at: event.at, flow })
            }
          }
        }
        record(event)
      }

      const audit: AuditShape = {
        counters: () => channels.map((c) => c.counters()),
        flush: Effect.forEach(channels, (c) => c.flush, { discard: true, concurrency: "unbounded" }),
        admit: Effect.suspend(() =>
          channels.every((c) => c.hasRoom())
            ? Effect.void
            : Effect.forEach(channels, (c) => c.awaitRoom, { discard: true, concurrency: "unbounded" })
        ),
        registerFlow,
        record
      }
      const events: FlowEvents.FlowEventsShape = {
        snapshots: options.snapshots ?? "full",
        enabled: channels.length > 0,
        emit: FlowEvents.fanOut([subscriber])
      }
      const store = channels.find((c) => c.sink.store !== undefined)?.sink.store ?? missingStore
      return Context.make(Audit, audit).pipe(
        Context.add(FlowEvents.FlowEvents, events),
        Context.add(AuditStore, store),
        Context.add(Credentials.Credentials, credentials)
      ) as Context.Context<Audit | AuditStore>
    })
  )

/**
 * Records every event of the flows the effect runs, and flushes before it returns (scripts, tests, CLI).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Audit, Embedded } from "@jsonflow/audit"
 * declare const run: Effect.Effect<unknown>
 * await Effect.runPromise(Audit.recording(run, { sinks: [Embedded.sink()] }))
 * ```
 */
export const recording = <A, E2, R2, E = never, R = never>(
  effect: Effect.Effect<A, E2, R2>,
  options: AuditOptions<E, R>
) =>
  effect.pipe(
    Effect.tap(() => Audit.use((a) => a.flush)),
    Effect.provide(layer(options))
  )
