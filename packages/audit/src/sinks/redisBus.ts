/**
 * The Redis stream bus: the runner appends redacted entries to a stream (`XADD`, one stream entry per chunk
 * of up to 500 entries, pipelined), which is cheap and asynchronous; the audit worker (`Worker`, `jsonflow
 * audit-worker`) reads the stream with a consumer group and writes to PostgreSQL. The stream is never
 * trimmed by length (that could lose entries no worker has read): the worker deletes what it acknowledged.
 *
 * @example
 * ```ts
 * import { Audit, RedisBus } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [RedisBus.sink({ url: "redis://127.0.0.1:6379" })] })
 * ```
 *
 * @module redisBus
 */
import { Effect, type Scope } from "effect"
import { Redis } from "ioredis"
import type { Entry } from "../Record.ts"
import * as Serialize from "../Serialize.ts"
import { attempt, type Sink, SinkError } from "../Sink.ts"

/** The default stream key. */
export const DEFAULT_STREAM = "jsonflow:audit"

export interface RedisBusOptions {
  /** `redis://host:port/db` (default `redis://127.0.0.1:6379`). */
  readonly url?: string
  readonly stream?: string
  /** Entries per stream entry (default 500). */
  readonly chunk?: number
}

/** The field holding a chunk's entries (a JSON array) in each stream entry. */
export const FIELD = "d"

/**
 * Opens a Redis client that fails fast while Redis is away (so the audit buffer can spill) instead of
 * queueing commands in memory.
 *
 * @example
 * ```ts
 * import { RedisBus } from "@jsonflow/audit"
 * const redis = RedisBus.client("redis://127.0.0.1:6379")
 * ```
 */
export const client = (url = "redis://127.0.0.1:6379", options: { readonly blocking?: boolean } = {}) =>
  new Redis(url, {
    enableOfflineQueue: options.blocking === true,
    maxRetriesPerRequest: options.blocking === true ? null : 1,
    ...(options.blocking === true ? {} : { commandTimeout: 10_000 }),
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: false
  })

/**
 * A sink appending entries to a Redis stream.
 *
 * @example
 * ```ts
 * import { RedisBus } from "@jsonflow/audit"
 * const sink = RedisBus.sink({ url: "redis://127.0.0.1:6379", stream: "jsonflow:audit" })
 * ```
 */
export const sink = (options: RedisBusOptions = {}): Effect.Effect<Sink, never, Scope.Scope> =>
  Effect.gen(function* () {
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => client(options.url)),
      (r) => Effect.promise(() => r.quit().catch(() => r.disconnect()))
    )
    // Errors while Redis is away are reported by the failing writes; the client reconnects on its own.
    redis.on("error", () => {})
    const stream = options.stream ?? DEFAULT_STREAM
    const chunk = options.chunk ?? 500
    return {
      name: "redis",
      batchSize: 5_000,
      write: (batch: ReadonlyArray<Entry>) =>
        Effect.flatMap(
          attempt("redis", () => {
            const pipeline = redis.pipeline()
            for (let i = 0; i < batch.length; i += chunk) {
              pipeline.xadd(stream, "*", FIELD, Serialize.array(batch.slice(i, i + chunk)))
            }
            return pipeline.exec()
          }),
          (results) => {
            const failed = (results ?? []).find(([error]) => error !== null)
            return failed === undefined
              ? Effect.void
              : Effect.fail(new SinkError({ sink: "redis", reason: String(failed[0]), retryable: true }))
          }
        )
    }
  })
