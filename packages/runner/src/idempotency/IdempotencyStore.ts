/**
 * The store of idempotency keys: per flow and key, either a `Pending` claim (an execution holds the key) or
 * the `Completed` reply to replay. {@link IdempotencyStoreShape.claim} is atomic, so of any number of
 * concurrent requests with one key exactly one wins, across every replica that shares the store.
 *
 * Two layers: {@link layerMemory} (one process; the default without Redis) and `layerRedis` in
 * `./redis.ts` (`SET NX PX` claims, compare-and-set completion; what replicas share).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdempotencyStore } from "./IdempotencyStore.ts"
 * const program = Effect.gen(function* () {
 *   const store = yield* IdempotencyStore
 *   const claim = yield* store.claim({ flowId: "orders", key: "k1" }, pending, 30_000)
 *   if (claim._tag === "Claimed") yield* store.complete({ flowId: "orders", key: "k1" }, pending.owner, done, 86_400_000)
 * }).pipe(Effect.provide(IdempotencyStore.layerMemory))
 * ```
 *
 * @module IdempotencyStore
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import type { IdempotencyStoreError } from "./IdempotencyError.ts"

/** A reply as it is replayed: status, headers, body bytes as base64. */
export const StoredReply = Schema.Struct({
  status: Schema.Int,
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.String
})
export type StoredReply = typeof StoredReply.Type

/** An execution holds the key; `owner` is the claim's token (only its holder completes or releases it). */
export const Pending = Schema.TaggedStruct("Pending", {
  fingerprint: Schema.String,
  executionId: Schema.String,
  owner: Schema.String,
  startedAt: Schema.Number
})
export type Pending = typeof Pending.Type

/** The first execution finished; `reply` is absent when it was larger than the configured limit. */
export const Completed = Schema.TaggedStruct("Completed", {
  fingerprint: Schema.String,
  executionId: Schema.String,
  reply: Schema.optionalKey(StoredReply),
  completedAt: Schema.Number
})
export type Completed = typeof Completed.Type

/** What a key holds. */
export const IdempotencyRecord = Schema.Union([Pending, Completed])
export type IdempotencyRecord = typeof IdempotencyRecord.Type

/** A key is scoped by its flow: the same key sent to two flows is two keys. */
export interface ScopedKey {
  readonly flowId: string
  readonly key: string
}

/** The outcome of a claim: won, or the record that holds the key. */
export type Claim = { readonly _tag: "Claimed" } | { readonly _tag: "Held"; readonly record: IdempotencyRecord }

/** The store's operations. */
export interface IdempotencyStoreShape {
  readonly name: "memory" | "redis"
  /** Sets `pending` for `ttlMs` unless the key holds a record (atomically); otherwise answers that record. */
  readonly claim: (key: ScopedKey, pending: Pending, ttlMs: number) => Effect.Effect<Claim, IdempotencyStoreError>
  readonly get: (key: ScopedKey) => Effect.Effect<IdempotencyRecord | undefined, IdempotencyStoreError>
  /** Replaces the claim of `owner` by `completed` for `ttlMs`; `false` when the claim is no longer its own. */
  readonly complete: (
    key: ScopedKey,
    owner: string,
    completed: Completed,
    ttlMs: number
  ) => Effect.Effect<boolean, IdempotencyStoreError>
  /** Drops the claim of `owner` (the execution failed: a retry may run); a no-op when it is not its own. */
  readonly release: (key: ScopedKey, owner: string) => Effect.Effect<void, IdempotencyStoreError>
}

/** The idempotency key store of the runner. */
export class IdempotencyStore extends Context.Service<IdempotencyStore, IdempotencyStoreShape>()(
  "@jsonflow/runner/IdempotencyStore"
) {
  /**
   * Keys in this process's memory: right for one replica; replicas that do not share a store each run a
   * repeated key once. Expired keys are dropped as they are met and by a sweep every minute.
   */
  static readonly layerMemory: Layer.Layer<IdempotencyStore> = Layer.effect(
    IdempotencyStore,
    Effect.gen(function* () {
      const entries = new Map<string, { record: IdempotencyRecord; expiresAt: number }>()
      const id = (key: ScopedKey) => `${key.flowId}\u0000${key.key}`
      const live = (name: string, now: number) => {
        const entry = entries.get(name)
        if (entry === undefined) return undefined
        if (entry.expiresAt <= now) {
          entries.delete(name)
          return undefined
        }
        return entry
      }
      const sweep = setInterval(() => {
        const now = Date.now()
        for (const [name, entry] of entries) if (entry.expiresAt <= now) entries.delete(name)
      }, 60_000)
      sweep.unref()
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sweep)))
      const ownedBy = (name: string, owner: string, now: number) => {
        const record = live(name, now)?.record
        return record?._tag === "Pending" && record.owner === owner
      }
      return IdempotencyStore.of({
        name: "memory",
        claim: (key, pending, ttlMs) =>
          Effect.map(Clock.currentTimeMillis, (now): Claim => {
            const held = live(id(key), now)
            if (held) return { _tag: "Held", record: held.record }
            entries.set(id(key), { record: pending, expiresAt: now + ttlMs })
            return { _tag: "Claimed" }
          }),
        get: (key) => Effect.map(Clock.currentTimeMillis, (now) => live(id(key), now)?.record),
        complete: (key, owner, completed, ttlMs) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            if (!ownedBy(id(key), owner, now)) return false
            entries.set(id(key), { record: completed, expiresAt: now + ttlMs })
            return true
          }),
        release: (key, owner) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            if (ownedBy(id(key), owner, now)) entries.delete(id(key))
          })
      })
    })
  )
}
