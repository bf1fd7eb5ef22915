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

/**
 * Node type name -> definition. `R` is the union of the services the definitions need.
 *
 * `conflicts` lists the type names under which two different definitions were put together (by {@link make}
 * or {@link merge}): which one should run is not known, so the compiler rejects a flow that uses such a type
 * (problem `duplicate-type`). Use {@link override} to replace a definition on purpose.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const registry: Registry.Registry<never> = Builtins.registry
 * registry.definitions.has("map") // true
 * ```
 */
export interface Registry<out R> {
  readonly definitions: ReadonlyMap<string, Node.AnyWith<R>>
  /** Type names given two different definitions, each with every definition seen for it. */
  readonly conflicts?: ReadonlyMap<string, ReadonlyArray<Node.AnyWith<R>>>
}

type ServicesOfAll<Defs extends ReadonlyArray<Node.Any>> = Node.ServicesOf<Defs[number]>

const addConflict = <R>(
  conflicts: Map<string, Array<Node.AnyWith<R>>>,
  type: string,
  definitions: ReadonlyArray<Node.AnyWith<R>>
) => {
  const list = conflicts.get(type) ?? []
  for (const definition of definitions) if (!list.includes(definition)) list.push(definition)
  conflicts.set(type, list)
}

const build = <R>(
  entries: ReadonlyArray<Node.AnyWith<R>>,
  inherited: ReadonlyArray<ReadonlyMap<string, ReadonlyArray<Node.AnyWith<R>>> | undefined>
): Registry<R> => {
  const definitions = new Map<string, Node.AnyWith<R>>()
  const conflicts = new Map<string, Array<Node.AnyWith<R>>>()
  for (const map of inherited) if (map) for (const [type, list] of map) addConflict(conflicts, type, list)
  for (const definition of entries) {
    const existing = definitions.get(definition.type)
    // The same definition twice (a registry merged into itself, built-ins reached twice) is no conflict.
    if (existing !== undefined && existing !== definition)
      addConflict(conflicts, definition.type, [existing, definition])
    definitions.set(definition.type, definition)
  }
  return conflicts.size === 0 ? { definitions } : { definitions, conflicts }
}

/**
 * Makes a registry from definitions. Two different definitions of one type are a conflict (see
 * {@link Registry}): a flow using that type does not compile.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Node, Registry } from "@jsonflow/core"
 * const echo = Node.define({ type: "echo", input: Schema.String, output: Schema.String, run: (s) => Effect.succeed(s) })
 * const registry = Registry.make(echo)
 * ```
 */
export const make = <const Defs extends ReadonlyArray<Node.Any>>(...definitions: Defs): Registry<ServicesOfAll<Defs>> =>
  build(definitions as ReadonlyArray<Node.AnyWith<ServicesOfAll<Defs>>>, [])

/**
 * A registry holding the definitions of both. A type both define differently is a conflict (see
 * {@link Registry}), not a silent replacement: use {@link override} to replace definitions on purpose.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const all = Registry.merge(Builtins.registry, Registry.make())
 * ```
 */
export const merge = <A, B>(a: Registry<A>, b: Registry<B>): Registry<A | B> =>
  build<A | B>([...a.definitions.values(), ...b.definitions.values()], [a.conflicts, b.conflicts])

/**
 * A registry with the definitions of `base`, where `replacements` replaces the types it defines, on
 * purpose: no conflict is recorded for them (earlier conflicts of those types are resolved too).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Builtins, Node, Registry } from "@jsonflow/core"
 * // A `delay` that does not wait, for tests.
 * const instant = Node.define({
 *   type: "delay", config: Schema.Struct({ ms: Schema.Number }), input: Schema.Unknown, output: Schema.Unknown,
 *   run: (input) => Effect.succeed(input)
 * })
 * const registry = Registry.override(Builtins.registry, Registry.make(instant))
 * ```
 */
export const override = <A, B>(base: Registry<A>, replacements: Registry<B>): Registry<A | B> => {
  const definitions = new Map<string, Node.AnyWith<A | B>>(base.definitions)
  for (const [type, definition] of replacements.definitions) definitions.set(type, definition)
  const conflicts = new Map<string, ReadonlyArray<Node.AnyWith<A | B>>>()
  for (const [type, list] of base.conflicts ?? []) if (!replacements.definitions.has(type)) conflicts.set(type, list)
  for (const [type, list] of replacements.conflicts ?? []) conflicts.set(type, list)
  return conflicts.size === 0 ? { definitions } : { definitions, conflicts }
}

/**
 * Looks a type up. For a type in conflict it returns the definition added last; the compiler reports the
 * conflict instead of using it.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * Registry.get(Builtins.registry, "map")?.description // "Builds a new object ..."
 * Registry.get(Builtins.registry, "nope") // undefined
 * ```
 */
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

/**
 * The compiler decodes configs strictly (an unknown key is a problem, so a typo is never silently dropped):
 * the catalog says so, with `additionalProperties: false` on every object that lists its properties.
 */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples", "required"])
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions"])
const closeObjects = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(closeObjects)
  if (typeof schema !== "object" || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (DATA_KEYWORDS.has(key))
      out[key] = value // constants, not schemas
    else if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      // name -> schema: the names are data (a property may be called "const").
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, closeObjects(sub)]))
    } else out[key] = closeObjects(value)
  }
  if (typeof out.properties === "object" && out.properties !== null && out.additionalProperties === true) {
    out.additionalProperties = false
  }
  return out
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
      config: closeObjects(jsonSchemaOf(definition.config)) as JsonSchema,
      input: jsonSchemaOf(definition.input),
      inputMode: definition.inputMode,
      outputs: Object.fromEntries(
        Object.entries(definition.outputs).map(([port, schema]) => [port, jsonSchemaOf(schema as Schema.Top)])
      ),
      dynamicPorts: definition.dynamicPorts !== undefined
    }))
    .sort((a, b) => a.type.localeCompare(b.type))
