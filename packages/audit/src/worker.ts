/**
 * The audit worker: moves entries from the Redis stream bus into a store (PostgreSQL), at least once, and
 * therefore exactly once in the tables (writes are idempotent on event id).
 *
 * It reads with a consumer group (`XREADGROUP`), writes each read as one transaction, and only then
 * acknowledges and deletes the stream entries (`XACK` + `XDEL`). A worker that dies mid-batch leaves its
 * entries pending; any live worker takes them over once they have been idle for `claimIdleMs`
 * (`XAUTOCLAIM`) and writes them again. Stream entries that are not valid JSON, and entries the database
 * rejects as malformed, go to the `<stream>:dead` stream instead of blocking the group.
 *
 * @module worker
 */
import { hostname } from "node:os"
import { Effect, Schema, type Scope } from "effect"
import type { Redis } from "ioredis"
import type { Entry } from "./Record.ts"
import type { AuditStoreShape } from "./Store.ts"
import { client, DEFAULT_STREAM, FIELD } from "./sinks/redisBus.ts"

/** The worker could not talk to Redis in a way it cannot retry (the group cannot be created). */
export class WorkerError extends Schema.TaggedError<WorkerError>()("WorkerError", { reason: Schema.String }) {
  override get message() {
    return `audit worker: ${this.reason}`
  }
}

export interface WorkerOptions {
  /** The store written to (see `Postgres.open`). */
  readonly store: AuditStoreShape
  /** Default `redis://127.0.0.1:6379`. */
  readonly redis?: string
  readonly stream?: string
  /** Consumer group (default `jsonflow-audit`). */
  readonly group?: string
  /** This worker's name in the group (default `<host>-<pid>`); unique per process. */
  readonly consumer?: string
  /** Stream entries per read (default 20, i.e. up to 10,000 events with the bus's chunks of 500). */
  readonly count?: number
  /** How long a read blocks waiting for entries (default 1 s). */
  readonly blockMs?: number
  /** Pending entries idle this long belong to a dead worker and are taken over (default 30 s). */
  readonly claimIdleMs?: number
  /** Test hooks around a batch: after it was read, and after it was written but before it is acknowledged. */
  readonly hooks?: {
    readonly afterRead?: (ids: ReadonlyArray<string>) => Promise<void>
    readonly beforeAck?: (ids: ReadonlyArray<string>) => Promise<void>
  }
  /** Called after each acknowledged batch. */
  readonly onBatch?: (info: { readonly ids: number; readonly entries: number; readonly claimed: boolean }) => void
}

/** Counters of a running worker. */
export interface WorkerStats {
  batches: number
  entries: number
  claimed: number
  deadLettered: number
  failures: number
}

type StreamEntry = readonly [id: string, fields: ReadonlyArray<string> | null]

const asEntries = (value: unknown): ReadonlyArray<StreamEntry> =>
  Array.isArray(value) ? value.filter((e): e is StreamEntry => Array.isArray(e) && typeof e[0] === "string") : []

// RESP2 answers [[key, entries], ...]; RESP3 (ioredis' default with Redis 7) a map, flattened to [key, entries, ...].
const entriesOfRead = (reply: unknown, stream: string): ReadonlyArray<StreamEntry> => {
  if (!Array.isArray(reply)) return []
  if (typeof reply[0] === "string") {
    for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === stream) return asEntries(reply[i + 1])
    return []
  }
  for (const item of reply) if (Array.isArray(item) && item[0] === stream) return asEntries(item[1])
  return []
}

const fieldOf = (fields: ReadonlyArray<string> | null): string | undefined => {
  if (fields === null) return undefined
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === FIELD) return fields[i + 1]
  return undefined
}

/**
 * Runs a worker until interrupted; Redis connections close with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Postgres, Worker } from "@jsonflow/audit"
 * const main = Effect.scoped(Effect.gen(function* () {
 *   const store = yield* Postgres.open({ url: "postgres://postgres@127.0.0.1:5432/app" })
 *   yield* Worker.run({ store, redis: "redis://127.0.0.1:6379" })
 * }))
 * ```
 */
export const run = (
  options: WorkerOptions,
  stats: WorkerStats = { batches: 0, entries: 0, claimed: 0, deadLettered: 0, failures: 0 }
): Effect.Effect<never, WorkerError, Scope.Scope> =>
  Effect.gen(function* () {
    const stream = options.stream ?? DEFAULT_STREAM
    const group = options.group ?? "jsonflow-audit"
    const consumer = options.consumer ?? `${hostname()}-${process.pid}`
    const count = options.count ?? 20
    const blockMs = options.blockMs ?? 1_000
    const claimIdleMs = options.claimIdleMs ?? 30_000
    const redis: Redis = yield* Effect.acquireRelease(
      Effect.sync(() => client(options.redis, { blocking: true })),
      (r) => Effect.sync(() => r.disconnect())
    )
    redis.on("error", () => {})
    const call = (command: string, ...args: Array<string | number>) =>
      Effect.tryPromise({
        try: () => redis.call(command, ...args),
        catch: (error) => new WorkerError({ reason: error instanceof Error ? error.message : String(error) })
      })

    yield* call("XGROUP", "CREATE", stream, group, "0", "MKSTREAM").pipe(
      Effect.catch((error) => (error.reason.includes("BUSYGROUP") ? Effect.void : Effect.fail(error)))
    )

    const deadLetter = (reason: string, payloads: ReadonlyArray<string>) =>
      Effect.forEach(payloads, (payload) => call("XADD", `${stream}:dead`, "*", "reason", reason, FIELD, payload), {
        discard: true
      }).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            stats.deadLettered += payloads.length
          })
        )
      )

    // Writes with retry while the store is away; bisects a batch the store rejects down to the bad entry.
    const write = (entries: ReadonlyArray<Entry>): Effect.Effect<void, WorkerError> =>
      Effect.gen(function* () {
        let delay = 100
        while (true) {
          const failure = yield* options.store.write(entries).pipe(
            Effect.as(undefined),
            Effect.catch((error) => Effect.succeed(error))
          )
          if (failure === undefined) return
          stats.failures++
          if (!failure.retryable) {
            if (entries.length === 1) return yield* deadLetter(failure.reason, [JSON.stringify(entries)])
            const half = Math.ceil(entries.length / 2)
            yield* write(entries.slice(0, half))
            return yield* write(entries.slice(half))
          }
          yield* Effect.sleep(delay)
          delay = Math.min(delay * 2, 5_000)
        }
      })

    const handle = (items: ReadonlyArray<StreamEntry>, claimed: boolean) =>
      Effect.gen(function* () {
        const ids = items.map(([id]) => id)
        if (options.hooks?.afterRead) yield* Effect.promise(() => options.hooks!.afterRead!(ids))
        const entries: Array<Entry> = []
        const poison: Array<string> = []
        for (const [, fields] of items) {
          const payload = fieldOf(fields)
          if (payload === undefined) continue
          try {
            const parsed = JSON.parse(payload) as unknown
            if (Array.isArray(parsed)) entries.push(...(parsed as Array<Entry>))
            else poison.push(payload)
          } catch {
            poison.push(payload)
          }
        }
        if (poison.length > 0) yield* deadLetter("not a JSON array of entries", poison)
        yield* write(entries)
        if (options.hooks?.beforeAck) yield* Effect.promise(() => options.hooks!.beforeAck!(ids))
        yield* Effect.tryPromise({
          try: () =>
            redis
              .multi()
              .xack(stream, group, ...ids)
              .xdel(stream, ...ids)
              .exec(),
          catch: (error) => new WorkerError({ reason: String(error) })
        })
        stats.batches++
        stats.entries += entries.length
        if (claimed) stats.claimed += ids.length
        options.onBatch?.({ ids: ids.length, entries: entries.length, claimed })
      })

    let lastClaim = 0
    const step = Effect.gen(function* () {
      if (Date.now() - lastClaim >= claimIdleMs / 2) {
        lastClaim = Date.now()
        const reply = yield* call("XAUTOCLAIM", stream, group, consumer, claimIdleMs, "0-0", "COUNT", count)
        const claimed = Array.isArray(reply) ? asEntries(reply[1]) : []
        if (claimed.length > 0) {
          yield* handle(claimed, true)
          lastClaim = 0 // more may be waiting
          return
        }
      }
      const reply = yield* call(
        "XREADGROUP",
        "GROUP",
        group,
        consumer,
        "COUNT",
        count,
        "BLOCK",
        blockMs,
        "STREAMS",
        stream,
        ">"
      )
      const entries = entriesOfRead(reply, stream)
      if (entries.length > 0) yield* handle(entries, false)
    })

    // A Redis hiccup is retried; only a failure to create the group (above) ends the worker.
    return yield* step.pipe(
      Effect.catch((error) =>
        Effect.sync(() => {
          stats.failures++
          void error
        }).pipe(Effect.andThen(Effect.sleep(500)))
      ),
      Effect.forever
    )
  })
