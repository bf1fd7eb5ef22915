/**
 * `filter`: keeps what matches a condition. An array input is split: matching elements on `out`, the others
 * on `rejected` (both emitted, possibly empty). Any other input goes whole to `out` or to `rejected`.
 *
 * @module filter
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import * as Node from "../Node.ts"

export const FilterConfig = Schema.Struct({ where: Expr.Condition })
export type FilterConfig = typeof FilterConfig.Type

/**
 * @example
 * ```json
 * { "type": "filter", "config": { "where": { "all": [{ "path": "amount", "op": "gt", "value": 100 }, { "path": "status", "op": "eq", "value": "paid" }] } } }
 * ```
 */
export const filter = Node.define({
  type: "filter",
  description: "Splits an array (or routes a single value) by a condition: matches on `out`, the rest on `rejected`.",
  config: FilterConfig,
  input: Schema.Unknown,
  outputs: { out: Schema.Unknown, rejected: Schema.Unknown },
  run: (input, config, context) => {
    const scopeOf = (value: unknown): Expr.Scope => ({
      input: value,
      vars: context.variables,
      trigger: context.trigger
    })
    if (Array.isArray(input)) {
      const keep = Effect.forEach(input, (item) => Expr.testCondition(config.where, scopeOf(item)))
      return Effect.map(keep, (flags) => {
        const out: Array<unknown> = []
        const rejected: Array<unknown> = []
        for (let i = 0; i < input.length; i++) (flags[i] ? out : rejected).push(input[i])
        return [
          { port: "out" as const, value: out },
          { port: "rejected" as const, value: rejected }
        ]
      })
    }
    return Effect.map(Expr.testCondition(config.where, scopeOf(input)), (ok) =>
      ok ? { port: "out" as const, value: input } : { port: "rejected" as const, value: input }
    )
  }
})
