/**
 * What is wrong with a flow file, said so a person can fix it: a JSON Pointer into the *file*, the node it
 * concerns, a sentence, and (for text input) the line and column. Loading, migrating and importing all
 * report problems in this one shape; the compiler's own problems are mapped into it.
 *
 * @module Problem
 */

/** One finding. `path` is a JSON Pointer (RFC 6901) into the document as written; `""` is the whole file. */
export interface Problem {
  readonly severity: "error" | "warning"
  readonly code: string
  readonly message: string
  readonly path: string
  readonly nodeId?: string
  readonly line?: number
  readonly column?: number
}

/**
 * Builds an error problem.
 *
 * @example
 * ```ts
 * import { Problem } from "@jsonflow/json-dsl"
 * Problem.error("unknown-node-type", "/nodes/q/type", 'unknown node type "sq1"', "q")
 * ```
 */
export const error = (code: string, path: string, message: string, nodeId?: string): Problem => ({
  severity: "error",
  code,
  message,
  path,
  ...(nodeId === undefined ? {} : { nodeId })
})

/** Builds a warning problem. */
export const warning = (code: string, path: string, message: string, nodeId?: string): Problem => ({
  severity: "warning",
  code,
  message,
  path,
  ...(nodeId === undefined ? {} : { nodeId })
})

/** Whether any problem is an error. */
export const hasErrors = (problems: ReadonlyArray<Problem>): boolean => problems.some((p) => p.severity === "error")

/**
 * A pointer as people read it in a message: the root pointer `""` (the whole document) is written `(root)`,
 * since `/` would be the pointer of the key `""`.
 *
 * @example
 * ```ts
 * import { Problem } from "@jsonflow/json-dsl"
 * Problem.where("") // "(root)"
 * Problem.where("/nodes/a") // "/nodes/a"
 * ```
 */
export const where = (path: string): string => (path === "" ? "(root)" : path)

/**
 * One line per problem, as `jsonflow validate` prints it: `<file>: <pointer>: <message>`, warnings prefixed.
 *
 * @example
 * ```ts
 * import { Problem } from "@jsonflow/json-dsl"
 * Problem.format("flow.json", Problem.error("x", "/nodes/a/type", "unknown node type \"b\""))
 * // 'flow.json: /nodes/a/type: unknown node type "b"'
 * Problem.format("flow.json", Problem.error("not-an-object", "", "expected a JSON object, got an array"))
 * // 'flow.json: (root): expected a JSON object, got an array'
 * ```
 */
export const format = (file: string, problem: Problem): string =>
  `${problem.severity === "warning" ? "warning: " : ""}${file}: ${where(problem.path)}: ${problem.message}`

/**
 * How many problems a report lists by default. A 16 MiB file can hold millions of mistakes (say, a key
 * repeated over and over); listing the first thousand says what to fix and keeps the report small.
 */
export const DEFAULT_MAX_PROBLEMS = 1000

/** The code of the line that counts the problems a report leaves out. */
export const MORE_PROBLEMS = "more-problems"

/**
 * The first `max` problems, then (if any are left out) one problem at the root counting them: an error when
 * an error is among them. `hidden` adds problems that were counted but never described.
 *
 * @example
 * ```ts
 * import { Problem } from "@jsonflow/json-dsl"
 * const many = Array.from({ length: 5 }, (_, i) => Problem.error("x", `/k${i}`, "is not a known property"))
 * Problem.capped(many, 2).map((p) => p.message).at(-1) // "and 3 more problems (3 errors) not listed"
 * ```
 */
export const capped = (problems: ReadonlyArray<Problem>, max: number, hidden = 0): ReadonlyArray<Problem> => {
  const limit = Math.max(0, Math.floor(max))
  if (problems.length <= limit && hidden === 0) return problems
  const left = problems.slice(limit)
  const errors = hidden + left.filter((p) => p.severity === "error").length
  const warnings = left.length - (errors - hidden)
  const counts = [
    ...(errors > 0 ? [`${errors} error${errors === 1 ? "" : "s"}`] : []),
    ...(warnings > 0 ? [`${warnings} warning${warnings === 1 ? "" : "s"}`] : [])
  ]
  const total = left.length + hidden
  const summary = `and ${total} more problem${total === 1 ? "" : "s"} (${counts.join(", ")}) not listed`
  return [...problems.slice(0, limit), (errors > 0 ? error : warning)(MORE_PROBLEMS, "", summary)]
}

/** Escapes one JSON Pointer segment. */
export const segment = (value: string | number): string => String(value).replace(/~/g, "~0").replace(/\//g, "~1")

/** Joins segments into a JSON Pointer. */
export const pointer = (...segments: ReadonlyArray<string | number>): string =>
  segments.map((s) => `/${segment(s)}`).join("")

/** Splits a JSON Pointer into unescaped segments. */
export const segmentsOf = (path: string): ReadonlyArray<string> =>
  path === ""
    ? []
    : path
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
