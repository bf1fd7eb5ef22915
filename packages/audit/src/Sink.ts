/**
 * The contract between the audit buffer and a destination. A sink receives batches of already redacted
 * entries and writes them somewhere; it never sees an event before redaction, and never sits on an
 * execution's path (the buffer calls it from its own fiber).
 *
 * A sink must be idempotent: after a failure or a crash the buffer writes a batch again, and the journal
 * may replay entries a sink already has. Order is not guaranteed either.
 *
 * @module Sink
 */
import { Effect, Schema, type Scope } from "effect"
import type { Entry } from "./Record.ts"
import type { AuditStoreShape } from "./Store.ts"

/** A write failed. `retryable`: the sink is down or busy (retry later); otherwise the batch itself is bad. */
export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  sink: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `audit sink "${this.sink}": ${this.reason}`
  }
}

/** An open sink. */
export interface Sink {
  /** Names the sink in counters and in its journal directory; unique within one audit layer. */
  readonly name: string
  /** Writes a batch; must be idempotent on event id. */
  readonly write: (batch: ReadonlyArray<Entry>) => Effect.Effect<void, SinkError>
  /** Preferred batch size (the buffer's default applies when absent). */
  readonly batchSize?: number
  /** Preferred writes in flight (default 1); a database with a pool absorbs more with several. */
  readonly concurrency?: number
  /** The store behind the sink, when it can be queried (the audit layer then provides `AuditStore`). */
  readonly store?: AuditStoreShape
}

/** How a sink is opened: a scoped effect (connections are closed when the audit layer closes). */
export type SinkFactory<E = never, R = never> = Effect.Effect<Sink, E, R | Scope.Scope>

/** Reads a readable reason from anything thrown by a driver. */
export const reasonOf = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}

/**
 * Wraps a promise-returning write as an Effect failing with a retryable {@link SinkError}.
 *
 * @example
 * ```ts
 * import { Sink } from "@jsonflow/audit"
 * const write = (batch: ReadonlyArray<unknown>) => Sink.attempt("files", () => Promise.resolve(batch.length))
 * ```
 */
export const attempt = <A>(
  sink: string,
  run: () => PromiseLike<A>,
  retryable: (error: unknown) => boolean = () => true
): Effect.Effect<A, SinkError> =>
  Effect.tryPromise({
    try: () => run(),
    catch: (error) => new SinkError({ sink, reason: reasonOf(error), retryable: retryable(error) })
  })
