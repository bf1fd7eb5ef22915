import { readdirSync, readFileSync } from "node:fs"
import { Builtins, Compiler, Ir, Registry } from "@jsonflow/core"
import { Nodes as SandboxNodes } from "@jsonflow/sandbox"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Dsl, Execute, FlowFile, HttpRequest, Load, Problem, Save } from "../src/index.ts"
import { registry as nflowRunRegistry } from "./support/nflow.ts"

const registry = FlowFile.validationRegistry
/** With the sandbox's `js`/`ts` definitions (validated, not run here). */
const codeRegistry = Registry.merge(registry, Registry.make(...SandboxNodes.definitions))
const read = (path: string) => readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")

/** Every broken fixture with every error it must report: [JSON pointer, message]. */
const broken: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]> = [
  ["01-not-json.json", [["", 'unexpected "}" at line 1, column 18']]],
  ["02-trailing-comma.json", [["", 'expected a property name in double quotes but found "}" at line 4, column 1']]],
  ["03-top-level-array.json", [["", "expected a JSON object, got an array"]]],
  ["04-top-level-string.json", [["", "expected a JSON object, got a string"]]],
  ["05-empty.json", [["", "the input is empty at line 1, column 1"]]],
  ["06-unterminated-string.json", [["", "unterminated string at line 1, column 18"]]],
  ["07-bad-escape.json", [["", "invalid escape sequence in a string at line 1, column 20"]]],
  ["08-deep-nesting.json", [["", "the JSON nests deeper than 128 levels at line 1, column 240"]]],
  [
    "09-duplicate-node-id.json",
    [["/nodes/shape", 'duplicate node id "shape" (first defined at line 9); node ids must be unique']]
  ],
  ["10-duplicate-key.json", [["/id", 'duplicate key "id" (first at line 3); only one may stay']]],
  [
    "11-nflow-export.json",
    [
      [
        "/drawflow",
        "this is an nFlow designer export, not a JSON-Flow flow: convert it with `jsonflow import-nflow` (or Nflow.importExport)"
      ]
    ]
  ],
  ["12-missing-dsl.json", [["/dsl", 'is required: add "dsl": 1 (the format version)']]],
  ["13-dsl-string.json", [["/dsl", 'expected a format version number such as 1, got "1"']]],
  [
    "14-dsl-future.json",
    [["/dsl", "unsupported DSL version 2: this version of @jsonflow/json-dsl reads versions 0 to 1"]]
  ],
  ["15-dsl-fraction.json", [["/dsl", "expected a format version number such as 1, got 1.5"]]],
  ["16-flow-id-spaces.json", [["/id", 'a flow id holds 1-128 of A-Z a-z 0-9 _ . -, got "my orders"']]],
  ["17-version-number.json", [["/version", "expected string, got 3"]]],
  [
    "18-trigger-unknown.json",
    [["/trigger/type", 'unknown trigger type "webhook": expected one of manual, http, cron, queue']]
  ],
  ["19-trigger-http-no-path.json", [["/trigger/path", "is required"]]],
  [
    "20-trigger-http-bad-method.json",
    [
      [
        "/trigger/method",
        'expected "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" | "ANY", got "FETCH"'
      ]
    ]
  ],
  ["21-unknown-top-level-key.json", [["/nodez", "is not a known property"]]],
  ["22-nodes-array-v1.json", [["/nodes", "expected object, got an array of 1"]]],
  ["23-edges-object.json", [["/edges", "expected array, got an object"]]],
  ["24-settings-max-steps-zero.json", [["/settings/maxSteps", "expected a value greater than 0, got 0"]]],
  ["25-input-not-object.json", [["/input", 'expected object, got "string"']]],
  ["26-node-without-type.json", [["/nodes/done/type", "is required"]]],
  ["27-node-empty-type.json", [["/nodes/done/type", 'expected a value with a length of at least 1, got ""']]],
  ["28-node-unknown-key.json", [["/nodes/done/typ", "is not a known property"]]],
  ["29-node-unknown-type.json", [["/nodes/done/type", 'unknown node type "sql.query"']]],
  ["30-map-fields-number.json", [["/nodes/shape/config/fields", "expected object, got 42"]]],
  ["31-map-unknown-config-key.json", [["/nodes/shape/config/mrege", "is not a known property"]]],
  [
    "32-switch-reserved-port.json",
    [
      [
        "/nodes/done/config/cases/0/port",
        'a case port is a name like big_orders, and not default or error, got "error"'
      ]
    ]
  ],
  ["33-delay-negative.json", [["/nodes/done/config/ms", "expected a value between 0 and 86400000, got -1"]]],
  ["34-respond-status-99.json", [["/nodes/done/config/status", "expected a value between 100 and 599, got 99"]]],
  [
    "35-node-id-invalid.json",
    [
      [
        "/nodes/bad id!",
        'invalid node id "bad id!": a node id starts with a letter or _ and holds only letters, digits, _, - and .'
      ]
    ]
  ],
  ["36-position-string.json", [["/nodes/done/position/x", 'expected number, got "10"']]],
  ["37-retry-zero-attempts.json", [["/nodes/done/retry/maxAttempts", "expected a value between 1 and 100, got 0"]]],
  ["38-timeout-negative.json", [["/nodes/done/timeoutMs", "expected a value greater than 0, got -5"]]],
  ["39-edge-from-unknown-node.json", [["/edges/1/from/node", 'edge from unknown node "shpae"']]],
  ["40-edge-to-unknown-node.json", [["/edges/1/to/node", 'edge to unknown node "finish"']]],
  [
    "41-edge-unknown-output-port.json",
    [["/edges/1/from/port", 'node "shape" (map) has no output port "result"; its ports: out, error']]
  ],
  ["42-edge-to-named-port.json", [["/edges/1/to/port", 'node "done" (noop) has one input port, "in"; got "data"']]],
  ["43-edge-input-port.json", [["/edges/0/from/port", 'the flow input has one port, "out"; got "data"']]],
  ["44-edge-missing-to.json", [["/edges/1/to", "is required"]]],
  ["45-edge-string-from.json", [["/edges/1/from", 'expected object, got "shape.out"']]],
  [
    "46-cycle.json",
    [
      [
        "/nodes/shape",
        "cycle shape -> done -> shape: use a forEach node for loops, or set settings.allowCycles (bounded by maxSteps)"
      ]
    ]
  ],
  ["47-output-unknown-node.json", [["/output/node", 'the output names unknown node "result"']]],
  ["48-output-unknown-port.json", [["/output/port", 'the output names unknown port "value" of node "shape"']]],
  [
    "49-subflow-unknown-flow.json",
    [["/nodes/done/config/flow", 'node "done" calls flow "missing", which is not among the compiled flows']]
  ],
  [
    "50-filter-bad-operator.json",
    [
      [
        "/nodes/done/config/where/op",
        'expected "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "notIn" | "contains" | "startsWith" | "endsWith" | "exists" | "notExists" | "isEmpty" | "notEmpty", got "bigger"'
      ]
    ]
  ],
  [
    "51-filter-shapeless-condition.json",
    [
      [
        "/nodes/done/config/where",
        'matches none of the accepted shapes (one of the keys "path", "op", "all", "any", "not", "expr" is expected)'
      ]
    ]
  ],
  ["52-foreach-body-unknown-type.json", [["/nodes/done/config/body/nodes/x/type", 'unknown node type "nope"']]],
  ["53-v0-duplicate-ids.json", [["/nodes/1/id", 'duplicate node id "a" (also /nodes/0)']]],
  ["54-v0-bad-edge.json", [["/edges/1", 'expected a pair ["from[:port]", "to[:port]"]']]],
  ["55-v0-edge-unknown-port.json", [["/edges/1/0", 'node "a" (noop) has no output port "bad"; its ports: out, error']]],
  [
    "56-many-problems.json",
    [
      ["/nodes/shape/config/fields/id", "expected string | object, got 42"],
      ["/nodes/ghost/type", 'unknown node type "nope"'],
      ["/edges/2/to/node", 'edge to unknown node "nowhere"']
    ]
  ]
]

describe("load: broken flows report every problem with its pointer and a sentence", () => {
  it("covers every broken fixture", () => {
    const files = readdirSync(new URL("./fixtures/broken/", import.meta.url)).sort()
    expect(files).toEqual(broken.map(([file]) => file))
    expect(files.length).toBeGreaterThanOrEqual(40)
  })
  it.each(broken)("%s", (file, expected) => {
    const result = Load.load(read(`broken/${file}`), registry)
    expect(result._tag).toBe("Failed")
    const errors = result._tag === "Failed" ? result.problems.filter((p) => p.severity === "error") : []
    expect(errors.map((p) => [p.path, p.message])).toEqual(expected)
  })
  it("names the node and the line of each problem", () => {
    const result = Load.load(read("broken/56-many-problems.json"), registry)
    if (result._tag !== "Failed") throw new Error("expected problems")
    expect(result.problems.filter((p) => p.severity === "error").map((p) => [p.nodeId, p.line])).toEqual([
      ["shape", 13],
      ["ghost", 21],
      ["nowhere", 51]
    ])
  })
})

describe("load: garbage in is a clear error, never a crash or a hang", () => {
  it("refuses 50 MB before parsing it", () => {
    const started = performance.now()
    const result = Load.load("[".repeat(50 * 1024 * 1024), registry)
    expect(result).toMatchObject({
      _tag: "Failed",
      problems: [{ code: "too-large", path: "", message: "the input is 52428800 bytes; the limit is 16777216 bytes" }]
    })
    expect(performance.now() - started).toBeLessThan(2000)
  })
  it("refuses deep nesting without recursing (JSON.parse would overflow the stack)", () => {
    const deep = `${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`
    const result = Load.load(deep, registry, { limits: { maxBytes: 4 * 1024 * 1024 } })
    expect(result).toMatchObject({ _tag: "Failed", problems: [{ code: "too-deep", line: 1, column: 129 }] })
  })
  it("refuses a deep or cyclic value passed already parsed", () => {
    const cyclic: Record<string, unknown> = { dsl: 1 }
    cyclic.self = cyclic
    expect(Load.load(cyclic, registry)).toMatchObject({ _tag: "Failed", problems: [{ code: "too-deep" }] })
  })
  it.each([
    [null, "expected a JSON object, got null"],
    [42, "expected a JSON object, got a number"],
    [[], "expected a JSON object, got an array"],
    [new Uint8Array([0x7b, 0x7d]), 'is required: add "dsl": 1 (the format version)']
  ])("%o", (input, message) => {
    const result = Load.load(input, registry)
    expect(result._tag === "Failed" && result.problems[0]?.message).toBe(message)
  })
  it('says a missing key is required (not "expected object, got nothing") and calls the root (root)', async () => {
    const missing = Load.load('{"dsl":1,"id":"t","version":"1","trigger":{"type":"manual"},"edges":[]}', registry)
    expect(missing._tag === "Failed" && missing.problems.map((p) => [p.path, p.message])).toEqual([
      ["/nodes", "is required"]
    ])
    const array = Load.load("[]", registry)
    if (array._tag !== "Failed") throw new Error("expected problems")
    expect(Problem.format("flow.json", array.problems[0]!)).toBe(
      "flow.json: (root): expected a JSON object, got an array"
    )
    const error = await Effect.runPromise(Effect.flip(Load.loadEffect("[]", registry)))
    expect(error.message).toBe("the flow has 1 problem(s):\n  (root): expected a JSON object, got an array")
  })
  it("keeps __proto__ keys as data", () => {
    const result = Load.load(
      '{"dsl":1,"id":"p","version":"1","trigger":{"type":"manual"},"nodes":{"a":{"type":"map","config":{"fields":{"__proto__":"x"}}}},"edges":[{"from":{"node":"$input","port":"out"},"to":{"node":"a","port":"in"}}]}',
      registry
    )
    expect(result._tag).toBe("Loaded")
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })
})

describe("load: valid flows of every kind", () => {
  const lines = Load.load(read("valid/lines.flow.json"), registry)
  it.each(["orders.flow.json", "lines.flow.json", "guard.flow.json", "code.flow.json", "nflow.flow.json"])(
    "%s",
    (file) => {
      const result = Load.load(read(`valid/${file}`), codeRegistry)
      expect(result._tag === "Loaded" ? result.warnings : result.problems).toEqual([])
    }
  )
  it.each(["orders.flow.json", "code.flow.json", "nflow.flow.json"])(
    "%s is canonical: save(load(file)) is the file",
    (file) => {
      const result = Load.load(read(`valid/${file}`), codeRegistry)
      if (result._tag !== "Loaded") throw new Error(JSON.stringify(result.problems))
      expect(Save.save(result.flow, { layout: result.layout, schema: true })).toBe(read(`valid/${file}`))
    }
  )
  it("code nodes: ts and js with line arrays, ports, their own limits; settings.timeoutMs", () => {
    const result = Load.load(read("valid/code.flow.json"), codeRegistry)
    if (result._tag !== "Loaded") throw new Error(JSON.stringify(result.problems))
    expect(result.flow.settings).toEqual({ timeoutMs: 5000, maxSteps: 50 })
    expect(result.flow.nodes.total?.config).toMatchObject({
      source: expect.stringContaining("\nexport default (order: { readonly items: ReadonlyArray<Item> }): number =>\n"),
      timeoutMs: 1000
    })
    expect(result.flow.nodes.route?.config).toMatchObject({ ports: ["big", "small"] })
    // Without the sandbox's definitions the code nodes are unknown types, said at their pointer.
    const bare = Load.load(read("valid/code.flow.json"), registry)
    expect(bare._tag === "Failed" && bare.problems.map((p) => [p.path, p.message])).toEqual([
      ["/nodes/total/type", 'unknown node type "ts"'],
      ["/nodes/route/type", 'unknown node type "js"']
    ])
  })
  it("nflow.* nodes in the canonical format run like the imported export (loop, fork, templates)", async () => {
    const result = Load.load(read("valid/nflow.flow.json"), registry)
    if (result._tag !== "Loaded") throw new Error(JSON.stringify(result.problems))
    const compiled = Compiler.compileSync(result.flow, nflowRunRegistry)
    if (compiled._tag !== "Compiled") throw compiled.error
    const request = (query: Record<string, string>) =>
      Effect.runPromise(
        Execute.runRequest(
          compiled.flow,
          HttpRequest.make({ method: "GET", path: "/greet/ada", params: { name: "ada" }, query })
        )
      )
    expect(await request({})).toEqual({
      status: 200,
      headers: { "content-type": "application/json" },
      body: { lang: "en", items: [1, 2, 3], total: 6, __foreach: [], n: 3 }
    })
    expect(await request({ lang: "fr", who: "Ada" })).toEqual({
      status: 200,
      headers: { "content-type": "text/html; charset=UTF-8" },
      body: "<p>Bonjour Ada</p>"
    })
  })
  it("accepts the $schema URL earlier releases wrote, and writes the published one", () => {
    const current = read("valid/orders.flow.json")
    expect(current).toContain(`"$schema": "${Dsl.SCHEMA_ID}"`)
    for (const legacy of Dsl.LEGACY_SCHEMA_IDS) {
      const result = Load.load(current.replace(Dsl.SCHEMA_ID, legacy), registry)
      expect(result._tag === "Loaded" ? result.warnings : result.problems).toEqual([])
    }
    expect(Dsl.SCHEMA_ID).toBe("https://jsonflow.dev/schema/flow.schema.json")
  })
  it("resolves sub-flow calls against the flows given", () => {
    if (lines._tag !== "Loaded") throw new Error("lines must load")
    expect(Load.load(read("valid/caller.flow.json"), registry)._tag).toBe("Failed")
    const caller = Load.load(read("valid/caller.flow.json"), registry, { flows: { lines: lines.flow } })
    expect(caller._tag).toBe("Loaded")
  })
  it("keeps designer positions out of the IR and gives them back as the layout", () => {
    const result = Load.load(read("valid/orders.flow.json"), registry)
    if (result._tag !== "Loaded") throw new Error("orders must load")
    expect(result.layout).toEqual({ shape: { x: 0, y: 80 }, route: { x: 240, y: 80 } })
    expect(Object.keys(result.flow.nodes.shape ?? {}).sort()).toEqual(["config", "label", "type"])
  })
  it("runs what it loads", async () => {
    const result = Load.load(read("valid/orders.flow.json"), registry)
    if (result._tag !== "Loaded") throw new Error("orders must load")
    const compiled = Compiler.compileSync(result.flow, Builtins.registry)
    if (compiled._tag !== "Compiled") throw compiled.error
    const run = await Effect.runPromise(
      compiled.flow.run({ id: "o1", amount: 1200 }, { trigger: { params: { region: "eu" } } })
    )
    expect(run.reply).toEqual({
      status: 201,
      headers: { "x-flow": "orders" },
      body: { id: "o1", amount: 1200, region: "eu", currency: "EUR", status: "review" }
    })
  })
  it("warns about credential values and keeps loading", () => {
    const result = Load.load(
      {
        dsl: 1,
        id: "c",
        version: "1",
        trigger: { type: "manual" },
        nodes: { a: { type: "map", config: { fields: { password: { value: "hunter2" } } } } },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "a", port: "in" } }]
      },
      registry
    )
    expect(result._tag).toBe("Loaded")
    expect(result._tag === "Loaded" && result.warnings.map((w) => [w.code, w.path])).toEqual([
      ["credential-value", "/nodes/a/config/fields/password"]
    ])
  })
  it("the Effect API fails with LoadError carrying the problems", async () => {
    const error = await Effect.runPromise(Effect.flip(Load.loadEffect("[]", registry)))
    expect(error._tag).toBe("LoadError")
    expect(error.problems[0]?.message).toBe("expected a JSON object, got an array")
  })
})

describe("migrations", () => {
  it("reads the pre-release shape (dsl 0) into the same IR as its dsl 1 form", () => {
    const legacy = Load.load(read("valid/legacy-v0.json"), registry)
    if (legacy._tag !== "Loaded") throw new Error(JSON.stringify(legacy.problems))
    expect(legacy.version).toBe(0)
    expect(legacy.layout).toEqual({ pick: { x: 10, y: 20 } })
    const current = Load.load(Save.save(legacy.flow, { layout: legacy.layout }), registry)
    expect(current._tag === "Loaded" && current.version).toBe(1)
    expect(current._tag === "Loaded" && Ir.equals(current.flow, legacy.flow)).toBe(true)
    expect(legacy.flow.nodes.pick).toEqual({ type: "map", timeoutMs: 500, config: { fields: { name: "user.name" } } })
    expect(legacy.flow.edges[1]).toEqual({ from: { node: "pick", port: "out" }, to: { node: "done", port: "in" } })
  })
})
