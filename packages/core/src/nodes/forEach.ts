/**
 * `forEach`: runs a sub-graph (`body`) once per element of its input array, with bounded concurrency, and
 * emits the array of the body's outputs in input order. Each item runs as a child execution (its events link
 * to the parent). Loops in flows are written with forEach, so the main graph stays acyclic.
 *
 * @module forEach
 */
import { Effect, Schema } from "effect"
import * as Ir from "../Ir.ts"
import * as Node from "../Node.ts"

export const ForEachConfig = Schema.Struct({
  body: Ir.Graph,
  concurrency: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1024 })))
})

/** `forEach` received something other than an array. */
export class ForEachInputNotArray extends Schema.TaggedError<ForEachInputNotArray>()("ForEachInputNotArray", {
  nodeId: Schema.String,
  got: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `node "${this.nodeId}" iterates over an array, but got ${this.got}`
  }
}

/**
 * @example
 * ```json
 * { "type": "forEach", "config": { "concurrency": 4, "body": {
 *   "nodes": { "price": { "type": "map", "config": { "fields": { "sku": "sku", "total": { "expr": "qty * price" } } } } },
 *   "edges": [{ "from": { "node": "$input", "port": "out" }, "to": { "node": "price", "port": "in" } }],
 *   "output": { "node": "price", "port": "out" } } } }
 * ```
 */
export const forEach = Node.define({
  type: "forEach",
  description:
    "Runs the body graph for each element of the input array (bounded concurrency); emits the outputs in order.",
  config: ForEachConfig,
  input: Schema.Array(Schema.Unknown),
  output: Schema.Array(Schema.Unknown),
  subflow: (config) => ({ _tag: "Inline", graph: config.body }),
  run: (input, config, context) =>
    Array.isArray(input)
      ? Effect.forEach(input, (item) => context.runSubflow(item), { concurrency: config.concurrency ?? 1 })
      : Effect.fail(new ForEachInputNotArray({ nodeId: context.nodeId, got: typeof input, retryable: false }))
})
