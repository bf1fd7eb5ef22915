import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Redis } from "ioredis"
import { afterAll } from "vitest"
import * as Config from "../src/Config.ts"
import type { FlowEntry } from "../src/internal/flowTable.ts"
import * as Logger from "../src/ops/logger.ts"
import * as Metrics from "../src/ops/metrics.ts"
import { type CronDeps, parseSchedule, scheduleLoop } from "../src/triggers/cron.ts"
import { describeWith, dropRedisKeys, redisUrl } from "./support.ts"

const entryOf = (schedule: string, timezone?: string, skipOverlap = true): FlowEntry => {
  const ir = {
    id: `cron-${randomUUID().slice(0, 8)}`,
    version: "1",
    trigger: { type: "cron" as const, schedule, ...(timezone ? { timezone } : {}) },
    nodes: {},
    edges: []
  }
  return {
    id: ir.id,
    version: "1",
    kind: "json",
    source: "test",
    ir,
    environment: "json",
    checkInput: undefined,
    limits: { ...Config.limitsOf(Config.resolve({}), ir.id), skipOverlap },
    queue: undefined,
    run: () => Effect.die("not used")
  }
}

const depsWith = (fired: Array<string>, runMs = 0, extra: Partial<CronDeps> = {}): CronDeps => ({
  fire: (_entry, tick) => {
    fired.push(tick.scheduledAt.toISOString())
    return runMs === 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, runMs))
  },
  logger: Logger.silent,
  metrics: Metrics.runnerMetrics(),
  ...extra
})

describe("cron trigger (TestClock)", () => {
  it.effect("fires at each matching minute in the flow's time zone", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-07-01T06:58:30Z"))
      const fired: Array<string> = []
      // 09:00 in Paris is 07:00 UTC in July.
      const fiber = yield* Effect.forkChild(scheduleLoop(entryOf("0 9 * * *", "Europe/Paris"), depsWith(fired)))
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(fired, ["2026-07-01T07:00:00.000Z"])
      yield* TestClock.adjust("1 day")
      assert.deepStrictEqual(fired, ["2026-07-01T07:00:00.000Z", "2026-07-02T07:00:00.000Z"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.effect("six fields: every 10 seconds", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const fired: Array<string> = []
      const fiber = yield* Effect.forkChild(scheduleLoop(entryOf("*/10 * * * * *", undefined, false), depsWith(fired)))
      yield* TestClock.adjust("35 seconds")
      assert.deepStrictEqual(fired, [
        "2026-01-01T00:00:10.000Z",
        "2026-01-01T00:00:20.000Z",
        "2026-01-01T00:00:30.000Z"
      ])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("skips a tick while the previous run still goes (skip-overlap)", () =>
    Effect.gen(function* () {
      const fired: Array<string> = []
      const metrics = Metrics.runnerMetrics()
      // Every second, each run lasting 1.5 s: runs at t1, skip t2, run t3 ...
      const fiber = yield* Effect.forkChild(
        scheduleLoop(entryOf("* * * * * *"), { ...depsWith(fired, 1_500), metrics })
      )
      yield* Effect.sleep("3200 millis")
      yield* Fiber.interrupt(fiber)
      const text = yield* Effect.promise(() => metrics.registry.render())
      assert.isAtLeast(fired.length, 1)
      assert.isAtMost(fired.length, 2)
      assert.match(text, /outcome="skipped-overlap"\} [1-9]/)
    })
  )

  it("rejects a bad schedule or time zone with a reason", () => {
    const bad = parseSchedule("61 * * * *", undefined)
    assert.strictEqual(bad._tag, "Failure")
    assert.strictEqual(parseSchedule("0 9 * * *", "Mars/Olympus")._tag, "Failure")
  })
})

describeWith(["redis"], "cron once across replicas (Redis claim)", () => {
  const redis = new Redis(redisUrl, { lazyConnect: true })
  const prefix = `jsonflow-test:${randomUUID()}`
  afterAll(async () => {
    await dropRedisKeys(redis, prefix)
  })

  it.live("two replicas on the same schedule: each tick runs once", () =>
    Effect.gen(function* () {
      const fired: Array<string> = []
      const claim = async (key: string, ttl: number) =>
        (await redis.set(`${prefix}:${key}`, "1", "PX", ttl, "NX")) === "OK"
      const release = async (key: string) => {
        await redis.del(`${prefix}:${key}`)
      }
      const entry = entryOf("* * * * * *")
      const a = yield* Effect.forkChild(scheduleLoop(entry, depsWith(fired, 10, { claim, release })))
      const b = yield* Effect.forkChild(scheduleLoop(entry, depsWith(fired, 10, { claim, release })))
      yield* Effect.sleep("2600 millis")
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      assert.isAtLeast(fired.length, 2)
      assert.strictEqual(new Set(fired).size, fired.length, `a tick ran twice: ${fired.join(", ")}`)
    })
  )
})
