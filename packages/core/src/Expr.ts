/**
 * Declarative values and conditions for the built-in map, filter, switch, set-variables and respond nodes.
 *
 * A value is a **path** into the data (`"customer.name"`, `"items.0.sku"`, `"$vars.region"`,
 * `"$trigger.headers.x-id"`), a **constant** (`{ "value": 42 }`), or a **JSONata expression**
 * (`{ "expr": "amount * 1.2" }`). A condition compares a path with a constant (`{ "path": "amount", "op": "gt",
 * "value": 100 }`) and combines with `all`/`any`/`not`, or is a JSONata expression.
 *
 * Paths and conditions are evaluated here, in time linear in the data, with no code at all: they cannot reach
 * the host, loop or allocate beyond the size of their input. JSONata expressions go to the {@link Expressions}
 * service, whose production implementation (`@jsonflow/sandbox/expressions`) enforces a deadline and memory
 * bounds; without it, a flow using `expr` fails with `ExpressionUnavailable`.
 *
 * @module Expr
 */
import { Context, Effect, Schema } from "effect"
import { parsePath, readParsed } from "./internal/paths.ts"

/** A value: a path (string shorthand or `{ path }`), a constant `{ value }`, or a JSONata `{ expr }`. */
export const Value = Schema.Union([
  Schema.String,
  Schema.Struct({ path: Schema.String }),
  Schema.Struct({ value: Schema.Unknown }),
  Schema.Struct({ expr: Schema.String })
])
export type Value = typeof Value.Type

/** Comparison operators of a condition. */
export const Operator = Schema.Literals([
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "notIn",
  "contains",
  "startsWith",
  "endsWith",
  "exists",
  "notExists",
  "isEmpty",
  "notEmpty"
])
export type Operator = typeof Operator.Type

/** A condition. */
export type Condition =
  | { readonly path: string; readonly op: Operator; readonly value?: unknown }
  | { readonly all: ReadonlyArray<Condition> }
  | { readonly any: ReadonlyArray<Condition> }
  | { readonly not: Condition }
  | { readonly expr: string }

export const Condition: Schema.Codec<Condition, unknown> = Schema.Union([
  Schema.Struct({ path: Schema.String, op: Operator, value: Schema.optionalKey(Schema.Unknown) }),
  Schema.Struct({ all: Schema.Array(Schema.suspend((): Schema.Codec<Condition, unknown> => Condition)) }),
  Schema.Struct({ any: Schema.Array(Schema.suspend((): Schema.Codec<Condition, unknown> => Condition)) }),
  Schema.Struct({ not: Schema.suspend((): Schema.Codec<Condition, unknown> => Condition) }),
  Schema.Struct({ expr: Schema.String })
]).annotate({ identifier: "Condition" }) as Schema.Codec<Condition, unknown>

/** A JSONata expression failed to compile or evaluate, ran past its deadline or produced too much. */
export class ExpressionError extends Schema.TaggedError<ExpressionError>()("ExpressionError", {
  expression: Schema.String,
  reason: Schema.String,
  position: Schema.optionalKey(Schema.Number),
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `expression ${JSON.stringify(this.expression)}${this.position === undefined ? "" : ` at ${this.position}`}: ${this.reason}`
  }
}

/** The flow uses a JSONata expression but no expression engine was provided. */
export class ExpressionUnavailable extends Schema.TaggedError<ExpressionUnavailable>()("ExpressionUnavailable", {
  expression: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `no expression engine for ${JSON.stringify(this.expression)}: provide the Expressions layer of @jsonflow/sandbox/expressions`
  }
}

/**
 * What the {@link Expressions} service does: evaluate a JSONata expression. The production implementation
 * (`@jsonflow/sandbox/expressions`) bounds time and memory; a test can provide a small one.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Expr } from "@jsonflow/core"
 * // Understands one expression, for a test.
 * const tiny: Expr.ExpressionsShape = {
 *   evaluate: (expression, data) =>
 *     expression === "amount * 2"
 *       ? Effect.succeed((data as { amount: number }).amount * 2)
 *       : Effect.fail(new Expr.ExpressionError({ expression, reason: "not supported here", retryable: false }))
 * }
 * const layer = Layer.succeed(Expr.Expressions, tiny)
 * ```
 */
export interface ExpressionsShape {
  /** Evaluates `expression` over `data` with `$vars` and `$trigger` bound. */
  readonly evaluate: (
    expression: string,
    data: unknown,
    bindings: Readonly<Record<string, unknown>>
  ) => Effect.Effect<unknown, ExpressionError | ExpressionUnavailable>
}

/** The expression engine used for `{ expr }` values. Default: none (`ExpressionUnavailable`). */
export const Expressions = Context.Reference<ExpressionsShape>("@jsonflow/core/Expressions", {
  defaultValue: () => ({
    evaluate: (expression) => Effect.fail(new ExpressionUnavailable({ expression, retryable: false }))
  })
})

/** Where paths look: the node input, plus `$vars` and `$trigger`. */
export interface Scope {
  readonly input: unknown
  readonly vars: Readonly<Record<string, unknown>>
  readonly trigger: unknown
}

/**
 * Reads a dotted path. `$vars.` and `$trigger.` select the execution variables and the trigger data;
 * otherwise the path reads the node input. `""` or `"$"` is the whole input. Only own properties are read.
 *
 * @example
 * ```ts
 * import { Expr } from "@jsonflow/core"
 * Expr.readPath({ input: { a: [{ b: 1 }] }, vars: {}, trigger: undefined }, "a.0.b") // 1
 * ```
 */
export const readPath = (scope: Scope, path: string): unknown => readParsed(scope, parsePath(path))

const hasExpr = (value: unknown): value is { readonly expr: string } =>
  typeof value === "object" && value !== null && typeof (value as { expr?: unknown }).expr === "string"

/**
 * Evaluates a {@link Value}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Expr } from "@jsonflow/core"
 * Effect.runSync(Expr.evaluate("name", { input: { name: "Ada" }, vars: {}, trigger: undefined })) // "Ada"
 * ```
 */
export const evaluate = (
  value: Value,
  scope: Scope
): Effect.Effect<unknown, ExpressionError | ExpressionUnavailable> => {
  if (typeof value === "string") return Effect.succeed(readPath(scope, value))
  if ("path" in value) return Effect.succeed(readPath(scope, value.path))
  if ("value" in value) return Effect.succeed(value.value)
  const expression = value.expr
  return Effect.gen(function* () {
    const engine = yield* Expressions
    return yield* engine.evaluate(expression, scope.input, { vars: scope.vars, trigger: scope.trigger })
  })
}

// Config trees are decoded once and reused by every run: remember the answer per tree.
const usesExpressionsCache = new WeakMap<object, boolean>()

/**
 * Whether a value (or condition) tree needs the expression engine; if not, evaluation is synchronous
 * ({@link evaluateSync}, {@link testSync}). The answer is cached per object, so asking on every run is cheap.
 *
 * @example
 * ```ts
 * import { Expr } from "@jsonflow/core"
 * Expr.usesExpressions({ total: { expr: "amount * 1.2" } }) // true
 * Expr.usesExpressions({ path: "amount", op: "gt", value: 100 }) // false
 * ```
 */
export const usesExpressions = (tree: unknown): boolean => {
  if (typeof tree !== "object" || tree === null) return false
  const cached = usesExpressionsCache.get(tree)
  if (cached !== undefined) return cached
  const uses = hasExpr(tree) || (Array.isArray(tree) ? tree : Object.values(tree)).some(usesExpressions)
  usesExpressionsCache.set(tree, uses)
  return uses
}

/**
 * Synchronous evaluation of a value without `expr` (see {@link usesExpressions}); throws on an `expr`.
 *
 * @example
 * ```ts
 * import { Expr } from "@jsonflow/core"
 * const scope = { input: { customer: { name: "Ada" } }, vars: { region: "eu" }, trigger: undefined }
 * Expr.evaluateSync("customer.name", scope) // "Ada"
 * Expr.evaluateSync({ path: "$vars.region" }, scope) // "eu"
 * Expr.evaluateSync({ value: 42 }, scope) // 42
 * ```
 */
export const evaluateSync = (value: Value, scope: Scope): unknown => {
  if (typeof value === "string") return readPath(scope, value)
  if ("path" in value) return readPath(scope, value.path)
  if ("value" in value) return value.value
  throw new Error("evaluateSync: expressions need the Expressions service")
}

const compare = (a: unknown, b: unknown): number | undefined => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  return undefined
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every(
    (k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  )
}

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && v !== null && Object.keys(v).length === 0)

const test = (op: Operator, actual: unknown, expected: unknown): boolean => {
  switch (op) {
    case "eq":
      return deepEqual(actual, expected)
    case "ne":
      return !deepEqual(actual, expected)
    case "gt": {
      const c = compare(actual, expected)
      return c !== undefined && c > 0
    }
    case "gte": {
      const c = compare(actual, expected)
      return c !== undefined && c >= 0
    }
    case "lt": {
      const c = compare(actual, expected)
      return c !== undefined && c < 0
    }
    case "lte": {
      const c = compare(actual, expected)
      return c !== undefined && c <= 0
    }
    case "in":
      return Array.isArray(expected) && expected.some((e) => deepEqual(actual, e))
    case "notIn":
      return !(Array.isArray(expected) && expected.some((e) => deepEqual(actual, e)))
    case "contains":
      return typeof actual === "string"
        ? typeof expected === "string" && actual.includes(expected)
        : Array.isArray(actual) && actual.some((e) => deepEqual(e, expected))
    case "startsWith":
      return typeof actual === "string" && typeof expected === "string" && actual.startsWith(expected)
    case "endsWith":
      return typeof actual === "string" && typeof expected === "string" && actual.endsWith(expected)
    case "exists":
      return actual !== undefined
    case "notExists":
      return actual === undefined
    case "isEmpty":
      return isEmpty(actual)
    case "notEmpty":
      return !isEmpty(actual)
  }
}

/**
 * Synchronous evaluation of a condition without `expr` (see {@link usesExpressions}); throws on an `expr`.
 *
 * @example
 * ```ts
 * import { Expr } from "@jsonflow/core"
 * const scope = { input: { amount: 150, status: "paid" }, vars: {}, trigger: undefined }
 * Expr.testSync({ all: [{ path: "amount", op: "gte", value: 100 }, { path: "status", op: "eq", value: "paid" }] }, scope) // true
 * ```
 */
export const testSync = (condition: Condition, scope: Scope): boolean => {
  if ("all" in condition) return condition.all.every((c) => testSync(c, scope))
  if ("any" in condition) return condition.any.some((c) => testSync(c, scope))
  if ("not" in condition) return !testSync(condition.not, scope)
  if ("expr" in condition) throw new Error("testSync: expressions need the Expressions service")
  return test(condition.op, readPath(scope, condition.path), condition.value)
}

/**
 * Evaluates a condition; `expr` conditions are true when the expression yields a truthy value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Expr } from "@jsonflow/core"
 * const scope = { input: { amount: 150 }, vars: {}, trigger: undefined }
 * Effect.runSync(Expr.testCondition({ path: "amount", op: "gt", value: 100 }, scope)) // true
 * ```
 */
export const testCondition = (
  condition: Condition,
  scope: Scope
): Effect.Effect<boolean, ExpressionError | ExpressionUnavailable> => {
  if (!usesExpressions(condition)) return Effect.sync(() => testSync(condition, scope))
  if ("expr" in condition) {
    return Effect.map(evaluate({ expr: condition.expr }, scope), (v) => Boolean(v))
  }
  if ("all" in condition) {
    return Effect.reduce(
      condition.all,
      () => true,
      (acc: boolean, c) => (acc ? testCondition(c, scope) : Effect.succeed(false))
    )
  }
  if ("any" in condition) {
    return Effect.reduce(
      condition.any,
      () => false,
      (acc: boolean, c) => (acc ? Effect.succeed(true) : testCondition(c, scope))
    )
  }
  if ("not" in condition) return Effect.map(testCondition(condition.not, scope), (v) => !v)
  return Effect.sync(() => testSync(condition, scope))
}
