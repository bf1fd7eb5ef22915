/**
 * `respond`: sets the execution's reply (status, headers, body) for an HTTP trigger; the first reply wins.
 * Passes its input on. The body is the input unless `body` selects something else.
 *
 * @module respond
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import * as Node from "../Node.ts"

export const RespondConfig = Schema.Struct({
  status: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 100, maximum: 599 }))),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  body: Schema.optionalKey(Expr.Value)
})

/**
 * @example
 * ```json
 * { "type": "respond", "config": { "status": 201, "headers": { "x-source": "jsonflow" } } }
 * ```
 */
export const respond = Node.define({
  type: "respond",
  description: "Sets the reply of an HTTP-triggered execution (first reply wins) and passes the input on.",
  config: RespondConfig,
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input, config, context) =>
    Effect.map(
      config.body === undefined
        ? Effect.succeed(input)
        : Expr.evaluate(config.body, { input, vars: context.variables, trigger: context.trigger }),
      (body) => {
        context.reply({ status: config.status ?? 200, headers: config.headers ?? {}, body })
        return input
      }
    )
})
