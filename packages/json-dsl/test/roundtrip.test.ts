import { Compiler, Flow, Ir, Registry } from "@jsonflow/core"
import { Nodes as SandboxNodes } from "@jsonflow/sandbox"
import { Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Dsl, FlowFile, Load, Save } from "../src/index.ts"

/** Built-ins, nFlow types and the sandbox's `js`/`ts` (validated here, not run). */
const registry = Registry.merge(FlowFile.validationRegistry, Registry.make(...SandboxNodes.definitions))

/** The flow `subflow` nodes call. */
const callee: Ir.Flow = {
  id: "callee",
  version: "1",
  trigger: { type: "manual" },
  nodes: { echo: { type: "noop" } },
  edges: [{ from: { node: "$input", port: "out" }, to: { node: "echo", port: "in" } }],
  output: { node: "echo", port: "out" }
}
const flows = { callee }

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

/** Module source: comment lines (any printable text) around a default export; one line or several. */
const source = (body: string) =>
  fc
    .tuple(
      fc.array(
        text.map((t) => `// ${t}`),
        { maxLength: 3 }
      ),
      fc.boolean()
    )
    .map(([comments, trailingNewline]) => [...comments, body, ...(trailingNewline ? [""] : [])].join("\n"))
const script = (body: string) =>
  fc.record(
    {
      source: source(body),
      ports: fc.constantFrom<ReadonlyArray<string>>(["out"], ["yes", "no"], ["only"]),
      timeoutMs: fc.integer({ min: 1, max: 1000 })
    },
    { requiredKeys: ["source"] }
  )
const scriptPorts = (config: unknown) => (config as { ports?: ReadonlyArray<string> }).ports ?? ["out"]

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
  { type: "merge", config: fc.constant(undefined), ports: () => ["out"], join: true },
  { type: "js", config: script("export default (input) => input"), ports: scriptPorts },
  { type: "ts", config: script("export default (input: unknown): unknown => input"), ports: scriptPorts },
  {
    type: "subflow",
    config: fc.constantFrom({ flow: "callee" }, { flow: "callee", version: "1" }),
    ports: () => ["out"]
  }
]

/** Kinds a loop may go back to: they take any input. */
const LOOP_TARGETS = new Set(["noop", "map", "setVariables"])

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
        {
          maxSteps: fc.integer({ min: 1, max: 500 }),
          timeoutMs: fc.integer({ min: 1, max: 600_000 }),
          concurrency: fc.integer({ min: 1, max: 8 })
        },
        { requiredKeys: [] }
      ),
      // Close a loop back to an earlier node (allowCycles), when the flow has a place for one.
      loop: fc.boolean(),
      nodes: fc.uniqueArray(fc.tuple(id, spec), { minLength: 1, maxLength: 6, selector: ([nodeId]) => nodeId }),
      seeds: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
      withOutput: fc.boolean()
    },
    { requiredKeys: ["id", "version", "trigger", "nodes", "seeds", "withOutput", "loop"] }
  )
  .chain((shape) =>
    fc.tuple(...shape.nodes.map(([, s]) => kinds[s.kind]!.config)).map((configs) => {
      const nodes: Record<string, Ir.NodeSpec> = {}
      const edges: Array<Ir.Edge> = []
      const sources: Array<Ir.PortRef> = [{ node: "$input", port: "out" }]
      // forEach takes arrays: feed it from untyped node ports, never from the object-typed input or error ports.
      const untyped: Array<Ir.PortRef> = []
      const ownerIndex = new Map<string, number>()
      shape.nodes.forEach(([nodeId, s], index) => {
        ownerIndex.set(nodeId, index)
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
      const loopTarget = shape.nodes.findIndex(([nodeId]) => LOOP_TARGETS.has(nodes[nodeId]!.type))
      const loopSource = untyped.find((port) => loopTarget >= 0 && ownerIndex.get(port.node)! > loopTarget)
      const looped = shape.loop && loopSource !== undefined
      if (looped) edges.push({ from: loopSource, to: { node: shape.nodes[loopTarget]![0], port: "in" } })
      const settings = looped ? { ...shape.settings, allowCycles: true } : shape.settings
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
        ...(settings === undefined ? {} : { settings })
      } satisfies Ir.Flow
    })
  )

/** Code fields written as one string instead of line arrays: the other spelling the format allows. */
const codeAsStrings = (text: string): string => {
  const document = JSON.parse(text) as { nodes: Record<string, { type: string; config?: Record<string, unknown> }> }
  for (const node of Object.values(document.nodes)) {
    const field = Dsl.CODE_FIELDS[node.type]
    const code = field === undefined ? undefined : node.config?.[field]
    if (field !== undefined && Array.isArray(code)) node.config![field] = code.join("\n")
  }
  return JSON.stringify(document)
}

const roundTrips = (flow: Ir.Flow) => {
  const compiled = Compiler.compileSync(flow, registry, { flows })
  expect(compiled._tag === "Failed" ? compiled.error.message : "ok").toBe("ok")
  const text = Save.save(flow)
  for (const written of [text, codeAsStrings(text)]) {
    const loaded = Load.load(written, registry, { flows })
    expect(loaded._tag === "Loaded" ? "ok" : loaded.problems).toBe("ok")
    expect(loaded._tag === "Loaded" && Ir.equals(loaded.flow, flow)).toBe(true)
    expect(Save.save(loaded._tag === "Loaded" ? loaded.flow : flow)).toBe(text)
  }
}

/** nFlow-shaped flows (as the importer makes them): a starter, then nflow.* boxes; loops through forEach. */
const nflowFlow: fc.Arbitrary<Ir.Flow> = fc
  .record({
    id,
    boxes: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant("nflow.setVar"), config: fc.record({ name: id, value: text }) }),
        fc.record({ type: fc.constant("nflow.ifEquals"), config: fc.record({ field: id, value: text }) }),
        fc.record({ type: fc.constant("nflow.forEach"), config: fc.record({ field: id, itemName: id }) }),
        fc.record({ type: fc.constant("nflow.queryParams"), config: fc.constant({}) }),
        fc.record({
          type: fc.constant("nflow.js"),
          config: fc.record({
            code: source("function main() { payload.seen = true }"),
            ports: fc.constantFrom(["output_1"], ["output_1", "output_2"]),
            data: fc.dictionary(id, text, { maxKeys: 2 }),
            outputs: fc.constant({}),
            flowName: text
          })
        })
      ),
      { minLength: 1, maxLength: 5 }
    ),
    end: fc.oneof(
      fc.record({
        type: fc.constant("nflow.json"),
        config: fc.record({ field: path, httpCode: fc.constantFrom("", "201") })
      }),
      fc.record({
        type: fc.constant("nflow.render"),
        config: fc.record({
          engine: fc.constantFrom("mustache", "go-template"),
          template: fc.constant("<p>{{.a}}</p>")
        })
      }),
      fc.record({ type: fc.constant("nflow.end"), config: fc.constant({}) })
    ),
    method: fc.constantFrom("GET", "POST", "ANY") as fc.Arbitrary<Ir.HttpMethod>,
    maxSteps: fc.integer({ min: 1, max: 10_000 })
  })
  .map((shape) => {
    const nodes: Record<string, Ir.NodeSpec> = {
      start: {
        type: "nflow.starter",
        label: "Http Start",
        config: { id: "1", method: shape.method, urlpattern: "/x/:id", flowName: "Home" }
      }
    }
    const edges: Array<Ir.Edge> = [{ from: { node: "$input", port: "out" }, to: { node: "start", port: "in" } }]
    let previous: Ir.PortRef = { node: "start", port: "output_1" }
    let cyclic = false
    shape.boxes.forEach((box, index) => {
      const nodeId = `b${index}`
      nodes[nodeId] = { type: box.type, label: box.type, config: { id: String(index + 2), ...box.config } }
      edges.push({ from: previous, to: { node: nodeId, port: "in" } })
      // A two-way box loops its second output back to itself, as _js_foreach does.
      const ports = box.type === "nflow.js" ? (box.config as { ports: ReadonlyArray<string> }).ports : []
      if (box.type === "nflow.forEach" || box.type === "nflow.ifEquals" || ports.length === 2) {
        edges.push({ from: { node: nodeId, port: "output_2" }, to: { node: nodeId, port: "in" } })
        cyclic = true
      }
      previous = { node: nodeId, port: "output_1" }
    })
    nodes.end = { type: shape.end.type, config: { id: "99", ...shape.end.config } }
    edges.push({ from: previous, to: { node: "end", port: "in" } })
    return {
      id: shape.id,
      version: "1",
      trigger: { type: "http", method: shape.method, path: "/x/:id" },
      nodes,
      edges,
      settings: { maxSteps: shape.maxSteps, ...(cyclic ? { allowCycles: true } : {}) }
    } satisfies Ir.Flow
  })

describe("save / load round trip", () => {
  it("load(save(flow)) equals flow for every valid flow (property: built-ins, js/ts code, sub-flows, loops)", () => {
    fc.assert(fc.property(validFlow, roundTrips), { numRuns: 300 })
  })

  it("load(save(flow)) equals flow for nFlow-shaped flows (property: nflow.* boxes, cycles)", () => {
    fc.assert(fc.property(nflowFlow, roundTrips), { numRuns: 200 })
  })

  it("the generators reach what they are for: code as line arrays, own ports, sub-flows, cycles", () => {
    const sample = fc.sample(validFlow, { numRuns: 300, seed: 42 })
    const specs = sample.flatMap((flow) => Object.values(flow.nodes))
    const texts = sample.map((flow) => Save.save(flow))
    expect(specs.some((spec) => spec.type === "ts")).toBe(true)
    expect(specs.some((spec) => spec.type === "subflow")).toBe(true)
    expect(texts.some((text) => /"source": \[/.test(text))).toBe(true)
    expect(specs.some((spec) => spec.type === "js" && scriptPorts(spec.config).length === 2)).toBe(true)
    expect(sample.some((flow) => flow.settings?.allowCycles === true)).toBe(true)
    expect(sample.some((flow) => flow.settings?.timeoutMs !== undefined)).toBe(true)
    expect(fc.sample(nflowFlow, { numRuns: 100, seed: 42 }).some((flow) => flow.settings?.allowCycles)).toBe(true)
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
