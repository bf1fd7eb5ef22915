/**
 * The `IdempotencyStore` contract, run against both layers: the memory layer and the Redis layer on a real
 * Redis. One claim of many concurrent ones wins; a held key answers its record; only the claim's owner
 * completes or releases it; keys expire; keys are scoped per flow.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { Redis } from "ioredis"
import { afterAll } from "vitest"
import { type Completed, IdempotencyStore, type Pending, type ScopedKey } from "../src/idempotency/IdempotencyStore.ts"
import { layerRedis } from "../src/idempotency/redis.ts"
import { describeWith, dropRedisKeys, redisUrl } from "./support.ts"

const pending = (owner: string): Pending => ({
  _tag: "Pending",
  fingerprint: "fp",
  executionId: `exec-${owner}`,
  owner,
  startedAt: Date.now()
})
const completed = (executionId: string): Completed => ({
  _tag: "Completed",
  fingerprint: "fp",
  executionId,
  reply: { status: 201, headers: { "x-a": "1" }, body: Buffer.from("{}").toString("base64") },
  completedAt: Date.now()
})

const contract = (name: string, layer: Layer.Layer<IdempotencyStore>) =>
  describe(name, () => {
    const key = (): ScopedKey => ({ flowId: "orders", key: randomUUID() })

    it.live("of 20 concurrent claims exactly one wins; the others see its record", () =>
      Effect.gen(function* () {
        const store = yield* IdempotencyStore
        const k = key()
        const claims = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => pending(`o${i}`)),
          (p) => store.claim(k, p, 10_000),
          { concurrency: "unbounded" }
        )
        const won = claims.filter((c) => c._tag === "Claimed")
        assert.strictEqual(won.length, 1)
        const winner = claims.findIndex((c) => c._tag === "Claimed")
        for (const c of claims)
          if (c._tag === "Held") {
            assert.strictEqual(c.record._tag, "Pending")
            assert.strictEqual(c.record.executionId, `exec-o${winner}`)
          }
      }).pipe(Effect.provide(layer))
    )

    it.live("only the owner completes or releases; the completed record is what a claim then sees", () =>
      Effect.gen(function* () {
        const store = yield* IdempotencyStore
        const k = key()
        assert.strictEqual((yield* store.claim(k, pending("a"), 10_000))._tag, "Claimed")
        assert.isFalse(yield* store.complete(k, "intruder", completed("exec-x"), 10_000))
        yield* store.release(k, "intruder")
        assert.strictEqual((yield* store.get(k))?._tag, "Pending")
        assert.isTrue(yield* store.complete(k, "a", completed("exec-a"), 10_000))
        const held = yield* store.claim(k, pending("b"), 10_000)
        assert.strictEqual(held._tag, "Held")
        if (held._tag === "Held" && held.record._tag === "Completed") {
          assert.deepStrictEqual(held.record.reply?.headers, { "x-a": "1" })
          assert.strictEqual(held.record.executionId, "exec-a")
        } else assert.fail("expected the completed record")
        // A completed key is no longer a claim: its former owner cannot release it.
        yield* store.release(k, "a")
        assert.strictEqual((yield* store.get(k))?._tag, "Completed")
      }).pipe(Effect.provide(layer))
    )

    it.live("a released claim can be claimed again; keys are scoped per flow; claims expire", () =>
      Effect.gen(function* () {
        const store = yield* IdempotencyStore
        const k = key()
        assert.strictEqual((yield* store.claim(k, pending("a"), 10_000))._tag, "Claimed")
        assert.strictEqual((yield* store.claim({ ...k, flowId: "other" }, pending("z"), 10_000))._tag, "Claimed")
        yield* store.release(k, "a")
        assert.strictEqual(yield* store.get(k), undefined)
        assert.strictEqual((yield* store.claim(k, pending("b"), 60))._tag, "Claimed")
        yield* Effect.sleep("120 millis")
        assert.strictEqual(yield* store.get(k), undefined)
        assert.strictEqual((yield* store.claim(k, pending("c"), 10_000))._tag, "Claimed")
      }).pipe(Effect.provide(layer))
    )
  })

contract("memory layer", IdempotencyStore.layerMemory)

describeWith(["redis"], "redis layer", () => {
  const prefix = `jsonflow-test-${randomUUID().slice(0, 8)}`
  afterAll(async () => {
    const redis = new Redis(redisUrl)
    await dropRedisKeys(redis, prefix)
  })
  contract("on a real Redis", layerRedis({ url: redisUrl, prefix }))

  it.live("a record it cannot read is a typed IdempotencyStoreError", () =>
    Effect.gen(function* () {
      const redis = new Redis(redisUrl)
      const k = { flowId: "corrupt", key: "k" }
      const store = yield* IdempotencyStore
      // Find the key the layer uses by claiming, then overwrite it.
      yield* store.claim(k, pending("a"), 10_000)
      const [name] = yield* Effect.promise(() => redis.keys(`${prefix}:idempotency:corrupt:*`))
      yield* Effect.promise(() => redis.set(name!, "not json"))
      const error = yield* Effect.flip(store.get(k))
      assert.strictEqual(error._tag, "IdempotencyStoreError")
      assert.include(error.message, "get failed")
      yield* Effect.promise(() => redis.quit())
    }).pipe(Effect.provide(layerRedis({ url: redisUrl, prefix })))
  )
})
