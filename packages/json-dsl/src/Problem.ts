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
 * One line per problem, as `jsonflow validate` prints it: `<file>: <pointer>: <message>`, warnings prefixed.
 *
 * @example
 * ```ts
 * import { Problem } from "@jsonflow/json-dsl"
 * Problem.format("flow.json", Problem.error("x", "/nodes/a/type", "unknown node type \"b\""))
 * // 'flow.json: /nodes/a/type: unknown node type "b"'
 * ```
 */
export const format = (file: string, problem: Problem): string =>
  `${problem.severity === "warning" ? "warning: " : ""}${file}: ${problem.path === "" ? "/" : problem.path}: ${problem.message}`

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
