/**
 * The KV connector: what a user writes to add a protocol JSON-Flow does not ship. A config Schema, a
 * scoped service and its layer, typed errors, node types, and a registry for JSON flows.
 *
 * @module kv
 */
import { Registry } from "@jsonflow/core"
import { get, incr, put } from "./nodes.ts"

export * from "./client.ts"
export * from "./errors.ts"
export * from "./nodes.ts"

/**
 * The KV node types as a registry: merge it into the one JSON flows are compiled against.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const registry = Registry.merge(Builtins.registry, Kv.registry)
 * ```
 */
export const registry = Registry.make(get, put, incr)
