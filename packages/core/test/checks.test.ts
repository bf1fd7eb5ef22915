/**
 * Compile-time checks beyond the basics: type-name clashes (registry and builder), join-mode input ports,
 * ambiguous inputs, every cycle, no cascades of "unreachable" after a broken node, and the output port.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Builtins, Compiler, Flow, Node, Registry } from "../src/index.ts"

const edge = (from: string, to: string, fromPort = "out", toPort = "in") => ({
  from: { node: from, port: fromPort },
  to: { node: to, port: toPort }
})
const flowOf = (
  nodes: Record<string, unknown>,
  edges: ReadonlyArray<unknown>,
  extra: Record<string, unknown> = {}
) => ({
  id: "checks",
  version: "1",
  trigger: { type: "manual" },
  nodes,
  edges,
  ...extra
})
const problemsOf = (flow: unknown, registry: Registry.Registry<unknown> = Builtins.registry) => {
  const outcome = Compiler.compileSync(flow, registry)
  const problems = outcome._tag === "Compiled" ? outcome.flow.warnings : outcome.error.problems
  return problems.map((p) => `${p.severity} ${p.code} ${p.path}${p.port ? ` [${p.port}]` : ""}`)
}

const text = (type: string, description: string, value: string) =>
  Node.define({ type, description, input: Schema.Unknown, output: Schema.String, run: () => Effect.succeed(value) })
const pair = Node.define({
  type: "pair",
  input: Schema.Struct({ left: Schema.Number, right: Schema.Number }),
  inputMode: "join",
  output: Schema.Number,
  run: ({ left, right }) => Effect.succeed(left + right)
})
const num = Node.define({ type: "num", input: Schema.Unknown, output: Schema.Number, run: () => Effect.succeed(2) })

describe("type-name clashes", () => {
  it("a registry merging two different definitions of one type records the conflict; compiling a flow that uses it fails", () => {
    const first = text("x", "first x", "a")
    const second = text("x", "second x", "b")
    const registry = Registry.merge(Builtins.registry, Registry.merge(Registry.make(first), Registry.make(second)))
    assert.deepStrictEqual(registry.conflicts?.get("x"), [first, second])
    const outcome = Compiler.compileSync(flowOf({ n: { type: "x" } }, [edge("$input", "n")]), registry)
    assert.strictEqual(outcome._tag, "Failed")
    const problem = outcome._tag === "Failed" ? outcome.error.problems[0] : undefined
    assert.strictEqual(problem?.code, "duplicate-type")
    assert.strictEqual(problem?.path, "/nodes/n/type")
    assert.match(problem?.message ?? "", /"first x", "second x"/)
    // Flows that do not use the type still compile.
    assert.strictEqual(
      Compiler.compileSync(flowOf({ n: { type: "noop" } }, [edge("$input", "n")]), registry)._tag,
      "Compiled"
    )
  })

  it("the same definition twice is no conflict; Registry.override replaces on purpose", () => {
    const first = text("x", "first x", "a")
    const second = text("x", "second x", "b")
    assert.isUndefined(Registry.merge(Registry.make(first), Registry.make(first)).conflicts)
    assert.isUndefined(Registry.merge(Builtins.registry, Builtins.registry).conflicts)
    const replaced = Registry.override(
      Registry.merge(Registry.make(first), Registry.make(second)),
      Registry.make(second)
    )
    assert.isUndefined(replaced.conflicts)
    assert.strictEqual(Registry.get(replaced, "x"), second)
    const delay = Registry.override(Builtins.registry, Registry.make(text("delay", "instant", "now")))
    assert.strictEqual(Registry.get(delay, "delay")?.description, "instant")
  })

  it.effect("the builder refuses two definitions of one type, naming both nodes", () =>
    Effect.gen(function* () {
      const a = text("x", "", "from a")
      const b = text("x", "", "from b")
      assert.throws(
        () =>
          Flow.make({ id: "clash" })
            .node("first", a, {}, (p) => p.$input)
            .node("second", b, {}, (p) => p.$input),
        /nodes "first" and "second" use two different definitions of type "x"/
      )
      // The same definition on several nodes is fine.
      const ok = Flow.make({ id: "same" })
        .node("first", a, {}, (p) => p.$input)
        .node("second", a, {}, (p) => p.$input)
        .build()
      assert.strictEqual((yield* Flow.run(ok, 1)).output, "from a")
    })
  )

  it("the builder refuses a definition named like a built-in, and clashes inside forEach bodies", () => {
    const mine = text("map", "", "mine")
    assert.throws(
      () => Flow.make({ id: "builtin" }).node("m", mine, {}, (p) => p.$input),
      /node "m" uses its own definition of type "map", which is the name of a built-in/
    )
    const a = text("x", "", "a")
    const b = text("x", "", "b")
    assert.throws(
      () =>
        Flow.make({ id: "body", input: Schema.Array(Schema.Number) })
          .node("outer", a, {}, (p) => p.$input)
          .forEach(
            "each",
            (p) => p.$input,
            (item) => item.andThen("inner", b, {})
          ),
      /nodes "outer" and "each\/inner" use two different definitions of type "x"/
    )
  })
})

describe("join-mode input ports", () => {
  const registry = Registry.merge(Builtins.registry, Registry.make(pair, num))

  it("a required input port with no edge is a problem naming the port", () => {
    assert.deepStrictEqual(
      problemsOf(
        flowOf({ a: { type: "num" }, j: { type: "pair" } }, [edge("$input", "a"), edge("a", "j", "out", "left")]),
        registry
      ),
      ["error missing-input /nodes/j [right]"]
    )
  })

  it("an edge into a port the node does not declare is a problem", () => {
    assert.deepStrictEqual(
      problemsOf(
        flowOf({ a: { type: "num" }, j: { type: "pair" } }, [
          edge("$input", "a"),
          edge("a", "j", "out", "left"),
          edge("a", "j", "out", "right"),
          edge("a", "j", "out", "bogus")
        ]),
        registry
      ),
      ["error unknown-port /edges/3/to/port [bogus]"]
    )
  })

  it.effect("a required port fed only by a branch that can be skipped is checked at run time", () =>
    Effect.gen(function* () {
      const flow = flowOf(
        {
          a: { type: "num" },
          route: { type: "switch", config: { cases: [{ port: "yes", when: { path: "go", op: "eq", value: true } }] } },
          b: { type: "num" },
          j: { type: "pair" }
        },
        [
          edge("$input", "a"),
          edge("$input", "route"),
          edge("route", "b", "yes"),
          edge("a", "j", "out", "left"),
          edge("b", "j", "out", "right")
        ]
      )
      const compiled = Compiler.compileSync(flow, registry)
      assert.strictEqual(compiled._tag, "Compiled")
      if (compiled._tag !== "Compiled") return
      assert.deepStrictEqual((yield* compiled.flow.run({ go: true })).output, { j: 4 })
      const error = yield* Effect.flip(compiled.flow.run({ go: false }))
      assert.strictEqual(error._tag, "InputInvalid")
      assert.strictEqual(error._tag === "InputInvalid" && error.nodeId, "j")
      assert.strictEqual(error._tag === "InputInvalid" && error.port, "right")
    })
  )

  it.effect("the builder wires a join-mode definition by port name", () =>
    Effect.gen(function* () {
      const flow = Flow.make({ id: "paired" })
        .node("a", num, {}, (p) => p.$input)
        .node("b", num, {}, (p) => p.$input)
        .node("sum", pair, {}, (p) => ({ left: p.a.out, right: p.b.out }))
        .build()
      assert.deepStrictEqual(
        flow.ir.edges.filter((e) => e.to.node === "sum").map((e) => e.to.port),
        ["left", "right"]
      )
      assert.strictEqual((yield* Flow.run(flow, undefined)).output, 4)
      assert.throws(
        () =>
          Flow.make({ id: "bad" })
            .node("a", num, {}, (p) => p.$input)
            .node("b", num, {}, (p) => ({ in: p.a.out }) as never),
        /has one input port, "in": pass a port, not named ports/
      )
    })
  )
})

describe("graph checks", () => {
  it("two edges always carrying a value into a one-input node are a warning; switch branches are not", () => {
    const registry = Registry.merge(Builtins.registry, Registry.make(num))
    assert.deepStrictEqual(
      problemsOf(
        flowOf({ a: { type: "num" }, b: { type: "num" }, c: { type: "noop" } }, [
          edge("$input", "a"),
          edge("$input", "b"),
          edge("a", "c"),
          edge("b", "c")
        ]),
        registry
      ),
      ["warning ambiguous-input /nodes/c [in]"]
    )
    assert.deepStrictEqual(
      problemsOf(
        flowOf(
          {
            route: {
              type: "switch",
              config: { cases: [{ port: "yes", when: { path: "go", op: "eq", value: true } }] }
            },
            a: { type: "num" },
            b: { type: "num" },
            c: { type: "noop" }
          },
          [
            edge("$input", "route"),
            edge("route", "a", "yes"),
            edge("route", "b", "default"),
            edge("a", "c"),
            edge("b", "c")
          ]
        ),
        registry
      ),
      []
    )
  })

  it("reports every cycle, one per strongly connected component", () => {
    assert.deepStrictEqual(
      problemsOf(
        flowOf({ a: { type: "noop" }, b: { type: "noop" }, c: { type: "noop" }, d: { type: "noop" } }, [
          edge("$input", "a"),
          edge("a", "b"),
          edge("b", "a"),
          edge("$input", "c"),
          edge("c", "d"),
          edge("d", "c")
        ])
      ),
      ["error cycle /nodes/a", "error cycle /nodes/c"]
    )
  })

  it("a broken node does not make everything after it 'unreachable'", () => {
    assert.deepStrictEqual(
      problemsOf(
        flowOf(
          { a: { type: "delay", config: { ms: "x" } }, b: { type: "noop" }, c: { type: "nope" }, d: { type: "noop" } },
          [edge("$input", "a"), edge("a", "b"), edge("b", "c"), edge("c", "d")]
        )
      ),
      ["error invalid-config /nodes/a/config/ms", "error unknown-node-type /nodes/c/type"]
    )
  })

  it("an output naming a port a config-less node does not have is a problem", () => {
    assert.deepStrictEqual(
      problemsOf(flowOf({ a: { type: "noop" } }, [edge("$input", "a")], { output: { node: "a", port: "bogus" } })),
      ["error invalid-output /output/port [bogus]"]
    )
  })
})
