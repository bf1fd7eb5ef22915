import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Schema } from "effect"
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
  id: "test",
  version: "1",
  trigger: { type: "manual" },
  nodes,
  edges,
  ...extra
})

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { retryable: Schema.Boolean }) {}

/** A node whose behaviour is driven by a test-controlled script of outcomes. */
const scripted = (outcomes: Array<"ok" | "retryable" | "fatal" | "die">, calls: { n: number }) =>
  Node.define({
    type: "scripted",
    input: Schema.Unknown,
    output: Schema.Unknown,
    run: (input) =>
      Effect.suspend(() => {
        const outcome = outcomes[calls.n++] ?? "ok"
        if (outcome === "retryable") return Effect.fail(new Flaky({ retryable: true }))
        if (outcome === "fatal") return Effect.fail(new Flaky({ retryable: false }))
        if (outcome === "die") return Effect.die(new Error("kaboom"))
        return Effect.succeed(input)
      })
  })

const sleepy = Node.define({
  type: "sleepy",
  config: Schema.Struct({ ms: Schema.Number }),
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input, config) => Effect.as(Effect.sleep(config.ms), input)
})

const compileOrDie = <R>(flow: unknown, registry: Registry.Registry<R>, options?: Compiler.CompileOptions) => {
  const outcome = Compiler.compileSync(flow, registry, options)
  if (outcome._tag === "Failed") throw new Error(outcome.error.message)
  return outcome.flow
}

const traceOf = (events: ReadonlyArray<FlowEvent>) =>
  events.map((e) => ("nodeId" in e ? `${e._tag}:${e.nodeId}` : e._tag)).filter((t) => !t.startsWith("Execution"))

describe("engine", () => {
  it.effect("runs a linear flow and reports a full trace", () =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf(
          {
            a: { type: "map", config: { fields: { x: "value" } } },
            b: { type: "map", config: { fields: { y: "x", tag: { value: "done" } } } }
          },
          [edge("$input", "a"), edge("a", "b")]
        ),
        Builtins.registry
      )
      const result = yield* flow.run({ value: 7 }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(result.output, { b: { y: 7, tag: "done" } })
      assert.strictEqual(result.steps, 2)
      const events = recorder.trace(result.executionId)
      assert.deepStrictEqual(traceOf(events), ["NodeStarted:a", "NodeSucceeded:a", "NodeStarted:b", "NodeSucceeded:b"])
      assert.deepStrictEqual(
        events.map((e) => e.seq),
        events.map((_, i) => i)
      )
      const finished = events.at(-1)!
      assert.strictEqual(finished._tag, "ExecutionFinished")
      assert.strictEqual(finished._tag === "ExecutionFinished" && finished.status, "succeeded")
    })
  )

  it.effect("skips the branch a switch did not take and joins what ran", () =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf(
          {
            route: {
              type: "switch",
              config: { cases: [{ port: "big", when: { path: "amount", op: "gte", value: 100 } }] }
            },
            big: { type: "map", config: { fields: { kind: { value: "big" } } } },
            small: { type: "map", config: { fields: { kind: { value: "small" } } } },
            after: { type: "map", config: { fields: { kind: "kind" } } },
            both: { type: "join" }
          },
          [
            edge("$input", "route"),
            edge("route", "big", "big"),
            edge("route", "small", "default"),
            edge("small", "after"),
            edge("big", "both", "out", "left"),
            edge("after", "both", "out", "right")
          ]
        ),
        Builtins.registry
      )
      const big = yield* flow.run({ amount: 150 }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(big.output, { both: { left: { kind: "big" } } })
      const trace = traceOf(recorder.trace(big.executionId))
      assert.include(trace, "NodeSkipped:small")
      assert.include(trace, "NodeSkipped:after")
      assert.notInclude(trace, "NodeStarted:small")
      const small = yield* flow.run({ amount: 5 }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(small.output, { both: { right: { kind: "small" } } })
    })
  )

  it.effect("runs independent branches concurrently, bounded by settings.concurrency", () =>
    Effect.gen(function* () {
      const inFlight = { now: 0, max: 0 }
      const tracked = Node.define({
        type: "tracked",
        input: Schema.Unknown,
        output: Schema.Unknown,
        run: (input) =>
          Effect.acquireUseRelease(
            Effect.sync(() => {
              inFlight.now++
              inFlight.max = Math.max(inFlight.max, inFlight.now)
            }),
            () => Effect.as(Effect.sleep("100 millis"), input),
            () => Effect.sync(() => inFlight.now--)
          )
      })
      const registry = Registry.merge(Builtins.registry, Registry.make(tracked))
      const nodes: Record<string, unknown> = { all: { type: "join" } }
      const edges: Array<unknown> = []
      for (let i = 0; i < 4; i++) {
        nodes[`s${i}`] = { type: "tracked" }
        edges.push(edge("$input", `s${i}`), edge(`s${i}`, "all", "out", `p${i}`))
      }
      const runWith = (settings: Record<string, unknown>) =>
        Effect.gen(function* () {
          inFlight.max = 0
          const flow = compileOrDie(flowOf(nodes, edges, { settings }), registry)
          const fiber = yield* Effect.forkChild(flow.run(1))
          yield* TestClock.adjust("1 second")
          return yield* Fiber.join(fiber)
        })
      const result = yield* runWith({})
      assert.deepStrictEqual(result.output, { all: { p0: 1, p1: 1, p2: 1, p3: 1 } })
      assert.strictEqual(inFlight.max, 4, "the four branches overlap")
      yield* runWith({ concurrency: 2 })
      assert.strictEqual(inFlight.max, 2, "concurrency 2 caps the branches in flight")
    })
  )

  it.effect("retries only retryable failures, with exponential backoff", () =>
    Effect.gen(function* () {
      const calls = { n: 0 }
      const registry = Registry.merge(
        Builtins.registry,
        Registry.make(scripted(["retryable", "retryable", "ok"], calls))
      )
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf({ s: { type: "scripted", retry: { maxAttempts: 3, initialDelayMs: 1000, jitter: false } } }, [
          edge("$input", "s")
        ]),
        registry
      )
      const fiber = yield* Effect.forkChild(flow.run("x").pipe(Effect.provide(layer)))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(calls.n, 1, "the first retry waits 1 s")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(calls.n, 2)
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(calls.n, 3)
      const failures = recorder.trace(result.executionId).filter((e) => e._tag === "NodeFailed")
      assert.deepStrictEqual(
        failures.map((e) => e._tag === "NodeFailed" && [e.attempt, e.willRetry]),
        [
          [1, true],
          [2, true]
        ]
      )

      const fatalCalls = { n: 0 }
      const fatal = compileOrDie(
        flowOf({ s: { type: "scripted", retry: { maxAttempts: 5 } } }, [edge("$input", "s")]),
        Registry.make(scripted(["fatal"], fatalCalls))
      )
      const error = yield* Effect.flip(fatal.run("x"))
      assert.strictEqual(error._tag, "NodeFailed")
      assert.strictEqual(fatalCalls.n, 1, "a non-retryable failure is not retried")
      assert.strictEqual(error._tag === "NodeFailed" && error.nodeId, "s")
      assert.strictEqual(error._tag === "NodeFailed" && error.error._tag, "Flaky")
    })
  )

  it.effect("routes a failure to the error port (try/catch) instead of failing the execution", () =>
    Effect.gen(function* () {
      const registry = Registry.merge(Builtins.registry, Registry.make(scripted(["fatal"], { n: 0 })))
      const flow = compileOrDie(
        flowOf(
          {
            s: { type: "scripted" },
            ok: { type: "map", config: { fields: { ok: { value: true } } } },
            caught: { type: "map", config: { fields: { failedNode: "node", tag: "error._tag", input: "input" } } }
          },
          [edge("$input", "s"), edge("s", "ok"), edge("s", "caught", "error")]
        ),
        registry
      )
      const result = yield* flow.run({ id: 1 })
      assert.deepStrictEqual(result.output, { caught: { failedNode: "s", tag: "Flaky", input: { id: 1 } } })
    })
  )

  it.effect("turns a defect (a thrown exception) into a typed NodeFailed; the host keeps running", () =>
    Effect.gen(function* () {
      const thrower = Node.define({
        type: "thrower",
        input: Schema.Unknown,
        output: Schema.Unknown,
        run: () => {
          throw new TypeError("user code threw")
        }
      })
      const flow = compileOrDie(flowOf({ t: { type: "thrower" } }, [edge("$input", "t")]), Registry.make(thrower))
      const error = yield* Effect.flip(flow.run(1))
      assert.strictEqual(error._tag, "NodeFailed")
      assert.strictEqual(error._tag === "NodeFailed" && error.error._tag, "NodeDefect")
      assert.match(error.message, /TypeError: user code threw/)
    })
  )

  it.effect("enforces node and flow time limits", () =>
    Effect.gen(function* () {
      const registry = Registry.merge(Builtins.registry, Registry.make(sleepy))
      const nodeLimited = compileOrDie(
        flowOf({ z: { type: "sleepy", config: { ms: 10_000 }, timeoutMs: 50 } }, [edge("$input", "z")]),
        registry
      )
      const fiber = yield* Effect.forkChild(Effect.flip(nodeLimited.run(1)))
      yield* TestClock.adjust("50 millis")
      const nodeError = yield* Fiber.join(fiber)
      assert.strictEqual(nodeError._tag === "NodeFailed" && nodeError.error._tag, "NodeTimeout")

      const flowLimited = compileOrDie(
        flowOf({ z: { type: "sleepy", config: { ms: 10_000 } } }, [edge("$input", "z")], {
          settings: { timeoutMs: 200 }
        }),
        registry
      )
      const fiber2 = yield* Effect.forkChild(Effect.flip(flowLimited.run(1)))
      yield* TestClock.adjust("200 millis")
      const flowError = yield* Fiber.join(fiber2)
      assert.strictEqual(flowError._tag, "FlowTimeout")
    })
  )

  it.effect("interrupting an execution interrupts its running nodes", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const blocker = Node.define({
        type: "blocker",
        input: Schema.Unknown,
        output: Schema.Unknown,
        run: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
      })
      const flow = compileOrDie(
        flowOf({ a: { type: "blocker" }, b: { type: "blocker" } }, [edge("$input", "a"), edge("$input", "b")]),
        Registry.make(blocker)
      )
      const fiber = yield* Effect.forkChild(flow.run(1))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(interrupted)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.hasInterrupts(exit))
    })
  )

  it.effect("state-machine flows may loop, bounded by maxSteps", () =>
    Effect.gen(function* () {
      const counter = Node.define({
        type: "counter",
        input: Schema.Number,
        outputs: { again: Schema.Number, done: Schema.Number },
        run: (n) => Effect.succeed(n < 5 ? { port: "again", value: n + 1 } : { port: "done", value: n })
      })
      const registry = Registry.merge(Builtins.registry, Registry.make(counter))
      const loop = flowOf({ c: { type: "counter" }, end: { type: "noop" } }, [
        edge("$input", "c"),
        edge("c", "c", "again"),
        edge("c", "end", "done")
      ])
      const rejected = Compiler.compileSync(loop, registry)
      assert.strictEqual(rejected._tag, "Failed")
      assert.strictEqual(rejected._tag === "Failed" && rejected.error.problems[0]?.code, "cycle")

      const allowed = compileOrDie({ ...loop, settings: { allowCycles: true } }, registry)
      const result = yield* allowed.run(0)
      assert.deepStrictEqual(result.output, { end: 5 })
      assert.strictEqual(result.steps, 7)

      const bounded = compileOrDie({ ...loop, settings: { allowCycles: true, maxSteps: 3 } }, registry)
      const error = yield* Effect.flip(bounded.run(0))
      assert.strictEqual(error._tag, "MaxStepsExceeded")
      assert.strictEqual(error._tag === "MaxStepsExceeded" && error.nodeId, "c")
    })
  )

  it.effect("forEach runs its body per item as child executions, in order", () =>
    Effect.gen(function* () {
      const { layer, recorder } = FlowEvents.layerMemory()
      const flow = compileOrDie(
        flowOf(
          {
            lines: {
              type: "forEach",
              config: {
                concurrency: 3,
                body: {
                  nodes: { price: { type: "map", config: { fields: { sku: "sku", qty: "qty" } } } },
                  edges: [edge("$input", "price")],
                  output: { node: "price", port: "out" }
                }
              }
            }
          },
          [edge("$input", "lines")]
        ),
        Builtins.registry
      )
      const items = Array.from({ length: 10 }, (_, i) => ({ sku: `s${i}`, qty: i, extra: true }))
      const result = yield* flow.run(items).pipe(Effect.provide(layer))
      assert.deepStrictEqual(result.output, { lines: items.map(({ sku, qty }) => ({ sku, qty })) })
      const children = recorder
        .executions()
        .map((id) => recorder.trace(id)[0]!)
        .filter((e) => e._tag === "ExecutionStarted" && e.parentExecutionId === result.executionId)
      assert.strictEqual(children.length, 10)
    })
  )

  it.effect("subflow calls another flow by id", () =>
    Effect.gen(function* () {
      const callee = flowOf({ double: { type: "map", config: { fields: { v: "value", twice: "value" } } } }, [
        edge("$input", "double")
      ])
      const caller = {
        ...flowOf({ call: { type: "subflow", config: { flow: "callee" } } }, [edge("$input", "call")]),
        id: "caller"
      }
      const flow = compileOrDie(caller, Builtins.registry, { flows: { callee: { ...callee, id: "callee" } } as never })
      const result = yield* flow.run({ value: 4 })
      assert.deepStrictEqual(result.output, { call: { double: { v: 4, twice: 4 } } })
      const missing = Compiler.compileSync(caller, Builtins.registry)
      assert.strictEqual(missing._tag === "Failed" && missing.error.problems[0]?.path, "/nodes/call/config/flow")
    })
  )

  it.effect("respond sets the reply once; variables are visible to later nodes", () =>
    Effect.gen(function* () {
      const flow = compileOrDie(
        flowOf(
          {
            vars: { type: "setVariables", config: { values: { who: "name" } } },
            shape: { type: "map", config: { fields: { greeting: "$vars.who", via: "$trigger.via" } } },
            first: { type: "respond", config: { status: 201, headers: { "x-a": "1" } } },
            second: { type: "respond", config: { status: 500 } }
          },
          [edge("$input", "vars"), edge("vars", "shape"), edge("shape", "first"), edge("first", "second")]
        ),
        Builtins.registry
      )
      const result = yield* flow.run({ name: "Ada" }, { trigger: { via: "http", name: "Ada" } })
      assert.deepStrictEqual(result.reply, {
        status: 201,
        headers: { "x-a": "1" },
        body: { greeting: "Ada", via: "http" }
      })
    })
  )

  it.effect("decodes the input of a node at run time when the edge is not proven compatible", () =>
    Effect.gen(function* () {
      const typed = Node.define({
        type: "typed",
        input: Schema.Struct({ amount: Schema.Number }),
        output: Schema.Number,
        run: (input) => Effect.succeed(input.amount)
      })
      const registry = Registry.merge(Builtins.registry, Registry.make(typed))
      const flow = compileOrDie(flowOf({ t: { type: "typed" } }, [edge("$input", "t")]), registry)
      assert.deepStrictEqual((yield* flow.run({ amount: 3 })).output, { t: 3 })
      const error = yield* Effect.flip(flow.run({ amount: "3" }))
      assert.strictEqual(error._tag, "InputInvalid")
      assert.strictEqual(error._tag === "InputInvalid" && error.path, "/amount")
      assert.match(error.message, /expected number, got "3"/)
    })
  )

  it.effect("a node's services are provided by layers", () =>
    Effect.gen(function* () {
      class Greeting extends Context.Service<Greeting, { readonly word: string }>()("test/Greeting") {}
      const greet = Node.define({
        type: "greet",
        input: Schema.String,
        output: Schema.String,
        run: (name) =>
          Effect.gen(function* () {
            return `${(yield* Greeting).word}, ${name}`
          })
      })
      const flow = compileOrDie(flowOf({ g: { type: "greet" } }, [edge("$input", "g")]), Registry.make(greet))
      const result = yield* flow.run("Ada").pipe(Effect.provide(Layer.succeed(Greeting, { word: "Hello" })))
      assert.deepStrictEqual(result.output, { g: "Hello, Ada" })
    })
  )
})
