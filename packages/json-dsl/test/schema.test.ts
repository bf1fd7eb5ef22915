import { readFileSync } from "node:fs"
import { Ajv2020 } from "ajv/dist/2020.js"
import { describe, expect, it } from "vitest"
import { JsonSchema, Nflow, Save } from "../src/index.ts"
import { fixture, modulesDir } from "./support/nflow.ts"

const schema = JsonSchema.flowJsonSchema()
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
  it("is closed and lists the known node types for completion", () => {
    const defs = schema.$defs as {
      Flow: Record<string, unknown>
      Node: { properties: { type: { examples: unknown } } }
    }
    expect(defs.Flow.additionalProperties).toBe(false)
    expect(defs.Flow.required).toEqual(["dsl", "id", "version", "trigger", "nodes", "edges"])
    expect(defs.Node.properties.type.examples).toContain("nflow.forEach")
  })
  it.each(["orders.flow.json", "lines.flow.json", "guard.flow.json", "caller.flow.json"])(
    "accepts valid/%s",
    (file) => {
      expect(valid(JSON.parse(fixture(`valid/${file}`)))).toEqual([])
    }
  )
  it("accepts imported nFlow flows, code written as line arrays included", () => {
    for (const imported of Nflow.importExport(fixture("nflow/loops.json"), { modules: modulesDir() }).flows) {
      expect(valid(JSON.parse(Save.save(imported.flow, { layout: imported.layout, schema: true })))).toEqual([])
    }
  })
  it.each([
    ["17-version-number.json", "/version must be string"],
    ["30-map-fields-number.json", "/nodes/shape/config/fields must be object"],
    ["33-delay-negative.json", "/nodes/done/config/ms must be >= 0"],
    ["28-node-unknown-key.json", "/nodes/done must NOT have additional properties"]
  ])("rejects broken/%s in the editor too", (file, message) => {
    expect(valid(JSON.parse(fixture(`broken/${file}`)))).toContain(message)
  })
})
