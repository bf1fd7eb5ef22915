/**
 * KV node types. Each declares a config Schema (fixed per node), an input Schema (per execution, from the
 * data) and an output Schema; `run` returns an Effect whose requirement, `KvClient`, becomes part of every
 * flow that uses the node.
 *
 * @module kv/nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import { KvClient } from "./client.ts"

/** Keys are one word: the protocol separates arguments with spaces. */
const Key = Schema.String.check(Schema.isPattern(/^\S{1,200}$/))

/**
 * `kv.get`: reads a key.
 *
 * @example
 * ```json
 * { "type": "kv.get" }
 * ```
 */
export const get = Node.define({
  type: "kv.get",
  description: "Reads a key from the KV server. Emits { found, value }.",
  input: Schema.Struct({ key: Key }),
  output: Schema.Struct({ found: Schema.Boolean, value: Schema.Unknown }),
  run: ({ key }) => KvClient.use((kv) => kv.get(key))
})

/**
 * `kv.put`: writes a key (any JSON value).
 *
 * @example
 * ```json
 * { "type": "kv.put" }
 * ```
 */
export const put = Node.define({
  type: "kv.put",
  description: "Writes a JSON value under a key. Emits { key }.",
  input: Schema.Struct({ key: Key, value: Schema.Unknown }),
  output: Schema.Struct({ key: Schema.String }),
  run: ({ key, value }) =>
    Effect.as(
      KvClient.use((kv) => kv.put(key, value)),
      { key }
    )
})

/**
 * `kv.incr`: adds `by` (config, default 1) to a counter. Its timeouts are not retryable: the increment may
 * have been applied.
 *
 * @example
 * ```json
 * { "type": "kv.incr", "config": { "by": 5 } }
 * ```
 */
export const incr = Node.define({
  type: "kv.incr",
  description: "Increments an integer counter. Emits { key, value } with the new value.",
  config: Schema.Struct({ by: Schema.optionalKey(Schema.Int) }),
  input: Schema.Struct({ key: Key }),
  output: Schema.Struct({ key: Schema.String, value: Schema.Number }),
  run: ({ key }, config) =>
    Effect.map(
      KvClient.use((kv) => kv.incr(key, config.by ?? 1)),
      (value) => ({ key, value })
    )
})
