import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Buffer, type Record, Redaction, Sink } from "@jsonflow/audit"
import type { FlowEvents } from "@jsonflow/core"
import { Effect, Fiber } from "effect"

// A sink keeping entries by event id (idempotent, like the stores), which can be switched off.
const memorySink = (name = "memory") => {
  const byId = new Map<string, Record.Entry>()
  const state = { up: true, writes: 0, poison: "" }
  const sink: Sink.Sink = {
    name,
    write: (batch) =>
      Effect.suspend(() => {
        state.writes++
        if (!state.up) return Effect.fail(new Sink.SinkError({ sink: name, reason: "down", retryable: true }))
        if (state.poison !== "" && batch.some((e) => e._tag !== "FlowRecorded" && e.eventId === state.poison)) {
          return Effect.fail(new Sink.SinkError({ sink: name, reason: "malformed", retryable: false }))
        }
        for (const e of batch) if (e._tag !== "FlowRecorded") byId.set(e.eventId, e)
        return Effect.void
      })
  }
  return { sink, byId, state }
}

const event = (i: number): FlowEvents.FlowEvent => ({
  _tag: "NodeSkipped",
  eventId: `e:${i}`,
  seq: i,
  executionId: "e",
  flowId: "f",
  flowVersion: "1",
  at: i,
  nodeId: `n${i}`,
  nodeType: "t"
})

const journalRoot = () => mkdtempSync(join(tmpdir(), "audit-journal-"))
const redactor = Redaction.make()

describe("Buffer", () => {
  it.live("spills to the journal while the sink is down and writes everything exactly once when it returns", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { sink, byId, state } = memorySink()
        const dir = journalRoot()
        state.up = false
        const channel = yield* Buffer.make(sink, redactor, {
          capacity: 10,
          batchSize: 5,
          lingerMs: 1,
          journalDir: dir,
          retry: { initialMs: 5, maxMs: 20 }
        })
        for (let i = 0; i < 200; i++) channel.offer(event(i))
        const during = channel.counters()
        assert.isAtLeast(during.spilled, 185)
        assert.isAtMost(during.buffered, 10)
        assert.strictEqual(during.dropped, 0)
        yield* Effect.sleep(50)
        assert.isTrue(channel.counters().sinkDown)
        state.up = true
        yield* channel.flush.pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(byId.size, 200)
        const after = channel.counters()
        assert.strictEqual(after.buffered, 0)
        assert.strictEqual(after.dropped, 0)
        assert.strictEqual(after.replayed, after.spilled)
        assert.deepStrictEqual(readdirSync(join(dir, "memory")), [])
      })
    )
  )

  it.live("at shutdown spills what it could not write; the next process writes it", () =>
    Effect.gen(function* () {
      const dir = journalRoot()
      const first = memorySink()
      first.state.up = false
      yield* Effect.scoped(
        Effect.gen(function* () {
          const channel = yield* Buffer.make(first.sink, redactor, {
            journalDir: dir,
            lingerMs: 1,
            shutdownTimeoutMs: 100,
            retry: { initialMs: 5, maxMs: 10 }
          })
          for (let i = 0; i < 50; i++) channel.offer(event(i))
          yield* Effect.sleep(30)
        })
      )
      assert.strictEqual(first.byId.size, 0)
      const spilled = readdirSync(join(dir, "memory")).filter((f) => f.endsWith(".jsonl"))
      assert.isAbove(spilled.length, 0)
      const second = memorySink()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const channel = yield* Buffer.make(second.sink, redactor, { journalDir: dir, lingerMs: 1 })
          yield* channel.flush.pipe(Effect.timeout("10 seconds"))
        })
      )
      assert.strictEqual(second.byId.size, 50)
    })
  )

  it.live("spilled entries are redacted on disk", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { sink, state } = memorySink()
        state.up = false
        const dir = journalRoot()
        const channel = yield* Buffer.make(sink, redactor, { capacity: 1, journalDir: dir, lingerMs: 1 })
        for (let i = 0; i < 5; i++) {
          channel.offer({
            _tag: "NodeStarted",
            eventId: `e:${i}`,
            seq: i,
            executionId: "e",
            flowId: "f",
            flowVersion: "1",
            at: i,
            nodeId: "n",
            nodeType: "t",
            attempt: 1,
            input: { password: "s3cr3t-pw" }
          })
        }
        yield* Effect.sleep(50)
        const files = readdirSync(join(dir, "memory"))
        const text = files.map((f) => readFileSync(join(dir, "memory", f), "utf8")).join("")
        assert.include(text, "[REDACTED]")
        assert.notInclude(text, "s3cr3t-pw")
        state.up = true
        yield* channel.flush.pipe(Effect.timeout("10 seconds"))
      })
    )
  )

  it.live("drop counts what it drops; block makes admission wait for room", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dropping = memorySink("dropping")
        dropping.state.up = false
        const drop = yield* Buffer.make(dropping.sink, redactor, {
          capacity: 5,
          onFull: "drop",
          journalDir: journalRoot(),
          shutdownTimeoutMs: 10
        })
        for (let i = 0; i < 20; i++) drop.offer(event(i))
        assert.isAtLeast(drop.counters().dropped, 14)

        const blocking = memorySink("blocking")
        blocking.state.up = false
        const block = yield* Buffer.make(blocking.sink, redactor, {
          capacity: 5,
          onFull: "block",
          lingerMs: 1,
          journalDir: journalRoot(),
          retry: { initialMs: 5, maxMs: 10 }
        })
        for (let i = 0; i < 20; i++) block.offer(event(i))
        assert.strictEqual(block.counters().spilled, 0)
        const admitted = yield* Effect.forkChild(block.awaitRoom)
        yield* Effect.sleep(30)
        assert.isUndefined(admitted.pollUnsafe())
        blocking.state.up = true
        yield* Fiber.join(admitted).pipe(Effect.timeout("5 seconds"))
        yield* block.flush.pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(blocking.byId.size, 20)
        assert.strictEqual(block.counters().dropped, 0)
      })
    )
  )

  it.live("keeps an entry the sink rejects as malformed in the dead-letter file, and writes the rest", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { sink, byId, state } = memorySink()
        state.poison = "e:7"
        const dir = journalRoot()
        const channel = yield* Buffer.make(sink, redactor, { journalDir: dir, lingerMs: 1 })
        for (let i = 0; i < 20; i++) channel.offer(event(i))
        yield* channel.flush.pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(byId.size, 19)
        assert.strictEqual(channel.counters().deadLettered, 1)
        assert.include(readFileSync(join(dir, "memory", "dead-letter.jsonl"), "utf8"), '"eventId":"e:7"')
      })
    )
  )
})
