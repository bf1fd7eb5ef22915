import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { JsonSchema } from "../src/index.ts"

describe("published JSON Schema", () => {
  it("the committed schema/flow.schema.json is the one generated from the Schemas (npm run generate:schema)", () => {
    const committed = JSON.parse(
      readFileSync(new URL("../schema/flow.schema.json", import.meta.url), "utf8")
    ) as unknown
    expect(committed).toEqual(JsonSchema.flowJsonSchema())
  })
  it("is closed and names the format version", () => {
    const schema = JsonSchema.flowJsonSchema() as {
      $defs: { Flow: { additionalProperties: unknown; required: unknown } }
    }
    expect(schema.$defs.Flow.additionalProperties).toBe(false)
    expect(schema.$defs.Flow.required).toEqual(["dsl", "id", "version", "trigger", "nodes", "edges"])
  })
})
