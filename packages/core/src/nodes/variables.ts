/**
 * `setVariables`: sets execution variables (readable as `$vars.<name>` by later nodes) and passes its input on.
 *
 * @module variables
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import * as Node from "../Node.ts"

export const SetVariablesConfig = Schema.Struct({ values: Schema.Record(Schema.String, Expr.Value) })

/**
 * @example
 * ```json
 * { "type": "setVariables", "config": { "values": { "region": "customer.region", "attempt": { "value": 1 } } } }
 * ```
 */
export const setVariables = Node.define({
  type: "setVariables",
  description: "Sets execution variables from paths, constants or expressions; passes the input on.",
  config: SetVariablesConfig,
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input, config, context) => {
    const scope: Expr.Scope = { input, vars: context.variables, trigger: context.trigger }
    return Effect.forEach(Object.entries(config.values), ([name, value]) =>
      Effect.map(Expr.evaluate(value, scope), (v) => context.setVariable(name, v))
    ).pipe(Effect.as(input))
  }
})
