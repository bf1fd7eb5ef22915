/**
 * Writes `schema/flow.schema.json` from the format's Effect Schemas: `npm run generate:schema -w packages/json-dsl`.
 *
 * @module generate-schema
 */
import { writeFileSync } from "node:fs"
import { flowJsonSchemaText } from "../src/JsonSchema.ts"
import { publishedRegistry } from "./published-registry.ts"

const target = new URL("../schema/flow.schema.json", import.meta.url)
writeFileSync(target, flowJsonSchemaText(publishedRegistry))
process.stdout.write(`wrote ${target.pathname}\n`)
