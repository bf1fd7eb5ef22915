import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Builtins, Compatibility, Compiler, Node, Registry } from "../src/index.ts"

const edge = (from: string, to: string, fromPort = "out", toPort = "in") => ({
  from: { node: from, port: fromPort },
  to: { node: to, port: toPort }
})

const Row = Schema.Struct({ id: Schema.Number, name: Schema.String })
const rows = Node.define({
  type: "rows",
  input: Schema.Unknown,
  output: Schema.Array(Row),
  run: () => Effect.succeed([])
})
const needsText = Node.define({
  type: "needsText",
  config: Schema.Struct({ sql: Schema.String, limit: Schema.optionalKey(Schema.Int) }),
  input: Schema.String,
  output: Schema.String,
  run: (s) => Effect.succeed(s)
})
const needsRows = Node.define({
  type: "needsRows",
  input: Schema.Array(Schema.Struct({ id: Schema.Number, email: Schema.String })),
  output: Schema.Unknown,
  run: (s) => Effect.succeed(s)
})
const registry = Registry.merge(Builtins.registry, Registry.make(rows, needsText, needsRows))

const problemsOf = (flow: unknown) => {
  const outcome = Compiler.compileSync(flow, registry)
  if (outcome._tag === "Compiled") return outcome.flow.warnings.map((p) => `${p.severity} ${p.path}: ${p.message}`)
  return outcome.error.problems.map((p) => `${p.severity} ${p.path}: ${p.message}`)
}

describe("compiler", () => {
  it("reports every problem at once, each with a JSON Pointer and the node", () => {
    const outcome = Compiler.compileSync(
      {
        id: "broken",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          query: { type: "needsText", config: { sql: 42 } },
          ghost: { type: "nope" },
          loner: { type: "noop" }
        },
        edges: [edge("$input", "query"), edge("query", "missing"), edge("query", "query", "bogus")]
      },
      registry
    )
    assert.strictEqual(outcome._tag, "Failed")
    if (outcome._tag !== "Failed") return
    const seen = outcome.error.problems.map((p) => [p.code, p.path, p.message, p.nodeId])
    assert.deepStrictEqual(seen, [
      ["invalid-config", "/nodes/query/config/sql", "expected string, got 42", "query"],
      ["unknown-node-type", "/nodes/ghost/type", 'unknown node type "nope"', "ghost"],
      ["dangling-edge", "/edges/1/to/node", 'edge to unknown node "missing"', "missing"],
      ["unreachable", "/nodes/ghost", 'node "ghost" is not reachable from the flow input and never runs', "ghost"],
      ["unreachable", "/nodes/loner", 'node "loner" is not reachable from the flow input and never runs', "loner"]
    ])
    assert.match(outcome.error.message, /\/nodes\/query\/config\/sql: expected string, got 42/)
  })

  it("checks ports: unknown output ports, input ports, and the shape of the IR itself", () => {
    assert.deepStrictEqual(
      problemsOf({
        id: "ports",
        version: "1",
        trigger: { type: "manual" },
        nodes: { a: { type: "noop" }, b: { type: "noop" } },
        edges: [edge("$input", "a"), edge("a", "b", "nope"), edge("a", "b", "out", "left")]
      }),
      [
        'error /edges/1/from/port: node "a" (noop) has no output port "nope"; its ports: out, error',
        'error /edges/2/to/port: node "b" (noop) has one input port, "in"; got "left"',
        'warning /nodes/b: node "b" is not reachable from the flow input and never runs'
      ]
    )
    assert.deepStrictEqual(problemsOf({ id: "x", version: 1, nodes: [], edges: {} }), [
      "error /version: expected string, got 1",
      "error /trigger: is required",
      "error /nodes: expected object, got an array of 0",
      "error /edges: expected array, got an object"
    ])
  })

  it("rejects wiring whose upstream type does not fit the downstream input (the puzzle rule)", () => {
    assert.deepStrictEqual(
      problemsOf({
        id: "puzzle",
        version: "1",
        trigger: { type: "manual" },
        nodes: { r: { type: "rows" }, t: { type: "needsText", config: { sql: "x" } }, e: { type: "needsRows" } },
        edges: [edge("$input", "r"), edge("r", "t"), edge("r", "e")]
      }),
      [
        "error /edges/1: r.out -> t.in: expected string, got array",
        'error /edges/2: r.out -> e.in: at /*/email: required property "email" is missing'
      ]
    )
  })

  it("rejects config keys the node type does not know (typos)", () => {
    assert.deepStrictEqual(
      problemsOf({
        id: "typo",
        version: "1",
        trigger: { type: "manual" },
        nodes: { q: { type: "needsText", config: { sql: "select 1", limt: 5 } } },
        edges: [edge("$input", "q")]
      }),
      ["error /nodes/q/config/limt: is not a known property"]
    )
  })

  it("reports cycles with their path", () => {
    const problems = problemsOf({
      id: "cyc",
      version: "1",
      trigger: { type: "manual" },
      nodes: { a: { type: "noop" }, b: { type: "noop" }, c: { type: "noop" } },
      edges: [edge("$input", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")]
    })
    assert.deepStrictEqual(problems, [
      "error /nodes/a: cycle a -> b -> c -> a: use a forEach node for loops, or set settings.allowCycles (bounded by maxSteps)"
    ])
  })

  it("validates for-each bodies with pointers into the body", () => {
    assert.deepStrictEqual(
      problemsOf({
        id: "fe",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          each: {
            type: "forEach",
            config: {
              body: { nodes: { m: { type: "map", config: { fields: { a: 1 } } } }, edges: [edge("$input", "m")] }
            }
          }
        },
        edges: [edge("$input", "each")]
      }),
      ["error /nodes/each/config/body/nodes/m/config/fields/a: expected string | object, got 1"]
    )
  })
})

describe("compatibility", () => {
  it("compares JSON Schemas: types, required properties, enums, arrays, unions", () => {
    assert.strictEqual(Compatibility.fits({ type: "integer" }, { type: "number" })._tag, "Ok")
    assert.strictEqual(Compatibility.fits({ type: "number" }, { type: "string" })._tag, "Mismatch")
    assert.strictEqual(Compatibility.fits({}, { type: "string" })._tag, "Unchecked")
    assert.strictEqual(Compatibility.fits({ type: "string" }, {})._tag, "Ok")
    assert.strictEqual(Compatibility.fits({ enum: ["a", "b"] }, { enum: ["a", "b", "c"] })._tag, "Ok")
    assert.deepStrictEqual(Compatibility.fits({ enum: ["a", "z"] }, { enum: ["a", "b"] }), {
      _tag: "Mismatch",
      problems: [{ path: "", message: 'expected one of ["a","b"], got "z"' }]
    })
    const person = { type: "object", properties: { name: { type: "string" } }, required: ["name"] }
    assert.strictEqual(
      Compatibility.fits(
        {
          type: "object",
          properties: { name: { type: "string" }, age: { type: "integer" } },
          required: ["name", "age"]
        },
        person
      )._tag,
      "Ok"
    )
    assert.deepStrictEqual(Compatibility.fits({ type: "object", properties: { name: { type: "string" } } }, person), {
      _tag: "Mismatch",
      problems: [{ path: "/name", message: 'property "name" is optional upstream but required here' }]
    })
    assert.strictEqual(
      Compatibility.fits({ anyOf: [{ type: "string" }, { type: "null" }] }, { type: "string" })._tag,
      "Mismatch"
    )
    assert.strictEqual(
      Compatibility.fits({ type: "string" }, { anyOf: [{ type: "string" }, { type: "null" }] })._tag,
      "Ok"
    )
    assert.strictEqual(
      Compatibility.fits({ type: "array", items: { type: "integer" } }, { type: "array", items: { type: "number" } })
        ._tag,
      "Ok"
    )
  })
})

describe("registry", () => {
  it("prints a catalog with the JSON Schema of every node's config and ports", () => {
    const catalog = Registry.catalog(registry)
    const types = catalog.map((entry) => entry.type)
    assert.includeMembers(types, ["map", "filter", "switch", "join", "merge", "forEach", "respond", "rows"])
    const needs = catalog.find((entry) => entry.type === "needsText")!
    assert.deepStrictEqual(needs.config, {
      type: "object",
      properties: {
        sql: { type: "string" },
        limit: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 }
      },
      required: ["sql"],
      // The compiler rejects unknown config keys, and the catalog says so.
      additionalProperties: false
    } as never)
    const sw = catalog.find((entry) => entry.type === "switch")!
    assert.isTrue(sw.dynamicPorts)
    assert.deepStrictEqual(Object.keys(sw.outputs), ["default"])
  })
})

describe("a JSON flow's declared input", () => {
  const flow = {
    id: "typed-input",
    version: "1",
    trigger: { type: "manual" },
    input: { type: "string" },
    nodes: { echo: { type: "needsText", config: { sql: "select 1" } } },
    edges: [edge("$input", "echo")],
    output: { node: "echo", port: "out" }
  }

  it.effect("proves the edge at compile time, and the node still checks what a caller passes at run time", () =>
    Effect.gen(function* () {
      const compiled = yield* Compiler.compile(flow, registry)
      assert.deepStrictEqual((yield* compiled.run("ok")).output, "ok")
      const error = yield* Effect.flip(compiled.run(42))
      assert.strictEqual(error._tag, "InputInvalid")
      assert.strictEqual(error._tag === "InputInvalid" && error.nodeId, "echo")
    })
  )

  it.effect("is trusted with inputChecked (the caller decoded it, as Flow.run and the runner do)", () =>
    Effect.gen(function* () {
      const compiled = yield* Compiler.compile(flow, registry, { inputChecked: true })
      // No check left: the node gets the value as it is.
      assert.deepStrictEqual((yield* compiled.run(42)).output, 42)
    })
  )

  it("a declared input that does not fit the node is still a compile error", () => {
    assert.deepStrictEqual(problemsOf({ ...flow, input: { type: "number" } }), [
      "error /edges/0: $input.out -> echo.in: expected string, got number"
    ])
  })
})
