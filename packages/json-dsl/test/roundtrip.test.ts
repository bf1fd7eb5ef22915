import { Builtins, Compiler, Flow, Ir } from "@jsonflow/core"
import { Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Load, Save } from "../src/index.ts"

const registry = Builtins.registry

const id = fc.stringMatching(/^[a-z][a-z0-9_-]{0,6}$/)
const text = fc.string({ maxLength: 12 })
const path = fc.stringMatching(/^[a-z]{1,5}(\.[a-z0-9]{1,4}){0,2}$/)
const value = fc.oneof(
  path,
  fc.record({ path }),
  fc.record({ value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ expr: fc.constantFrom("a + 1", "$count(items)") })
)
const operator = fc.constantFrom("eq", "ne", "gt", "lt", "in", "contains", "exists", "isEmpty")
const leaf = fc.record({ path, op: operator, value: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ["path", "op"] })
const condition = fc.oneof(
  leaf,
  fc.record({ all: fc.array(leaf, { maxLength: 2 }) }),
  fc.record({ not: leaf }),
  fc.record({ expr: fc.constant("amount > 10") })
)
const fields = fc.dictionary(path, value, { maxKeys: 3 })

interface Kind {
  readonly type: string
  readonly config: fc.Arbitrary<unknown>
  readonly ports: (config: unknown) => ReadonlyArray<string>
  readonly join?: boolean
  /** Emits objects (never arrays). */
  readonly objectOutput?: boolean
}

const kinds: ReadonlyArray<Kind> = [
  { type: "noop", config: fc.constant(undefined), ports: () => ["out"] },
  {
    type: "map",
    config: fc.record({ fields, each: fc.boolean(), merge: fc.boolean() }, { requiredKeys: ["fields"] }),
    ports: () => ["out"]
  },
  { type: "filter", config: fc.record({ where: condition }), ports: () => ["out", "rejected"] },
  {
    type: "switch",
    config: fc.record(
      {
        cases: fc.uniqueArray(fc.record({ port: fc.stringMatching(/^case_[a-z]{1,4}$/), when: condition }), {
          maxLength: 3,
          selector: (c) => c.port
        }),
        mode: fc.constantFrom("first", "all")
      },
      { requiredKeys: ["cases"] }
    ),
    ports: (config) => ["default", ...(config as { cases: ReadonlyArray<{ port: string }> }).cases.map((c) => c.port)]
  },
  {
    type: "setVariables",
    config: fc.record({ values: fc.dictionary(id, value, { maxKeys: 3 }) }),
    ports: () => ["out"]
  },
  { type: "delay", config: fc.record({ ms: fc.nat(1000) }), ports: () => ["out"] },
  {
    type: "respond",
    config: fc.record(
      { status: fc.integer({ min: 100, max: 599 }), headers: fc.dictionary(id, text, { maxKeys: 2 }), body: value },
      { requiredKeys: [] }
    ),
    ports: () => ["out"]
  },
  {
    type: "fail",
    config: fc.record({ code: id, message: text, retryable: fc.boolean() }, { requiredKeys: ["code", "message"] }),
    ports: () => []
  },
  {
    type: "forEach",
    config: fc.record(
      {
        body: fields.map((f) => ({
          nodes: { item: { type: "map", config: { fields: f } } },
          edges: [{ from: { node: "$input", port: "out" }, to: { node: "item", port: "in" } }],
          output: { node: "item", port: "out" }
        })),
        concurrency: fc.integer({ min: 1, max: 8 })
      },
      { requiredKeys: ["body"] }
    ),
    ports: () => ["out"]
  },
  { type: "join", config: fc.constant(undefined), ports: () => ["out"], join: true, objectOutput: true },
  { type: "merge", config: fc.constant(undefined), ports: () => ["out"], join: true }
]

const spec = fc.record(
  {
    kind: fc.integer({ min: 0, max: kinds.length - 1 }),
    label: text,
    retry: fc.record(
      {
        maxAttempts: fc.integer({ min: 1, max: 5 }),
        initialDelayMs: fc.nat(100),
        maxDelayMs: fc.nat(1000),
        factor: fc.constantFrom(1, 1.5, 2),
        jitter: fc.boolean()
      },
      { requiredKeys: ["maxAttempts"] }
    ),
    timeoutMs: fc.integer({ min: 1, max: 60_000 })
  },
  { requiredKeys: ["kind"] }
)

const trigger = fc.oneof(
  fc.constant({ type: "manual" as const }),
  fc.record({
    type: fc.constant("http" as const),
    method: fc.constantFrom("GET", "POST", "ANY") as fc.Arbitrary<Ir.HttpMethod>,
    path: fc.constantFrom("/orders", "/users/:id")
  }),
  fc.record(
    { type: fc.constant("cron" as const), schedule: fc.constant("0 * * * *"), timezone: fc.constant("UTC") },
    { requiredKeys: ["type", "schedule"] }
  ),
  fc.record({ type: fc.constant("queue" as const), queue: id })
)

/** Valid flows over the built-in node types: a DAG where every node takes input from earlier ones. */
const validFlow: fc.Arbitrary<Ir.Flow> = fc
  .record(
    {
      id,
      version: fc.constantFrom("1", "2", "2026-01-15"),
      description: text,
      trigger,
      input: fc.constantFrom({ type: "object" }, { type: "array", items: { type: "number" } }),
      settings: fc.record(
        { maxSteps: fc.integer({ min: 1, max: 500 }), concurrency: fc.integer({ min: 1, max: 8 }) },
        { requiredKeys: [] }
      ),
      nodes: fc.uniqueArray(fc.tuple(id, spec), { minLength: 1, maxLength: 6, selector: ([nodeId]) => nodeId }),
      seeds: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
      withOutput: fc.boolean()
    },
    { requiredKeys: ["id", "version", "trigger", "nodes", "seeds", "withOutput"] }
  )
  .chain((shape) =>
    fc.tuple(...shape.nodes.map(([, s]) => kinds[s.kind]!.config)).map((configs) => {
      const nodes: Record<string, Ir.NodeSpec> = {}
      const edges: Array<Ir.Edge> = []
      const sources: Array<Ir.PortRef> = [{ node: "$input", port: "out" }]
      // forEach takes arrays: feed it from untyped node ports, never from the object-typed input or error ports.
      const untyped: Array<Ir.PortRef> = []
      shape.nodes.forEach(([nodeId, s], index) => {
        const chosen = kinds[s.kind]!
        const kind = chosen.type === "forEach" && untyped.length === 0 ? kinds[0]! : chosen
        const config = kind === chosen ? configs[index] : undefined
        nodes[nodeId] = {
          type: kind.type,
          ...(config === undefined ? {} : { config }),
          ...(s.label === undefined ? {} : { label: s.label }),
          ...(s.retry === undefined ? {} : { retry: s.retry }),
          ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs })
        }
        const seed = shape.seeds[index % shape.seeds.length]!
        const pool = kind.type === "forEach" ? untyped : sources
        const from = pool[seed % pool.length]!
        edges.push({ from, to: { node: nodeId, port: kind.join ? "left" : "in" } })
        if (kind.join && sources.length > 1) {
          edges.push({ from: sources[(seed + 1) % sources.length]!, to: { node: nodeId, port: "right" } })
        }
        for (const port of kind.ports(config)) {
          sources.push({ node: nodeId, port })
          if (!kind.objectOutput) untyped.push({ node: nodeId, port })
        }
        sources.push({ node: nodeId, port: "error" })
      })
      const last = shape.nodes[shape.nodes.length - 1]![0]
      return {
        id: shape.id,
        version: shape.version,
        ...(shape.description === undefined ? {} : { description: shape.description }),
        trigger: shape.trigger,
        ...(shape.input === undefined ? {} : { input: shape.input }),
        nodes,
        edges,
        ...(shape.withOutput &&
        kinds
          .find((k) => k.type === nodes[last]!.type)!
          .ports(nodes[last]!.config)
          .includes("out")
          ? { output: { node: last, port: "out" } }
          : {}),
        ...(shape.settings === undefined ? {} : { settings: shape.settings })
      } satisfies Ir.Flow
    })
  )

describe("save / load round trip", () => {
  it("load(save(flow)) equals flow for every valid flow (property)", () => {
    fc.assert(
      fc.property(validFlow, (flow) => {
        const compiled = Compiler.compileSync(flow, registry)
        expect(compiled._tag === "Failed" ? compiled.error.message : "ok").toBe("ok")
        const text = Save.save(flow)
        const loaded = Load.load(text, registry)
        expect(loaded._tag === "Loaded" ? "ok" : loaded.problems).toBe("ok")
        expect(loaded._tag === "Loaded" && Ir.equals(loaded.flow, flow)).toBe(true)
        expect(Save.save(loaded._tag === "Loaded" ? loaded.flow : flow)).toBe(text)
      }),
      { numRuns: 300 }
    )
  })

  it("keeps code as line arrays in the file and as one string in the IR", () => {
    const source = "export default (input) => {\n  return input.a + 1\n}\n"
    const flow: Ir.Flow = {
      id: "code",
      version: "1",
      trigger: { type: "manual" },
      nodes: { f: { type: "js", config: { source } } },
      edges: [{ from: { node: "$input", port: "out" }, to: { node: "f", port: "in" } }]
    }
    const text = Save.save(flow)
    expect(text).toContain('      "config": {\n        "source": [\n          "export default (input) => {",\n')
    const doc = JSON.parse(text) as { nodes: { f: { config: { source: unknown } } } }
    expect(doc.nodes.f.config.source).toEqual(["export default (input) => {", "  return input.a + 1", "}", ""])
  })

  it("builder flows export to JSON that loads back to the same IR", () => {
    const Line = Schema.Struct({ sku: Schema.String, qty: Schema.Number })
    const built = Flow.make({
      id: "built",
      version: "4",
      input: Schema.Array(Line),
      trigger: { type: "http", method: "POST", path: "/lines" }
    })
      .forEach(
        "each",
        (p) => p.$input,
        (item) => item.map("line", (p) => p.$input, { fields: { sku: "sku" } }),
        {
          concurrency: 2
        }
      )
      .map("count", (p) => p.each.out, { fields: { n: { expr: "$count($)" } } })
      .switch("route", (p) => p.count.out, { big: { path: "n", op: "gt", value: 100 } })
      .filter("positive", (p) => p.route.default, { path: "n", op: "gte", value: 0 })
      .join("both", (p) => ({ big: p.route.big, small: p.positive.out }))
      .merge("any", (p) => [p.route.big, p.positive.rejected])
      .respond("reply", (p) => p.both.out, { status: 202 }, { label: "Reply", retry: { maxAttempts: 2 } })
      .build()
    const loaded = Load.load(Save.save(built.ir), built.registry)
    expect(loaded._tag === "Loaded" ? "ok" : loaded.problems).toBe("ok")
    expect(loaded._tag === "Loaded" && Ir.equals(loaded.flow, built.ir)).toBe(true)
  })
})
