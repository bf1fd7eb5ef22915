import { Ir } from "@jsonflow/core"
import { describe, expect, it } from "vitest"
import { FlowFile, Load, Nflow, Save } from "../src/index.ts"
import { fixture, modulesDir } from "./support/nflow.ts"

describe("nFlow import: problems with JSON paths into the export", () => {
  const result = Nflow.importExport(fixture("nflow/broken.json"))
  it("reports unknown types, non-string types, missing modules, plugins, auth, routes, dangling connections", () => {
    expect(result.problems.map((p) => [p.severity, p.path, p.message])).toEqual([
      [
        "error",
        "/drawflow/Admin/data/f/data/type",
        "the node type must be a string, got 7: nflow-runtime fails every request that scans it"
      ],
      [
        "warning",
        "/drawflow/Admin/data/h/inputs/input_1/connections/0",
        'inputs lists a connection from "s1".output_1 that its outputs do not have (outputs are what runs)'
      ],
      [
        "warning",
        "/drawflow/Admin/data/s6/outputs",
        "the starter's output_1 is not connected: nflow-runtime ignores it, no flow is made"
      ],
      [
        "error",
        "/drawflow/Admin/data/a/data/type",
        'unknown nFlow node type "sql" (nflow-runtime answers 500 "Type node not found")'
      ],
      [
        "error",
        "/drawflow/Admin/data/c/data/script",
        'custom box "csv_import" has no module: put its code in csv_import.js in the modules directory (--modules)'
      ],
      [
        "warning",
        "/drawflow/Admin/data/c/outputs/output_1/connections/0/node",
        'node "ghost-node" does not exist in module "Admin": the flow ends here (nflow-runtime: 200, empty body)'
      ],
      [
        "error",
        "/drawflow/Admin/data/d/data/type",
        '"dromedary" (Go plugin) boxes are not supported: every shipped plugin is a stub that returns a null payload'
      ],
      [
        "error",
        "/drawflow/Admin/data/s4/data/nflow_auth",
        "nflow_auth runs the runtime's triggers/auth.js, which has no equivalent here: authenticate in front of the flow (or in a js box) and set nflow_auth to false"
      ],
      [
        "warning",
        "/drawflow/Admin/data/e/data/code",
        "the script defines no function main(): every request through this box answers 500 (ReferenceError)"
      ],
      ["error", "/drawflow/Admin/data/s5/data/urlpattern", "an empty urlpattern never matches a request"],
      [
        "error",
        "/drawflow/Admin/data/g/data/template",
        "pipelines (|) are not supported: this template uses Go template syntax the importer does not render"
      ]
    ])
  })
  it("gives each problem its line in the export and its node", () => {
    const unknown = result.problems.find((p) => p.path === "/drawflow/Admin/data/a/data/type")
    expect([unknown?.nodeId, unknown?.line]).toEqual(["a", 35])
  })
  it("keeps the flows without errors usable", () => {
    expect(result.flows.map((f) => [f.flow.id, f.problems.some((p) => p.severity === "error")])).toEqual([
      ["admin-get-report", true],
      ["admin-post-import", true],
      ["admin-get-plugin", true],
      ["admin-get-private", true],
      ["admin-get", true],
      ["admin-get-tpl", true]
    ])
  })
  it("refuses what is not an export", () => {
    expect(Nflow.importExport('{"dsl": 1}').problems.map((p) => [p.path, p.message])).toEqual([
      ["/drawflow", 'is required: an nFlow export is { "drawflow": { "<module>": { "data": { ... } } } }']
    ])
    expect(Nflow.importExport("{").problems[0]?.code).toBe("invalid-json")
  })
  it("reports a malformed box once, at the box, not again as a connection to a node that does not exist", () => {
    const starter = (target: string) => ({
      data: { type: "starter", method: "GET", urlpattern: "/a" },
      outputs: { output_1: { connections: [{ node: target, output: "input_1" }] } }
    })
    const exported = {
      drawflow: {
        Home: { data: { a: starter("b"), b: { data: null, outputs: {} }, c: { data: {}, outputs: {} }, d: 5 } },
        Other: { data: { a: starter("b"), b: { data: { type: "js", code: "function main(){}" } } } },
        Third: { data: { s: { ...starter("c"), data: { type: "starter", method: "GET", urlpattern: "/c" } } } }
      }
    }
    const problems = Nflow.importExport(exported).problems
    expect(problems.map((p) => [p.severity, p.path, p.message])).toEqual([
      [
        "error",
        "/drawflow/Home/data/b/data",
        "the node has no data object: nflow-runtime fails every request that scans it"
      ],
      [
        "error",
        "/drawflow/Home/data/c/data/type",
        "the node has no type (data.type is missing): nflow-runtime fails every request that scans it"
      ],
      ["error", "/drawflow/Home/data/d", "expected a node object"],
      [
        "warning",
        "/drawflow/Other/data/a/data/urlpattern",
        "GET /a is also served by /drawflow/Home/data/a: nflow-runtime picks one at random, JSON-Flow the first"
      ],
      [
        "warning",
        "/drawflow/Third/data/s/outputs/output_1/connections/0/node",
        'node "c" does not exist in module "Third": the flow ends here (nflow-runtime: 200, empty body)'
      ]
    ])
  })
  it("names each flow that cannot be written, with its route and first error", () => {
    expect(Nflow.notWritten(result)).toEqual([
      "6 flows not written because of errors:",
      '  admin-get-report.flow.json (GET /report, module "Admin", starter s1): /drawflow/Admin/data/a/data/type: unknown nFlow node type "sql" (nflow-runtime answers 500 "Type node not found")',
      '  admin-post-import.flow.json (POST /import, module "Admin", starter s2): /drawflow/Admin/data/c/data/script: custom box "csv_import" has no module: put its code in csv_import.js in the modules directory (--modules)',
      '  admin-get-plugin.flow.json (GET /plugin, module "Admin", starter s3): /drawflow/Admin/data/d/data/type: "dromedary" (Go plugin) boxes are not supported: every shipped plugin is a stub that returns a null payload',
      '  admin-get-private.flow.json (GET /private, module "Admin", starter s4): /drawflow/Admin/data/s4/data/nflow_auth: nflow_auth runs the runtime\'s triggers/auth.js, which has no equivalent here: authenticate in front of the flow (or in a js box) and set nflow_auth to false',
      '  admin-get.flow.json (GET "", module "Admin", starter s5): /drawflow/Admin/data/s5/data/urlpattern: an empty urlpattern never matches a request',
      '  admin-get-tpl.flow.json (GET /tpl, module "Admin", starter s7): /drawflow/Admin/data/g/data/template: pipelines (|) are not supported: this template uses Go template syntax the importer does not render'
    ])
    expect(Nflow.notWritten(Nflow.importExport(fixture("nflow/users.json")))).toEqual([])
  })
})

describe("nFlow import: canonical output", () => {
  it("writes flows that load back to the same IR, with designer positions", () => {
    const result = Nflow.importExport(fixture("nflow/loops.json"), { modules: modulesDir() })
    for (const imported of result.flows) {
      const text = Save.save(imported.flow, { layout: imported.layout, schema: true })
      const loaded = Load.load(text, FlowFile.validationRegistry)
      expect(loaded._tag === "Loaded" ? loaded.warnings : loaded.problems).toEqual([])
      expect(loaded._tag === "Loaded" && Ir.equals(loaded.flow, imported.flow)).toBe(true)
    }
    const custom = result.flows.find((f) => f.flow.id === "loops-get-custom-name")
    expect(custom?.flow.nodes.n_19).toMatchObject({ type: "nflow.js", label: "greet", config: { module: "greet" } })
  })
  it("maps ids the IR does not accept (integers, UUIDs starting with a digit) and keeps the originals in config", () => {
    const result = Nflow.importExport(fixture("nflow/users.json"))
    const flow = result.flows[0]!.flow
    expect(Object.keys(flow.nodes)).toEqual([
      "n_6f1c2a3e-0b1d-4c1e-9a2b-111111111111",
      "a7d0c9e2-5b4a-4f7e-8c3d-222222222222",
      "c3b1f0aa-9f8e-4d7c-b6a5-333333333333",
      "d4e2a1bb-8e7d-4c6b-a594-444444444444"
    ])
    expect(flow.nodes["n_6f1c2a3e-0b1d-4c1e-9a2b-111111111111"]?.config).toMatchObject({
      id: "6f1c2a3e-0b1d-4c1e-9a2b-111111111111"
    })
  })
})

describe("nFlow script contract", () => {
  it("declares names the script assigns without var, so sloppy nFlow code also runs in strict sandboxes", () => {
    expect(
      Nflow.Contract.impliedGlobals("for (key in params) { total = total + 1 }\nvar ok = 1\nx.y = 2\nif (a == b) c = 3")
    ).toEqual(["key", "total"])
  })
  it("renders Go templates like html/template (escaping, float64 numbers, range, else)", () => {
    const { parse, render } = Nflow.GoTemplate
    expect(render(parse("{{range .items}}<li>{{.}}</li>{{else}}none{{end}}"), { items: [1, "a+b", 1e21] })).toBe(
      "<li>1</li><li>a&#43;b</li><li>1e&#43;21</li>"
    )
    expect(render(parse("{{with .user}}{{.name}}{{end}}{{if not .x}}!{{end}}"), { user: { name: "O'Hara" } })).toBe(
      "O&#39;Hara!"
    )
    expect(() => parse('{{template "x"}}')).toThrow("unexpected {{template}}")
  })
})
