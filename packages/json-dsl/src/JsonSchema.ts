/**
 * The JSON Schema (draft 2020-12) of the canonical format, generated from the {@link Dsl} Schemas and the
 * node definitions' config Schemas. The package publishes it as `schema/flow.schema.json` (`@jsonflow/json-dsl/schema.json`)
 * so editors autocomplete and check flow files that name it in `"$schema"`: the document's shape, the known
 * node types, and each known type's `config`. `npm run generate:schema -w packages/json-dsl` rewrites it; a
 * test fails when the committed file is stale.
 *
 * @module JsonSchema
 */
import { Builtins, Ir, Registry } from "@jsonflow/core"
import { JsonSchema, Schema, type SchemaAST } from "effect"
import * as Dsl from "./Dsl.ts"
import * as JsNode from "./nflow/JsNode.ts"
import * as Nodes from "./nflow/nodes.ts"

type Json = Record<string, unknown>

/** The node types this package knows: the built-ins and the nFlow types (the committed file adds `js`/`ts`). */
export const publishedRegistry = Registry.merge(
  Builtins.registry,
  Registry.merge(Nodes.nativeRegistry, Registry.make(JsNode.definitionForValidation))
)

const lines = { type: "array", items: { type: "string" } }

const isJson = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** The RegExp sources of a node's `Schema.isPattern` checks. */
const patternsOf = (ast: SchemaAST.AST): ReadonlyArray<string> =>
  (ast.checks ?? []).flatMap((check) => {
    const representation = check.annotations?.representation as
      | { readonly id?: unknown; readonly payload?: { readonly source?: unknown } }
      | undefined
    return representation?.id === "effect/schema/isPattern" && typeof representation.payload?.source === "string"
      ? [representation.payload.source]
      : []
  })

/**
 * Adds the `pattern`s Effect leaves out: it exports a RegExp only when it has the `u` flag, and the IR's
 * id checks have none. Walks the Schema and its JSON Schema side by side (properties, records, arrays,
 * unions, `$ref`s into `defs`); where the two shapes differ it stops, so the worst case is a looser schema.
 */
const addPatterns = (ast: SchemaAST.AST, json: Json, defs: Json, seen = new Set<Json>()): void => {
  const ref = typeof json.$ref === "string" ? /^#\/\$defs\/(.+)$/.exec(json.$ref)?.[1] : undefined
  const target = ref === undefined ? json : defs[ref]
  if (!isJson(target) || seen.has(target)) return
  seen.add(target)
  const patterns = patternsOf(ast)
  if (patterns.length > 0 && target.type === "string" && target.pattern === undefined) {
    const [first, ...rest] = patterns
    target.pattern = first
    if (rest.length > 0)
      target.allOf = [...((target.allOf as Array<unknown>) ?? []), ...rest.map((p) => ({ pattern: p }))]
  }
  switch (ast._tag) {
    case "Objects": {
      const properties = isJson(target.properties) ? target.properties : {}
      for (const signature of ast.propertySignatures) {
        const property = properties[String(signature.name)]
        if (isJson(property)) addPatterns(signature.type, property, defs, seen)
      }
      for (const signature of ast.indexSignatures) {
        const keys = patternsOf(signature.parameter)
        if (keys.length > 0 && target.propertyNames === undefined) target.propertyNames = { pattern: keys[0] }
        if (isJson(target.additionalProperties)) addPatterns(signature.type, target.additionalProperties, defs, seen)
      }
      return
    }
    case "Arrays": {
      const rest = ast.rest[0]
      if (rest !== undefined && isJson(target.items)) addPatterns(rest, target.items, defs, seen)
      return
    }
    case "Union": {
      const branches = target.anyOf ?? target.oneOf
      if (Array.isArray(branches) && branches.length === ast.types.length) {
        ast.types.forEach((type, i) => {
          const branch: unknown = branches[i]
          if (isJson(branch)) addPatterns(type, branch, defs, seen)
        })
      }
      return
    }
    case "Suspend":
      addPatterns(ast.thunk(), target, defs, new Set([...seen].filter((j) => j !== target)))
      return
    default:
      return
  }
}

/**
 * The closed JSON Schema of one Schema (unknown keys are errors, as the compiler decodes configs strictly),
 * with its `pattern`s, its definitions hoisted into `defs`.
 */
const closedJsonSchema = (schema: Schema.Top, defs: Json): Json => {
  let document: ReturnType<typeof Schema.toJsonSchemaDocument>
  try {
    document = Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" })
  } catch {
    // A Schema with no JSON Schema form (a declared class, a function): accept anything.
    return {}
  }
  // Copies: the walk below adds patterns, and Effect may hand out shared objects.
  const local = structuredClone(document.definitions) as Json
  const root = structuredClone(document.schema) as Json
  addPatterns(schema.ast, root, local)
  for (const [name, definition] of Object.entries(local)) {
    if (name in defs && JSON.stringify(defs[name]) !== JSON.stringify(definition)) {
      throw new Error(`two different JSON Schema definitions named ${name}`)
    }
    defs[name] = definition
  }
  return root
}

/**
 * The JSON Schema document of a flow file. Closed wherever the loader is: objects reject unknown keys,
 * each type of `registry` gets its closed `config` schema (other types accept any config), ids carry their
 * patterns (`id`, the keys of `nodes`). What it cannot check is what needs the whole graph or the registry:
 * dangling edges, ports, cycles, unknown node types, sub-flows, duplicate keys.
 *
 * @example
 * ```ts
 * import { JsonSchema } from "@jsonflow/json-dsl"
 * JsonSchema.flowJsonSchema().$id // "https://jsonflow.dev/schema/flow.schema.json"
 * ```
 */
export const flowJsonSchema = <R>(registry: Registry.Registry<R> = publishedRegistry as Registry.Registry<R>): Json => {
  const defs: Json = {}
  const root = closedJsonSchema(Dsl.FlowDocument, defs)
  const flow = defs.Flow as Json
  const flowProperties = flow.properties as Json
  const nodeIdPattern = patternsOf(Ir.NodeId.ast)[0]
  flowProperties.nodes = {
    ...(flowProperties.nodes as Json),
    ...(nodeIdPattern === undefined ? {} : { propertyNames: { pattern: nodeIdPattern } })
  }
  const definitions = [...registry.definitions.values()].sort((a, b) => a.type.localeCompare(b.type))
  const rules = definitions.map((definition) => {
    const config = closedJsonSchema(definition.config as Schema.Top, defs)
    const field = Dsl.CODE_FIELDS[definition.type]
    const properties = config.properties as Record<string, unknown> | undefined
    // Code may be written as an array of lines.
    const withLines =
      field !== undefined && properties?.[field] !== undefined
        ? { ...config, properties: { ...properties, [field]: { anyOf: [properties[field], lines] } } }
        : config
    return {
      if: { properties: { type: { const: definition.type } }, required: ["type"] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
      then: { properties: { config: { ...withLines, description: definition.description } } }
    }
  })
  const node = defs.Node as Json
  const nodeProperties = node.properties as Json
  defs.Node = {
    ...node,
    properties: {
      ...nodeProperties,
      type: { ...(nodeProperties.type as Json), examples: definitions.map((definition) => definition.type) }
    },
    allOf: rules
  }
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: Dsl.SCHEMA_ID,
    title: "JSON-Flow flow",
    description: `A flow in the canonical JSON format of JSON-Flow, "dsl": ${Dsl.CURRENT_VERSION}.`,
    ...root,
    $defs: defs
  }
}

/**
 * The schema as the committed file holds it (two-space JSON, final newline). The committed file is made with
 * the sandbox's `js`/`ts` types added (`scripts/published-registry.ts`).
 */
export const flowJsonSchemaText = <R>(
  registry: Registry.Registry<R> = publishedRegistry as Registry.Registry<R>
): string => `${JSON.stringify(flowJsonSchema(registry), null, 2)}\n`
