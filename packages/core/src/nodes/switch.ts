/**
 * `switch`: routes its input to the port of the first case whose condition holds (or of every such case
 * with `mode: "all"`), else to `default`. Nodes behind ports that did not fire are skipped.
 *
 * @module switch
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import * as Node from "../Node.ts"

export const SwitchConfig = Schema.Struct({
  cases: Schema.Array(
    Schema.Struct({
      port: Schema.String.check(
        Schema.isPattern(/^(?!default$|error$)[A-Za-z_][A-Za-z0-9_-]*$/, {
          message: "a case port is a name like big_orders, and not default or error"
        })
      ),
      when: Expr.Condition
    })
  ),
  mode: Schema.optionalKey(Schema.Literals(["first", "all"]))
})
export type SwitchConfig = typeof SwitchConfig.Type

/**
 * @example
 * ```json
 * { "type": "switch", "config": { "cases": [{ "port": "big", "when": { "path": "amount", "op": "gte", "value": 1000 } }] } }
 * ```
 */
export const switchNode = Node.define({
  type: "switch",
  description:
    "Routes the input to the port of the first matching case (or all matching with mode all), else `default`.",
  config: SwitchConfig,
  input: Schema.Unknown,
  outputs: { default: Schema.Unknown },
  dynamicPorts: (config) => config.cases.map((c) => c.port),
  run: (input, config, context) => {
    const scope: Expr.Scope = { input, vars: context.variables, trigger: context.trigger }
    return Effect.map(
      Effect.forEach(config.cases, (c) => Expr.testCondition(c.when, scope)),
      (flags) => {
        const matched = config.cases.filter((_, i) => flags[i]).map((c) => c.port)
        const ports = config.mode === "all" ? matched : matched.slice(0, 1)
        if (ports.length === 0) return { port: "default" as const, value: input }
        // Case ports are dynamic: typed as `default`'s value (unknown).
        return ports.map((port) => ({ port: port as "default", value: input }))
      }
    )
  }
})
