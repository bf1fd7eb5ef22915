import { readdirSync, readFileSync } from "node:fs"
import { Ajv2020 } from "ajv/dist/2020.js"
import { describe, expect, it } from "vitest"
import { publishedRegistry } from "../scripts/published-registry.ts"
import { Dsl, JsonSchema, Nflow, Save } from "../src/index.ts"
import { fixture, modulesDir } from "./support/nflow.ts"

const schema = JsonSchema.flowJsonSchema(publishedRegistry)
const validate = new Ajv2020({ allErrors: true }).compile(schema)
const valid = (document: unknown) =>
  validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)

describe("published JSON Schema", () => {
  it("the committed schema/flow.schema.json is the one generated (npm run generate:schema -w packages/json-dsl)", () => {
    const committed = JSON.parse(
      readFileSync(new URL("../schema/flow.schema.json", import.meta.url), "utf8")
    ) as unknown
    expect(committed).toEqual(schema)
  })
  it("has the $id the docs site serves it under", () => {
    expect(schema.$id).toBe(Dsl.SCHEMA_ID)
    expect(Dsl.SCHEMA_ID).toMatch(/\/schema\/flow\.schema\.json$/)
  })
  it("is closed and lists the known node types for completion", () => {
    const defs = schema.$defs as {
      Flow: Record<string, unknown>
      Node: { properties: { type: { examples: unknown } } }
    }
    expect(defs.Flow.additionalProperties).toBe(false)
    expect(defs.Flow.required).toEqual(["dsl", "id", "version", "trigger", "nodes", "edges"])
    expect(defs.Node.properties.type.examples).toEqual(expect.arrayContaining(["nflow.forEach", "js", "ts", "map"]))
  })
  const validFiles = readdirSync(new URL("./fixtures/valid/", import.meta.url)).sort()
  it.each(validFiles.filter((file) => file !== "legacy-v0.json"))("accepts valid/%s", (file) => {
    expect(valid(JSON.parse(fixture(`valid/${file}`)))).toEqual([])
  })
  it("describes dsl 1 only: a dsl 0 file (read through a migration) is not its concern", () => {
    expect(valid(JSON.parse(fixture("valid/legacy-v0.json")))).toContain(" must have required property 'dsl'")
  })
  it("accepts imported nFlow flows, code written as line arrays included", () => {
    for (const imported of Nflow.importExport(fixture("nflow/loops.json"), { modules: modulesDir() }).flows) {
      expect(valid(JSON.parse(Save.save(imported.flow, { layout: imported.layout, schema: true })))).toEqual([])
    }
  })
  /**
   * The broken fixtures the schema lets through, by design: what needs the text (syntax, repeated keys, which
   * a parser merges), the registry (node types are open) or the whole graph (edges, ports, cycles, sub-flows).
   */
  const beyondTheSchema: Readonly<Record<string, string>> = {
    "01-not-json.json": "not JSON",
    "02-trailing-comma.json": "not JSON",
    "05-empty.json": "not JSON",
    "06-unterminated-string.json": "not JSON",
    "07-bad-escape.json": "not JSON",
    "08-deep-nesting.json": "nesting depth: JSON Schema has no depth limit",
    "09-duplicate-node-id.json": "repeated keys: gone once parsed",
    "10-duplicate-key.json": "repeated keys: gone once parsed",
    "29-node-unknown-type.json": "node types are open: the registry decides",
    "39-edge-from-unknown-node.json": "edges name nodes: a graph check",
    "40-edge-to-unknown-node.json": "edges name nodes: a graph check",
    "41-edge-unknown-output-port.json": "ports depend on the node type and its config",
    "42-edge-to-named-port.json": "ports depend on the node type and its config",
    "43-edge-input-port.json": "ports depend on the node type and its config",
    "46-cycle.json": "cycles: a graph check",
    "47-output-unknown-node.json": "the output names a node: a graph check",
    "48-output-unknown-port.json": "ports depend on the node type and its config",
    "49-subflow-unknown-flow.json": "other flows: known when compiling",
    "52-foreach-body-unknown-type.json": "node types are open: the registry decides"
  }
  it("rejects every other broken fixture", () => {
    const files = readdirSync(new URL("./fixtures/broken/", import.meta.url)).sort()
    const accepted = files.filter((file) => {
      let document: unknown
      try {
        document = JSON.parse(fixture(`broken/${file}`))
      } catch {
        return true
      }
      return valid(document).length === 0
    })
    expect(accepted).toEqual(Object.keys(beyondTheSchema))
    expect(files.length - accepted.length).toBeGreaterThanOrEqual(35)
  })
  it.each([
    ["16-flow-id-spaces.json", '/id must match pattern "^[A-Za-z0-9_.-]{1,128}$"'],
    ["35-node-id-invalid.json", "/nodes property name must be valid"],
    ["31-map-unknown-config-key.json", "/nodes/shape/config must NOT have additional properties"],
    [
      "32-switch-reserved-port.json",
      '/nodes/done/config/cases/0/port must match pattern "^(?!default$|error$)[A-Za-z_][A-Za-z0-9_-]*$"'
    ],
    ["17-version-number.json", "/version must be string"],
    ["30-map-fields-number.json", "/nodes/shape/config/fields must be object"],
    ["33-delay-negative.json", "/nodes/done/config/ms must be >= 0"],
    ["28-node-unknown-key.json", "/nodes/done must NOT have additional properties"]
  ])("rejects broken/%s in the editor too", (file, message) => {
    expect(valid(JSON.parse(fixture(`broken/${file}`)))).toContain(message)
  })
})
