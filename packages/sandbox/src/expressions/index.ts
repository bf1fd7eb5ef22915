/**
 * JSONata expressions for the built-in nodes' `{ "expr": "…" }` values, bounded so that an expression can
 * never reach the host, run forever or allocate without limit.
 *
 * JSONata is an interpreter with no access to JavaScript: an expression sees its input, `$vars` and
 * `$trigger`, and JSONata's function library, nothing else (no `require`, no globals, no I/O). The layer adds:
 * a deadline and a recursion-depth limit (JSONata's own guardrails, checked at every evaluation step), a cap
 * on sequence sizes, on the length of any intermediate string and on the size of the result, a cap on
 * `$pad` widths, and a regular-expression engine that refuses patterns with nested quantifiers (the shape
 * of catastrophic backtracking), since a native regex match cannot be interrupted by a deadline.
 * Compiled expressions are cached by source text.
 *
 * @module expressions
 */
import { Expr } from "@jsonflow/core"
import { Effect, Layer } from "effect"
import jsonata from "jsonata"

/** Limits applied to every evaluation. */
export interface ExpressionLimits {
  /** Wall-clock budget of one evaluation, in milliseconds. Default 200. */
  readonly timeoutMs?: number
  /** Maximum evaluation depth (recursion). Default 300. */
  readonly maxDepth?: number
  /** Maximum items in any sequence JSONata builds. Default 100,000. */
  readonly maxSequence?: number
  /** Maximum length of any intermediate or final string, in characters. Default 1,000,000. */
  readonly maxStringLength?: number
  /** Maximum size of the result as JSON, in bytes. Default 1,000,000. */
  readonly maxResultBytes?: number
  /** Maximum length of an expression's source. Default 10,000. */
  readonly maxSourceLength?: number
  /** Compiled expressions kept in the cache. Default 1,000. */
  readonly cacheSize?: number
}

/** The defaults of {@link ExpressionLimits}. */
export const DEFAULT_LIMITS: Required<ExpressionLimits> = {
  timeoutMs: 200,
  maxDepth: 300,
  maxSequence: 100_000,
  maxStringLength: 1_000_000,
  maxResultBytes: 1_000_000,
  maxSourceLength: 10_000,
  cacheSize: 1_000
}

interface JsonataFailure {
  readonly code?: string
  readonly message?: string
  readonly position?: number
}

const reasonOf = (error: unknown): { readonly reason: string; readonly position?: number } => {
  const failure = (typeof error === "object" && error !== null ? error : { message: String(error) }) as JsonataFailure
  const message = failure.message ?? "evaluation failed"
  const reason = failure.code ? `${failure.code}: ${message}` : message
  return typeof failure.position === "number" ? { reason, position: failure.position } : { reason }
}

/** Whether a regular expression has a quantified group that itself contains a quantifier: `(a+)+`, `(a|aa)*`. */
export const hasNestedQuantifier = (pattern: string): boolean => {
  // A stack of groups: for each open group, whether it contains a quantifier or alternation.
  const stack: Array<{ quantified: boolean }> = []
  let lastGroupQuantified = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "\\") {
      i++
      lastGroupQuantified = false
      continue
    }
    if (c === "[") {
      // Skip a character class.
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1
      lastGroupQuantified = false
      continue
    }
    if (c === "(") {
      stack.push({ quantified: false })
      lastGroupQuantified = false
      continue
    }
    if (c === ")") {
      const group = stack.pop()
      lastGroupQuantified = group?.quantified ?? false
      if (lastGroupQuantified && stack.length > 0) stack[stack.length - 1]!.quantified = true
      continue
    }
    const isQuantifier = c === "*" || c === "+" || c === "?" || c === "{"
    if (isQuantifier) {
      if (lastGroupQuantified && c !== "?") return true
      if (stack.length > 0) stack[stack.length - 1]!.quantified = true
    } else if (c === "|" && stack.length > 0) {
      stack[stack.length - 1]!.quantified = true
    }
    lastGroupQuantified = false
  }
  return false
}

const makeRegexEngine = (maxInput: number): RegExpConstructor => {
  class BoundedRegExp extends RegExp {
    constructor(pattern: string | RegExp, flags?: string) {
      const source = typeof pattern === "string" ? pattern : pattern.source
      if (hasNestedQuantifier(source)) {
        throw {
          code: "JF002",
          message: `regular expression /${source}/ has nested quantifiers (catastrophic backtracking)`
        }
      }
      super(pattern, flags)
    }
    override exec(input: string): RegExpExecArray | null {
      if (input.length > maxInput) {
        throw { code: "JF003", message: `regular expression input longer than ${maxInput} characters` }
      }
      return super.exec(input)
    }
  }
  return BoundedRegExp as RegExpConstructor
}

/**
 * A JSONata engine with the given limits, as the shape of core's `Expr.Expressions` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { makeEngine } from "@jsonflow/sandbox/expressions"
 * const engine = makeEngine()
 * await Effect.runPromise(engine.evaluate("amount * 1.2", { amount: 100 }, {})) // 120
 * ```
 */
export const makeEngine = (options: ExpressionLimits = {}): Expr.ExpressionsShape => {
  const limits = { ...DEFAULT_LIMITS, ...options }
  const RegexEngine = makeRegexEngine(limits.maxStringLength)
  const cache = new Map<string, jsonata.Expression>()
  const exitHook = Symbol.for("jsonata.__evaluate_exit")

  const compile = (source: string): jsonata.Expression => {
    const cached = cache.get(source)
    if (cached !== undefined) return cached
    const expression = jsonata(source, {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
      RegexEngine
    })
    // Checked after every evaluation step: no intermediate string may outgrow the cap.
    expression.assign(
      exitHook as unknown as string,
      (_node: unknown, _input: unknown, _env: unknown, result: unknown) => {
        if (typeof result === "string" && result.length > limits.maxStringLength) {
          throw { code: "JF001", message: `a string grew past ${limits.maxStringLength} characters` }
        }
      }
    )
    const pad = (value: string, width: number, char?: string) => {
      if (Math.abs(width) > limits.maxStringLength) {
        throw { code: "JF001", message: `$pad width ${width} is above ${limits.maxStringLength}` }
      }
      const fill = char === undefined || char === "" ? " " : char
      const missing = Math.abs(width) - [...value].length
      if (missing <= 0) return value
      const padding = fill.repeat(Math.ceil(missing / [...fill].length)).slice(0, missing)
      return width < 0 ? padding + value : value + padding
    }
    expression.registerFunction("pad", pad, "<s-ns?:s>")
    if (cache.size >= limits.cacheSize) cache.delete(cache.keys().next().value!)
    cache.set(source, expression)
    return expression
  }

  return {
    evaluate: (source, data, bindings) =>
      Effect.suspend(() => {
        if (source.length > limits.maxSourceLength) {
          return Effect.fail(
            new Expr.ExpressionError({
              expression: source.slice(0, 80),
              reason: `expression longer than ${limits.maxSourceLength} characters`,
              retryable: false
            })
          )
        }
        let expression: jsonata.Expression
        try {
          expression = compile(source)
        } catch (error) {
          return Effect.fail(new Expr.ExpressionError({ expression: source, ...reasonOf(error), retryable: false }))
        }
        return Effect.tryPromise({
          try: () => expression.evaluate(data, bindings),
          catch: (error) => new Expr.ExpressionError({ expression: source, ...reasonOf(error), retryable: false })
        }).pipe(
          Effect.flatMap((result) => {
            let json: string | undefined
            try {
              json = result === undefined ? undefined : JSON.stringify(result)
            } catch (error) {
              return Effect.fail(new Expr.ExpressionError({ expression: source, ...reasonOf(error), retryable: false }))
            }
            if (json !== undefined && json.length > limits.maxResultBytes) {
              return Effect.fail(
                new Expr.ExpressionError({
                  expression: source,
                  reason: `result larger than ${limits.maxResultBytes} bytes`,
                  retryable: false
                })
              )
            }
            // JSONata sequences are arrays with extra flags: hand back plain JSON data.
            return Effect.succeed(json === undefined ? undefined : JSON.parse(json))
          })
        )
      })
  }
}

/**
 * Provides core's `Expr.Expressions` service with a bounded JSONata engine.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Flow } from "@jsonflow/core"
 * import { layer as expressions } from "@jsonflow/sandbox/expressions"
 * Flow.run(flow, input).pipe(Effect.provide(expressions()))
 * ```
 */
export const layer = (options: ExpressionLimits = {}): Layer.Layer<never> =>
  Layer.succeed(Expr.Expressions, makeEngine(options))
