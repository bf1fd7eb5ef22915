/**
 * The three ways a document arrives (text, bytes, an already-parsed value) turned into one value plus a way to
 * find lines, with the garbage checks that must happen before anything else looks at it: size, nesting,
 * syntax, duplicate keys, and "is this an object at all".
 *
 * @module Input
 */
import * as JsonText from "./JsonText.ts"
import * as Problem from "./Problem.ts"

/** A document ready to be interpreted. */
export interface Read {
  readonly _tag: "Read"
  readonly value: Record<string, unknown>
  /** Lines and columns of pointers, found in one pass over the text when asked (text input only). */
  readonly locate: JsonText.Locate
  /** Repeated keys (the first {@link JsonText.MAX_DUPLICATES}); `duplicateCount` counts them all. */
  readonly duplicates: ReadonlyArray<JsonText.DuplicateKey>
  readonly duplicateCount: number
}

/** What {@link read} returns. */
export type Outcome = Read | { readonly _tag: "Unreadable"; readonly problems: ReadonlyArray<Problem.Problem> }

const kindOf = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "an array"
      : typeof value === "string"
        ? "a string"
        : typeof value === "object"
          ? "an object"
          : `a ${typeof value}`

const noLocation: JsonText.Locate = (pointers) => pointers.map(() => undefined)

/**
 * Reads text (`string`), bytes (`Uint8Array`) or a parsed value into a JSON object.
 *
 * @example
 * ```ts
 * import { Input } from "@jsonflow/json-dsl"
 * Input.read("[1, 2]") // Unreadable: "expected a JSON object, got an array"
 * ```
 */
export const read = (input: unknown, limits: Partial<JsonText.Limits> = {}): Outcome => {
  let value: unknown
  let locate: Read["locate"] = noLocation
  let duplicates: ReadonlyArray<JsonText.DuplicateKey> = []
  let duplicateCount = 0
  if (typeof input === "string" || input instanceof Uint8Array) {
    const parsed = JsonText.parse(input, limits)
    if (parsed._tag === "Invalid") {
      const problem = parsed.problem
      return {
        _tag: "Unreadable",
        problems: [
          {
            ...Problem.error(problem.code, "", problem.message),
            ...(problem.at === undefined ? {} : { line: problem.at.line, column: problem.at.column })
          }
        ]
      }
    }
    value = parsed.value
    locate = parsed.locate
    duplicates = parsed.duplicates
    duplicateCount = parsed.duplicateCount
  } else {
    const maxDepth = limits.maxDepth ?? JsonText.DEFAULT_LIMITS.maxDepth
    if (JsonText.depthOf(input, maxDepth) > maxDepth) {
      return {
        _tag: "Unreadable",
        problems: [Problem.error("too-deep", "", `the value nests deeper than ${maxDepth} levels`)]
      }
    }
    value = input
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      _tag: "Unreadable",
      problems: [Problem.error("not-an-object", "", `expected a JSON object, got ${kindOf(value)}`)]
    }
  }
  return { _tag: "Read", value: value as Record<string, unknown>, locate, duplicates, duplicateCount }
}

/** Adds line and column to problems when the input was text (one pass over the text for all of them). */
export const withLocations = (
  problems: ReadonlyArray<Problem.Problem>,
  locate: Read["locate"]
): ReadonlyArray<Problem.Problem> => {
  const unplaced = problems.filter((problem) => problem.line === undefined)
  if (unplaced.length === 0) return problems
  const paths = [...new Set(unplaced.map((problem) => problem.path))]
  const found = locate(paths)
  const byPath = new Map(paths.map((path, index) => [path, found[index]]))
  return problems.map((problem) => {
    if (problem.line !== undefined) return problem
    const at = byPath.get(problem.path)
    return at === undefined ? problem : { ...problem, line: at.line, column: at.column }
  })
}
