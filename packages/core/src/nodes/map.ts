/**
 * `map`: declarative field mapping. Each output field is a path into the input, a constant or a JSONata
 * expression (see {@link Expr}). With `each`, the input must be an array and every element is mapped.
 * With `merge`, the mapped fields are added to (a copy of) the input object instead of replacing it.
 *
 * @module map
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import * as Node from "../Node.ts"

export const MapConfig = Schema.Struct({
  fields: Schema.Record(Schema.String, Expr.Value),
  each: Schema.optionalKey(Schema.Boolean),
  merge: Schema.optionalKey(Schema.Boolean)
})
export type MapConfig = typeof MapConfig.Type

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"])

const setPath = (target: Record<string, unknown>, path: string, value: unknown) => {
  const segments = path.split(".")
  let current = target
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!
    if (FORBIDDEN.has(segment)) return
    const next = current[segment]
    if (typeof next === "object" && next !== null && !Array.isArray(next)) current = next as Record<string, unknown>
    else {
      const created: Record<string, unknown> = {}
      current[segment] = created
      current = created
    }
  }
  const last = segments[segments.length - 1]!
  if (!FORBIDDEN.has(last) && value !== undefined) current[last] = value
}

const mapOne = (
  config: MapConfig,
  scope: Expr.Scope,
  sync: boolean
): Effect.Effect<Record<string, unknown>, Expr.ExpressionError | Expr.ExpressionUnavailable> => {
  const base: Record<string, unknown> =
    config.merge && typeof scope.input === "object" && scope.input !== null && !Array.isArray(scope.input)
      ? { ...(scope.input as Record<string, unknown>) }
      : {}
  const entries = Object.entries(config.fields)
  if (sync) {
    return Effect.sync(() => {
      for (const [target, value] of entries) setPath(base, target, Expr.evaluateSync(value, scope))
      return base
    })
  }
  return Effect.map(
    Effect.forEach(entries, ([target, value]) => Effect.map(Expr.evaluate(value, scope), (v) => [target, v] as const)),
    (pairs) => {
      for (const [target, v] of pairs) setPath(base, target, v)
      return base
    }
  )
}

/** `map` with `each: true` received something other than an array. */
export class MapInputNotArray extends Schema.TaggedError<MapInputNotArray>()("MapInputNotArray", {
  nodeId: Schema.String,
  got: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `node "${this.nodeId}" maps each element of an array, but got ${this.got}`
  }
}

/**
 * @example
 * ```json
 * { "type": "map", "config": { "each": true, "fields": { "id": "id", "customer.name": "name", "total": { "expr": "amount * 1.2" }, "currency": { "value": "EUR" } } } }
 * ```
 */
export const map = Node.define({
  type: "map",
  description: "Builds a new object (or one per array element with `each`) from paths, constants and expressions.",
  config: MapConfig,
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (
    input,
    config,
    context
  ): Effect.Effect<unknown, MapInputNotArray | Expr.ExpressionError | Expr.ExpressionUnavailable> => {
    const sync = !Expr.usesExpressions(config.fields)
    const scopeOf = (value: unknown): Expr.Scope => ({
      input: value,
      vars: context.variables,
      trigger: context.trigger
    })
    if (config.each) {
      if (!Array.isArray(input)) {
        return Effect.fail(new MapInputNotArray({ nodeId: context.nodeId, got: typeof input, retryable: false }))
      }
      return Effect.forEach(input, (item) => mapOne(config, scopeOf(item), sync))
    }
    return mapOne(config, scopeOf(input), sync)
  }
})
