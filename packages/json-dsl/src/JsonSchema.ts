/**
 * The JSON Schema (draft 2020-12) of the canonical format, generated from the {@link Dsl} Schemas. The
 * package publishes it as `schema/flow.schema.json` (`@jsonflow/json-dsl/schema.json`) so editors
 * autocomplete and check flow files that name it in `"$schema"`; `npm run generate:schema` in the package
 * rewrites it, and a test fails when the committed file is stale.
 *
 * @module JsonSchema
 */
import { JsonSchema, Schema } from "effect"
import * as Dsl from "./Dsl.ts"

/**
 * The JSON Schema document of a flow file. Objects are closed (`additionalProperties: false`), as the loader
 * rejects unknown keys.
 *
 * @example
 * ```ts
 * import { JsonSchema } from "@jsonflow/json-dsl"
 * JsonSchema.flowJsonSchema().$id // "https://jsonflow.dev/schema/dsl-1.json"
 * ```
 */
export const flowJsonSchema = (): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(Dsl.FlowDocument, { onExcessProperty: "error" })
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: Dsl.SCHEMA_ID,
    title: "JSON-Flow flow",
    description: `A flow in the canonical JSON format of JSON-Flow, "dsl": ${Dsl.CURRENT_VERSION}.`,
    ...document.schema,
    $defs: document.definitions
  }
}

/** The schema as the committed file holds it (two-space JSON, final newline). */
export const flowJsonSchemaText = (): string => `${JSON.stringify(flowJsonSchema(), null, 2)}\n`
