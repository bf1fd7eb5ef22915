/**
 * The Redis layer of {@link IdempotencyStore}: one key per flow and idempotency key,
 * `<prefix>:idempotency:<flow id>:<sha256 of the key>`, holding the record as JSON with a TTL. A claim is
 * `SET NX PX` (with the read of a held record in the same script, so a claim never sees a key vanish in
 * between); completing and releasing compare the claim's owner token first, so a claim that expired and was
 * taken by another replica is never overwritten. Replicas sharing the Redis share the keys.
 *
 * @module redis
 */
import { createHash } from "node:crypto"
import { Validation } from "@jsonflow/core"
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { IdempotencyStoreError } from "./IdempotencyError.ts"
import { type Claim, IdempotencyRecord, IdempotencyStore, type ScopedKey } from "./IdempotencyStore.ts"

// Returns nil when the claim was set, else the record that holds the key.
const CLAIM = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
return redis.call('GET', KEYS[1])`

// Acts only while the key holds a Pending claim of this owner (ARGV[1]).
const OWNED = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, record = pcall(cjson.decode, v)
if not ok or record._tag ~= 'Pending' or record.owner ~= ARGV[1] then return 0 end
`
const COMPLETE = `${OWNED}redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`
const RELEASE = `${OWNED}redis.call('DEL', KEYS[1])
return 1`

/** Options of {@link layerRedis}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. */
  readonly url: string
  /** Key prefix (the runner's `redis.prefix`). */
  readonly prefix: string
}

/**
 * The store on Redis; the connection opens on first use and closes with the layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * const program = IdempotencyStore.use((store) => store.get({ flowId: "orders", key: "k1" })).pipe(
 *   Effect.provide(layerRedis({ url: "redis://127.0.0.1:6379", prefix: "jsonflow" }))
 * )
 * ```
 */
export const layerRedis = (options: RedisStoreOptions): Layer.Layer<IdempotencyStore> =>
  Layer.effect(
    IdempotencyStore,
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 })
          client.on("error", () => {}) // reported by the command that fails
          return client
        }),
        (client) =>
          Effect.promise(() =>
            client.quit().then(
              () => undefined,
              () => client.disconnect()
            )
          )
      )
      const keyOf = (key: ScopedKey) =>
        `${options.prefix}:idempotency:${key.flowId}:${createHash("sha256").update(key.key).digest("base64url")}`
      const command = <A>(operation: string, run: () => Promise<A>) =>
        Effect.tryPromise({
          try: run,
          catch: (error) =>
            new IdempotencyStoreError({ operation, reason: error instanceof Error ? error.message : String(error) })
        })
      const parse = (operation: string, text: string) => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = text
        }
        const decoded = Validation.decode(IdempotencyRecord, json)
        return decoded._tag === "Valid"
          ? Effect.succeed(decoded.value)
          : Effect.fail(
              new IdempotencyStoreError({
                operation,
                reason: `the stored record is not one this runner reads: ${decoded.issues[0]?.message ?? "invalid"}`
              })
            )
      }
      return IdempotencyStore.of({
        name: "redis",
        claim: (key, pending, ttlMs) =>
          Effect.flatMap(
            command("claim", () => redis.eval(CLAIM, 1, keyOf(key), JSON.stringify(pending), String(ttlMs))),
            (held): Effect.Effect<Claim, IdempotencyStoreError> =>
              typeof held === "string"
                ? Effect.map(parse("claim", held), (record) => ({ _tag: "Held", record }))
                : Effect.succeed({ _tag: "Claimed" })
          ),
        get: (key) =>
          Effect.flatMap(
            command("get", () => redis.get(keyOf(key))),
            (text) => (text === null ? Effect.succeed(undefined) : parse("get", text))
          ),
        complete: (key, owner, completed, ttlMs) =>
          Effect.map(
            command("complete", () =>
              redis.eval(COMPLETE, 1, keyOf(key), owner, JSON.stringify(completed), String(ttlMs))
            ),
            (done) => done === 1
          ),
        release: (key, owner) => Effect.asVoid(command("release", () => redis.eval(RELEASE, 1, keyOf(key), owner)))
      })
    })
  )
