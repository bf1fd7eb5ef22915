/**
 * `fail`: fails the node with a `FlowFailure` carrying a code and reason: ends the execution, or goes to
 * this node's error port if one is wired.
 *
 * @module fail
 */
import { Effect, Schema } from "effect"
import { FlowFailure } from "../FlowError.ts"
import * as Node from "../Node.ts"

export const FailConfig = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  retryable: Schema.optionalKey(Schema.Boolean)
})

/**
 * @example
 * ```json
 * { "type": "fail", "config": { "code": "ORDER_REJECTED", "message": "amount above the limit" } }
 * ```
 */
export const fail = Node.define({
  type: "fail",
  description: "Fails with a FlowFailure { code, reason }.",
  config: FailConfig,
  input: Schema.Unknown,
  output: Schema.Never,
  run: (_input, config) =>
    Effect.fail(new FlowFailure({ code: config.code, reason: config.message, retryable: config.retryable ?? false }))
})
