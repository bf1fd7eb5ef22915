/**
 * `map`: declarative field mapping. Each output field is a path into the input, a constant or a JSONata
 * expression (see {@link Expr}). With `each`, the input must be an array and every element is mapped.
 * With `merge`, the mapped fields are added to (a copy of) the input object instead of replacing it.
 *
 * @module map
 */
import { Effect, Schema } from "effect"
import * as Expr from "../Expr.ts"
import { parsePath, readParsed } from "../internal/paths.ts"
import * as Node from "../Node.ts"

export const MapConfig = Schema.Struct({
  fields: Schema.Record(Schema.String, Expr.Value),
  each: Schema.optionalKey(Schema.Boolean),
  merge: Schema.optionalKey(Schema.Boolean)
})
export type MapConfig = typeof MapConfig.Type

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"])

/** One output field, prepared: its target split once, and (without expressions) a reader for its value. */
interface Field {
  readonly target: ReadonlyArray<string>
  /** The single segment of a top-level target, else undefined. */
  readonly key: string | undefined
  readonly value: Expr.Value
  readonly read: (scope: Expr.Scope) => unknown
}

/** A map config prepared for runs, and whether it needs the expression engine. */
interface Prepared {
  readonly sync: boolean
  readonly fields: ReadonlyArray<Field>
}

const readerOf = (value: Expr.Value): ((scope: Expr.Scope) => unknown) => {
  if (typeof value === "string" || "path" in value) {
    const path = parsePath(typeof value === "string" ? value : value.path)
    return (scope) => readParsed(scope, path)
  }
  if ("value" in value) {
    const constant = value.value
    return () => constant
  }
  return () => undefined // an expression: evaluated by the Expressions service instead
}

// Configs are decoded once per compiled flow and reused by every run.
const prepared = new WeakMap<MapConfig, Prepared>()
const prepare = (config: MapConfig): Prepared => {
  let ready = prepared.get(config)
  if (ready === undefined) {
    ready = {
      sync: !Expr.usesExpressions(config.fields),
      fields: Object.entries(config.fields)
        .map(([target, value]): Field => {
          const segments = target.split(".")
          return { target: segments, key: segments.length === 1 ? target : undefined, value, read: readerOf(value) }
        })
        // A target through __proto__ & co. is never written (no prototype pollution through a config).
        .filter((field) => !field.target.some((segment) => FORBIDDEN.has(segment)))
    }
    prepared.set(config, ready)
  }
  return ready
}

const setPath = (target: Record<string, unknown>, segments: ReadonlyArray<string>, value: unknown) => {
  let current = target
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!
    const next = current[segment]
    if (typeof next === "object" && next !== null && !Array.isArray(next)) current = next as Record<string, unknown>
    else {
      const created: Record<string, unknown> = {}
      current[segment] = created
      current = created
    }
  }
  // Intermediate objects stay even when the value is absent (as the field list says they exist).
  if (value !== undefined) current[segments[segments.length - 1]!] = value
}

const baseOf = (config: MapConfig, input: unknown): Record<string, unknown> =>
  config.merge && typeof input === "object" && input !== null && !Array.isArray(input)
    ? { ...(input as Record<string, unknown>) }
    : {}

// Paths and constants only: computed on the spot, no Effect step.
const mapSync = (config: MapConfig, fields: Prepared["fields"], scope: Expr.Scope): Record<string, unknown> => {
  const base = baseOf(config, scope.input)
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const value = field.read(scope)
    if (field.key === undefined) setPath(base, field.target, value)
    else if (value !== undefined) base[field.key] = value
  }
  return base
}

const mapWithExpressions = (
  config: MapConfig,
  fields: Prepared["fields"],
  scope: Expr.Scope
): Effect.Effect<Record<string, unknown>, Expr.ExpressionError | Expr.ExpressionUnavailable> =>
  Effect.map(
    Effect.forEach(fields, ({ target, value }) => Effect.map(Expr.evaluate(value, scope), (v) => [target, v] as const)),
    (pairs) => {
      const base = baseOf(config, scope.input)
      for (const [target, v] of pairs) setPath(base, target, v)
      return base
    }
  )

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

const defined = Node.define({
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
    const { sync, fields } = prepare(config)
    const vars = context.variables
    const trigger = context.trigger
    if (config.each && !Array.isArray(input)) {
      return Effect.fail(new MapInputNotArray({ nodeId: context.nodeId, got: typeof input, retryable: false }))
    }
    if (sync) {
      // Returned as an Exit, which the engine settles without a fiber step.
      return Effect.succeed(
        config.each
          ? (input as ReadonlyArray<unknown>).map((item) => mapSync(config, fields, { input: item, vars, trigger }))
          : mapSync(config, fields, { input, vars, trigger })
      )
    }
    if (config.each) {
      return Effect.forEach(input as ReadonlyArray<unknown>, (item) =>
        mapWithExpressions(config, fields, { input: item, vars, trigger })
      )
    }
    return mapWithExpressions(config, fields, { input, vars, trigger })
  }
})

/**
 * @example
 * ```json
 * { "type": "map", "config": { "each": true, "fields": { "id": "id", "customer.name": "name", "total": { "expr": "amount * 1.2" }, "currency": { "value": "EUR" } } } }
 * ```
 */
export const map: typeof defined = {
  ...defined,
  // Paths and constants only: the engine calls the mapping directly, without an Effect.
  prepareSync: (config) => {
    const { sync, fields } = prepare(config)
    if (!sync) return undefined
    return (input, context) => {
      const vars = context.variables
      const trigger = context.trigger
      if (!config.each) return mapSync(config, fields, { input, vars, trigger })
      if (!Array.isArray(input)) {
        throw new Node.SyncFailure(
          new MapInputNotArray({ nodeId: context.nodeId, got: typeof input, retryable: false })
        )
      }
      return input.map((item) => mapSync(config, fields, { input: item, vars, trigger }))
    }
  }
}
