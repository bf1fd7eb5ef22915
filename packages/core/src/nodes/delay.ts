/**
 * `delay`: waits, then passes its input on. Interruptible (flow timeouts and cancellation stop it).
 *
 * @module delay
 */
import { Effect, Schema } from "effect"
import * as Node from "../Node.ts"

export const DelayConfig = Schema.Struct({
  ms: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 86_400_000 }))
})

/**
 * @example
 * ```json
 * { "type": "delay", "config": { "ms": 500 } }
 * ```
 */
export const delay = Node.define({
  type: "delay",
  description: "Waits `ms` milliseconds, then passes the input on.",
  config: DelayConfig,
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input, config) => Effect.as(Effect.sleep(config.ms), input)
})
