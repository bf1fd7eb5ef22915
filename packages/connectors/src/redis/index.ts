/**
 * `@jsonflow/connectors/redis`: Redis over ioredis. A scoped `RedisClient` service (single node, cluster or
 * sentinel), one node type per command (get/set with TTL, hashes, lists, publish, streams) and typed errors
 * that say whether a retry is safe.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Flow } from "@jsonflow/core"
 * import { Redis } from "@jsonflow/connectors"
 *
 * const cache = Flow.make({ id: "cache-order", input: Schema.Struct({ key: Schema.String, value: Schema.Unknown }) })
 *   .andThen("save", Redis.set, { encoding: "json", ttlMs: 60_000 })
 *   .build()
 * const result = Flow.run(cache, { key: "order:1", value: { total: 42 } }).pipe(
 *   Effect.provide(Redis.layer({ host: "127.0.0.1", port: 6379, keyPrefix: "shop:" }))
 * )
 * ```
 *
 * @module redis
 */
import { Registry } from "@jsonflow/core"
import { definitions } from "./nodes.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export * from "./client.ts"
export * from "./config.ts"
export * from "./errors.ts"
export * from "./nodes.ts"

/**
 * A registry of every Redis node type, to merge into the registry JSON flows are compiled against.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * import { Redis } from "@jsonflow/connectors"
 * const registry = Registry.merge(Builtins.registry, Redis.registry)
 * ```
 */
export const registry = Registry.make(...definitions)
