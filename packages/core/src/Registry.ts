/**
 * The registry: node type name -> definition. JSON flows are resolved against it, and it prints the
 * catalog a visual designer needs (JSON Schema of every type's config, input and output ports).
 *
 * A registry's type parameter `R` is the union of the services its definitions need, so a flow compiled
 * against it requires exactly those services.
 *
 * @module Registry
 */
import { Schema } from "effect"
import type * as Node from "./Node.ts"

export interface Registry<out R> {
  readonly definitions: ReadonlyMap<string, Node.AnyWith<R>>
}

type ServicesOfAll<Defs extends ReadonlyArray<Node.Any>> = Node.ServicesOf<Defs[number]>

/**
 * Makes a registry from definitions. A later definition of the same type replaces an earlier one.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const registry = Registry.make(...Builtins.definitions)
 * Registry.get(registry, "map")?.description
 * ```
 */
export const make = <const Defs extends ReadonlyArray<Node.Any>>(
  ...definitions: Defs
): Registry<ServicesOfAll<Defs>> => ({
  definitions: new Map(
    definitions.map((definition) => [definition.type, definition as Node.AnyWith<ServicesOfAll<Defs>>])
  )
})

/**
 * A registry holding the definitions of both; `b` wins on a clash.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const all = Registry.merge(Builtins.registry, Registry.make())
 * ```
 */
export const merge = <A, B>(a: Registry<A>, b: Registry<B>): Registry<A | B> => ({
  definitions: new Map<string, Node.AnyWith<A | B>>([...a.definitions, ...b.definitions])
})

/** Looks a type up. */
export const get = <R>(registry: Registry<R>, type: string): Node.AnyWith<R> | undefined =>
  registry.definitions.get(type)

/** A JSON Schema document (draft 2020-12) as plain data. */
export type JsonSchema = { readonly [key: string]: unknown }

const jsonSchemaCache = new WeakMap<object, JsonSchema>()

/**
 * The JSON Schema (draft 2020-12) of an Effect Schema, with its definitions inlined under `$defs`; cached.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Registry } from "@jsonflow/core"
 * Registry.jsonSchemaOf(Schema.Struct({ id: Schema.Number })) // { type: "object", properties: ..., required: ["id"] }
 * ```
 */
export const jsonSchemaOf = (schema: Schema.Top): JsonSchema => {
  const cached = jsonSchemaCache.get(schema)
  if (cached) return cached
  let result: JsonSchema
  try {
    const document = Schema.toJsonSchemaDocument(schema)
    const definitions = document.definitions as Record<string, unknown>
    result =
      Object.keys(definitions).length > 0
        ? { ...(document.schema as JsonSchema), $defs: definitions }
        : (document.schema as JsonSchema)
  } catch {
    // A Schema with no JSON Schema form (a declared class, a function): accept anything at design time.
    result = {}
  }
  jsonSchemaCache.set(schema, result)
  return result
}

/** One entry of the catalog. */
export interface CatalogEntry {
  readonly type: string
  readonly description: string
  readonly config: JsonSchema
  readonly input: JsonSchema
  readonly inputMode: "single" | "join"
  readonly outputs: Readonly<Record<string, JsonSchema>>
  /** Whether the node has ports chosen by its config (switch cases, script ports). */
  readonly dynamicPorts: boolean
}

/**
 * The catalog of every node type, sorted by type: what a visual designer needs to draw and validate nodes.
 * Every node also has the implicit `error` output port carrying a `NodeFailure`.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * console.log(JSON.stringify(Registry.catalog(Builtins.registry), null, 2))
 * ```
 */
export const catalog = <R>(registry: Registry<R>): ReadonlyArray<CatalogEntry> =>
  [...registry.definitions.values()]
    .map((definition) => ({
      type: definition.type,
      description: definition.description,
      config: jsonSchemaOf(definition.config),
      input: jsonSchemaOf(definition.input),
      inputMode: definition.inputMode,
      outputs: Object.fromEntries(
        Object.entries(definition.outputs).map(([port, schema]) => [port, jsonSchemaOf(schema as Schema.Top)])
      ),
      dynamicPorts: definition.dynamicPorts !== undefined
    }))
    .sort((a, b) => a.type.localeCompare(b.type))
