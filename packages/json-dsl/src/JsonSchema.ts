/**
 * The JSON Schema (draft 2020-12) of the canonical format, generated from the {@link Dsl} Schemas and the
 * node catalog. The package publishes it as `schema/flow.schema.json` (`@jsonflow/json-dsl/schema.json`)
 * so editors autocomplete and check flow files that name it in `"$schema"`: the document's shape, the known
 * node types, and each known type's `config`. `npm run generate:schema -w packages/json-dsl` rewrites it; a
 * test fails when the committed file is stale.
 *
 * @module JsonSchema
 */
import { Builtins, Registry } from "@jsonflow/core"
import { JsonSchema, Schema } from "effect"
import * as Dsl from "./Dsl.ts"
import * as JsNode from "./nflow/JsNode.ts"
import * as Nodes from "./nflow/nodes.ts"

type Json = Record<string, unknown>

/** The node types the published schema describes: the built-ins and the nFlow types. */
export const publishedRegistry = Registry.merge(
  Builtins.registry,
  Registry.merge(Nodes.nativeRegistry, Registry.make(JsNode.definitionForValidation))
)

const lines = { type: "array", items: { type: "string" } }

/**
 * The JSON Schema document of a flow file. Objects are closed (`additionalProperties: false`), as the loader
 * rejects unknown keys; each type of `registry` gets its `config` schema (other types accept any config).
 *
 * @example
 * ```ts
 * import { JsonSchema } from "@jsonflow/json-dsl"
 * JsonSchema.flowJsonSchema().$id // "https://jsonflow.dev/schema/dsl-1.json"
 * ```
 */
export const flowJsonSchema = <R>(registry: Registry.Registry<R> = publishedRegistry as Registry.Registry<R>): Json => {
  const document = Schema.toJsonSchemaDocument(Dsl.FlowDocument, { onExcessProperty: "error" })
  const defs: Record<string, unknown> = { ...(document.definitions as Json) }
  const hoist = (schema: Json): Json => {
    const { $defs, ...rest } = schema
    for (const [name, definition] of Object.entries(($defs as Json | undefined) ?? {})) {
      if (name in defs && JSON.stringify(defs[name]) !== JSON.stringify(definition)) {
        throw new Error(`two different JSON Schema definitions named ${name}`)
      }
      defs[name] = definition
    }
    return rest
  }
  const catalog = Registry.catalog(registry)
  const rules = catalog.map((entry) => {
    const config = hoist(entry.config as Json)
    const field = Dsl.CODE_FIELDS[entry.type]
    const properties = config.properties as Record<string, unknown> | undefined
    // Code may be written as an array of lines.
    const withLines =
      field !== undefined && properties?.[field] !== undefined
        ? { ...config, properties: { ...properties, [field]: { anyOf: [properties[field], lines] } } }
        : config
    return {
      if: { properties: { type: { const: entry.type } }, required: ["type"] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
      then: { properties: { config: { ...withLines, description: entry.description } } }
    }
  })
  const node = defs.Node as Json
  const nodeProperties = node.properties as Json
  defs.Node = {
    ...node,
    properties: {
      ...nodeProperties,
      type: { ...(nodeProperties.type as Json), examples: catalog.map((entry) => entry.type) }
    },
    allOf: rules
  }
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: Dsl.SCHEMA_ID,
    title: "JSON-Flow flow",
    description: `A flow in the canonical JSON format of JSON-Flow, "dsl": ${Dsl.CURRENT_VERSION}.`,
    ...document.schema,
    $defs: defs
  }
}

/** The schema as the committed file holds it (two-space JSON, final newline). */
export const flowJsonSchemaText = (): string => `${JSON.stringify(flowJsonSchema(), null, 2)}\n`
