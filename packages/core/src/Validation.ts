/**
 * Decoding with every problem reported as `{ path, message }`, the path a JSON Pointer and the message a
 * sentence a person reads: `expected string, got 42`.
 *
 * @module Validation
 */
import { Cause, Exit, Schema, SchemaIssue } from "effect"

/** One problem found while decoding, at a JSON Pointer relative to the decoded value. */
export interface Issue {
  readonly path: string
  readonly message: string
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Escapes one JSON Pointer segment (RFC 6901): `~` becomes `~0`, `/` becomes `~1`.
 *
 * @example
 * ```ts
 * import { Validation } from "@jsonflow/core"
 * Validation.escapeSegment("a/b~c") // "a~1b~0c"
 * ```
 */
export const escapeSegment = (segment: string | number): string =>
  String(segment).replace(/~/g, "~0").replace(/\//g, "~1")

/**
 * Joins segments into a JSON Pointer (each escaped); no segments is `""`, the whole document.
 *
 * @example
 * ```ts
 * import { Validation } from "@jsonflow/core"
 * Validation.pointer(["nodes", "fetch/orders", "config", 0]) // "/nodes/fetch~1orders/config/0"
 * Validation.pointer([]) // ""
 * ```
 */
export const pointer = (segments: ReadonlyArray<string | number>): string =>
  segments.length === 0 ? "" : `/${segments.map(escapeSegment).join("/")}`

const valueAt = (
  value: unknown,
  segments: ReadonlyArray<PropertyKey>
): { readonly found: boolean; readonly value: unknown } => {
  let current = value
  for (const segment of segments) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) {
      return { found: false, value: undefined }
    }
    current = (current as Record<PropertyKey, unknown>)[segment]
  }
  return { found: true, value: current }
}

/** A short rendering of a value for messages: `42`, `"abc"`, `an object`, `an array of 3`. */
export const show = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (value === null) return "null"
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (typeof value === "object") return "an object"
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return String(value)
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1)

/**
 * Decodes `value` with `schema`, returning the decoded value or every issue. With `strict`, keys the
 * Schema does not know are reported instead of dropped.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Validation } from "@jsonflow/core"
 * Validation.decode(Schema.Struct({ sql: Schema.String }), { sql: 42 })
 * // { _tag: "Invalid", issues: [{ path: "/sql", message: "expected string, got 42" }] }
 * ```
 */
export const decode = <A>(
  schema: Schema.Codec<A, unknown>,
  value: unknown,
  options: { readonly strict?: boolean } = {}
):
  | { readonly _tag: "Valid"; readonly value: A }
  | { readonly _tag: "Invalid"; readonly issues: ReadonlyArray<Issue> } => {
  // strict: unknown object keys are errors (a typo in a config must not be silently dropped).
  const exit = Schema.decodeUnknownExit(schema)(value, {
    errors: "all",
    onExcessProperty: options.strict ? "error" : "ignore"
  })
  if (Exit.isSuccess(exit)) return { _tag: "Valid", value: exit.value }
  const error = Cause.squash(exit.cause)
  if (!Schema.isSchemaError(error)) return { _tag: "Invalid", issues: [{ path: "", message: String(error) }] }
  return { _tag: "Invalid", issues: issuesOf(error, value) }
}

/**
 * Turns a SchemaError into issues, adding what was found at each path (`expected number, got "3"`).
 * `value` is what was decoded: it is where the found values are read from.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Validation } from "@jsonflow/core"
 * const value = { amount: "3" }
 * try {
 *   Schema.decodeUnknownSync(Schema.Struct({ amount: Schema.Number }))(value)
 * } catch (error) {
 *   if (Schema.isSchemaError(error)) Validation.issuesOf(error, value) // [{ path: "/amount", message: 'expected number, got "3"' }]
 * }
 * ```
 */
export const issuesOf = (error: Schema.SchemaError, value: unknown): ReadonlyArray<Issue> =>
  formatter(error.issue).issues.map((issue) => {
    const segments = (issue.path ?? []).map((segment) =>
      typeof segment === "object" && segment !== null && "key" in segment ? (segment.key as PropertyKey) : segment
    ) as ReadonlyArray<PropertyKey>
    const at = valueAt(value, segments)
    const message = lowerFirst(issue.message)
    const detail =
      message === "missing key"
        ? "is required"
        : message === "expected no excess property" || message === "unexpected key"
          ? "is not a known property"
          : at.found
            ? `${message}, got ${show(at.value)}`
            : message
    return { path: pointer(segments.map((s) => (typeof s === "symbol" ? s.toString() : s))), message: detail }
  })
