/**
 * The engine's less travelled paths: jittered retries, snapshot policies, traces closed on timeout and
 * interruption, `startAt`, long synchronous stretches, and the small built-ins (fail, delay, noop, filter).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import type { FlowEvent } from "../src/FlowEvents.ts"
import { Builtins, Compiler, FlowEvents, Node, Registry } from "../src/index.ts"

const edge = (from: string, to: string, fromPort = "out", toPort = "in") => ({
  from: { node: from, port: fromPort },
  to: { node: to, port: toPort }
})
const flowOf = (
  nodes: Record<string, unknown>,
  edges: ReadonlyArray<unknown>,
  extra: Record<string, unknown> = {}
) => ({
  id: "edges",
  version: "1",
  trigger: { type: "manual" },
  nodes,
  edges,
  ...extra
})
const compileOrDie = <R>(flow: unknown, registry: Registry.Registry<R>) => {
  const outcome = Compiler.compileSync(flow, registry)
  if (outcome._tag === "Failed") throw new Error(outcome.error.message)
  return outcome.flow
}
const tags = (events: ReadonlyArray<FlowEvent>) =>
  events.map((e) => ("nodeId" in e ? `${e._tag}:${e.nodeId}` : "status" in e ? `${e._tag}:${e.status}` : e._tag))

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { retryable: Schema.Boolean }) {}

const blocker = (started: Deferred.Deferred<void>) =>
  Node.define({
    type: "blocker",
    input: Schema.Unknown,
    output: Schema.Unknown,
    run: () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
  })

describe("engine: retries and time", () => {
  it.effect("jitters the backoff by default: the wait is a random share of the exponential delay", () =>
    Effect.gen(function* () {
      const calls = { n: 0 }
      const flaky = Node.define({
        type: "flaky",
        input: Schema.Unknown,
        output: Schema.Unknown,
        run: (input) =>
          Effect.suspend(() => (calls.n++ < 1 ? Effect.fail(new Flaky({ retryable: true })) : Effect.succeed(input)))
      })
      const flow = compileOrDie(
        flowOf({ f: { type: "flaky", retry: { maxAttempts: 2, initialDelayMs: 1000 } } }, [edge("$input", "f")]),
        Registry.make(flaky)
      )
      // The same seed gives the engine the same draw: full jitter waits round(1000 * r).
      const r = yield* Random.next.pipe(Random.withSeed("jitter"))
      const wait = Math.round(1000 * r)
      assert.isTrue(wait > 0 && wait < 1000, `a jittered wait below the 1000 ms delay (got ${wait})`)
      const fiber = yield* Effect.forkChild(flow.run("x").pipe(Random.withSeed("jitter")))
      yield* TestClock.adjust(wait - 1)
      assert.strictEqual(calls.n, 1, "not retried before the jittered wait")
      yield* TestClock.adjust(1)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(calls.n, 2)
      assert.deepStrictEqual(result.output, { f: "x" })
    })
  )

  it.effect("delay waits its `ms`, then passes the input on", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(
        flowOf({ d: { type: "delay", config: { ms: 500 } } }, [edge("$input", "d")]),
        Builtins.registry
      )
      const fiber = yield* Effect.forkChild(flow.run({ v: 1 }))
      yield* TestClock.adjust(499)
      assert.isUndefined(fiber.pollUnsafe(), "still waiting at 499 ms")
      yield* TestClock.adjust(1)
      assert.deepStrictEqual((yield* Fiber.join(fiber)).output, { d: { v: 1 } })
    })
  )

  it.effect("a flow timeout closes the trace of the node it stopped (NodeFailed, FlowTimeout)", () =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf({ d: { type: "delay", config: { ms: 10_000 } } }, [edge("$input", "d")], {
          settings: { timeoutMs: 50 }
        }),
        Builtins.registry
      )
      const fiber = yield* Effect.forkChild(Effect.flip(flow.run(1, { executionId: "t1" }).pipe(Effect.provide(layer))))
      yield* TestClock.adjust(50)
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "FlowTimeout")
      const trace = recorder.trace("t1")
      assert.deepStrictEqual(tags(trace), [
        "ExecutionStarted",
        "NodeStarted:d",
        "NodeFailed:d",
        "ExecutionFinished:failed"
      ])
      const closed = trace[2]!
      assert.strictEqual(closed._tag === "NodeFailed" && closed.error._tag, "FlowTimeout")
      assert.strictEqual(closed._tag === "NodeFailed" && closed.willRetry, false)
      assert.strictEqual(closed._tag === "NodeFailed" && closed.attempt, 1)
    })
  )

  it.effect("interrupting an execution closes the trace of its running nodes (NodeFailed, Interrupted)", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf({ b: { type: "blocker" } }, [edge("$input", "b")]),
        Registry.make(blocker(started))
      )
      const fiber = yield* Effect.forkChild(flow.run(1, { executionId: "i1" }).pipe(Effect.provide(layer)))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(tags(recorder.trace("i1")), [
        "ExecutionStarted",
        "NodeStarted:b",
        "NodeFailed:b",
        "ExecutionFinished:interrupted"
      ])
      const closed = recorder.trace("i1")[2]!
      assert.strictEqual(closed._tag === "NodeFailed" && closed.error._tag, "Interrupted")
    })
  )

  it.effect("a node failing while another runs: the execution fails, the other's trace is closed", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const { layer, recorder } = FlowEvents.layerMemory()
      const registry = Registry.merge(Builtins.registry, Registry.make(blocker(started)))
      const flow = compileOrDie(
        flowOf({ b: { type: "blocker" }, boom: { type: "fail", config: { code: "E1", message: "no" } } }, [
          edge("$input", "b"),
          edge("$input", "boom")
        ]),
        registry
      )
      const error = yield* Effect.flip(flow.run(1, { executionId: "s1" }).pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag === "NodeFailed" && error.nodeId, "boom")
      const trace = recorder.trace("s1")
      const closed = trace.find((e) => e._tag === "NodeFailed" && e.nodeId === "b")
      assert.strictEqual(closed?._tag === "NodeFailed" && closed.error._tag, "Interrupted")
      assert.match(closed?._tag === "NodeFailed" ? closed.error.message : "", /failed at node "boom"/)
      assert.strictEqual(trace.at(-1)?._tag, "ExecutionFinished")
    })
  )

  it.effect("a long synchronous stretch still yields: interruption stops a loop of pure nodes", () =>
    Effect.gen(function* () {
      const again = Node.define({
        type: "again",
        input: Schema.Number,
        outputs: { again: Schema.Number },
        run: (n) => Effect.succeed({ port: "again", value: n + 1 })
      })
      const flow = compileOrDie(
        flowOf({ c: { type: "again" } }, [edge("$input", "c"), edge("c", "c", "again")], {
          settings: { allowCycles: true, maxSteps: 100_000_000 }
        }),
        Registry.make(again)
      )
      const fiber = yield* Effect.forkChild(flow.run(0))
      yield* Effect.yieldNow
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.hasInterrupts(exit), "interrupted long before 10^8 steps")
    })
  )
})

describe("engine: snapshots and startAt", () => {
  const snapshotsOf = (policy: "none" | "metadata" | "full") =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory({ snapshots: policy })
      const flow = compileOrDie(
        flowOf(
          { a: { type: "noop" }, s: { type: "map", config: { fields: { name: "name" } } } },
          [edge("$input", "a"), edge("a", "s")],
          { output: { node: "s", port: "out" } }
        ),
        Builtins.registry
      )
      const result = yield* flow.run({ name: "Ada", tags: [1, 2, 3] }).pipe(Effect.provide(layer))
      return recorder.trace(result.executionId)
    })

  it.effect("none: no input or output in any event; the policy is on ExecutionStarted", () =>
    Effect.gen(function* () {
      const trace = yield* snapshotsOf("none")
      for (const event of trace) {
        assert.isFalse("input" in event, `${event._tag} has no input`)
        assert.isFalse("output" in event, `${event._tag} has no output`)
      }
      assert.strictEqual(trace[0]?._tag === "ExecutionStarted" && trace[0].snapshots, "none")
    })
  )

  it.effect("metadata: types and sizes only, never the values", () =>
    Effect.gen(function* () {
      const trace = yield* snapshotsOf("metadata")
      const started = trace.find((e) => e._tag === "NodeStarted" && e.nodeId === "a")
      assert.deepStrictEqual(started?._tag === "NodeStarted" && started.input, { type: "object" })
      const finished = trace.at(-1)
      assert.deepStrictEqual(finished?._tag === "ExecutionFinished" && finished.output, { type: "object" })
      assert.notInclude(JSON.stringify(trace), "Ada")
      assert.strictEqual(trace[0]?._tag === "ExecutionStarted" && trace[0].snapshots, "metadata")
    })
  )

  it.effect("metadata of arrays and strings carries their length", () =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory({ snapshots: "metadata" })
      const flow = compileOrDie(
        flowOf({ a: { type: "noop" }, b: { type: "map", config: { fields: { n: "name" } } } }, [
          edge("$input", "a"),
          edge("$input", "b")
        ]),
        Builtins.registry
      )
      const result = yield* flow.run(["x", "y"]).pipe(Effect.provide(layer))
      const started = recorder.trace(result.executionId).find((e) => e._tag === "NodeStarted")
      assert.deepStrictEqual(started?._tag === "NodeStarted" && started.input, { type: "array", length: 2 })
      const text = yield* compileOrDie(flowOf({ a: { type: "noop" } }, [edge("$input", "a")]), Builtins.registry)
        .run("hello")
        .pipe(Effect.provide(layer))
      const succeeded = recorder.trace(text.executionId).find((e) => e._tag === "NodeSucceeded")
      assert.deepStrictEqual(succeeded?._tag === "NodeSucceeded" && succeeded.output, { type: "string", length: 5 })
    })
  )

  it.effect("startAt an unknown node fails with a typed InputInvalid naming it", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(flowOf({ a: { type: "noop" } }, [edge("$input", "a")]), Builtins.registry)
      const error = yield* Effect.flip(flow.run(1, { startAt: { nodeId: "zzz", input: 1 } }))
      assert.strictEqual(error._tag, "InputInvalid")
      assert.strictEqual(error._tag === "InputInvalid" && error.nodeId, "zzz")
      assert.match(error.message, /startAt names node "zzz"/)
      const fromA = yield* flow.run(1, { startAt: { nodeId: "a", input: "given" } })
      assert.deepStrictEqual(fromA.output, { a: "given" })
    })
  )
})

describe("built-ins", () => {
  it.effect("fail ends the execution with a FlowFailure carrying its code and message", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(
        flowOf({ stop: { type: "fail", config: { code: "OUT_OF_STOCK", message: "sku 42 is gone" } } }, [
          edge("$input", "stop")
        ]),
        Builtins.registry
      )
      const error = yield* Effect.flip(flow.run(1))
      assert.strictEqual(error._tag, "NodeFailed")
      if (error._tag !== "NodeFailed") return
      assert.strictEqual(error.nodeId, "stop")
      assert.strictEqual(error.error._tag, "FlowFailure")
      assert.strictEqual(error.error.message, "OUT_OF_STOCK: sku 42 is gone")
      assert.strictEqual(error.error.retryable, false)
    })
  )

  it.effect("fail with an error edge is caught like any failure", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(
        flowOf(
          {
            stop: { type: "fail", config: { code: "E", message: "m", retryable: true } },
            caught: { type: "map", config: { fields: { tag: "error._tag", retryable: "error.retryable" } } }
          },
          [edge("$input", "stop"), edge("stop", "caught", "error")]
        ),
        Builtins.registry
      )
      assert.deepStrictEqual((yield* flow.run(1)).output, { caught: { tag: "FlowFailure", retryable: true } })
    })
  )

  it.effect("noop passes its input through unchanged", () =>
    Effect.gen(function* () {
      const value = { a: [1, { b: null }] }
      const flow = compileOrDie(flowOf({ n: { type: "noop" } }, [edge("$input", "n")]), Builtins.registry)
      const result = yield* flow.run(value)
      assert.strictEqual((result.output as { n: unknown }).n, value, "the same value, not a copy")
    })
  )

  it.effect("filter sends the non-matching elements to `rejected`, and routes a single value to one port", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(
        flowOf(
          {
            big: { type: "filter", config: { where: { path: "n", op: "gt", value: 10 } } },
            kept: { type: "noop" },
            dropped: { type: "noop" }
          },
          [edge("$input", "big"), edge("big", "kept"), edge("big", "dropped", "rejected")]
        ),
        Builtins.registry
      )
      const many = yield* flow.run([{ n: 5 }, { n: 50 }, { n: 11 }, { n: 10 }])
      assert.deepStrictEqual(many.output, { kept: [{ n: 50 }, { n: 11 }], dropped: [{ n: 5 }, { n: 10 }] })
      const { layer, recorder } = FlowEvents.layerMemory()
      const one = yield* flow.run({ n: 3 }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(one.output, { dropped: { n: 3 } })
      assert.include(tags(recorder.trace(one.executionId)), "NodeSkipped:kept")
    })
  )
})
