/**
 * Writes `schema/flow.schema.json` from the format's Effect Schemas: `npm run generate:schema -w packages/json-dsl`.
 *
 * @module generate-schema
 */
import { writeFileSync } from "node:fs"
import { flowJsonSchemaText } from "../src/JsonSchema.ts"

const target = new URL("../schema/flow.schema.json", import.meta.url)
writeFileSync(target, flowJsonSchemaText())
process.stdout.write(`wrote ${target.pathname}\n`)
