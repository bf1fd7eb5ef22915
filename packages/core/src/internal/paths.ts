/**
 * Dotted paths (`customer.name`, `$vars.region`, `$trigger.headers.x-id`) parsed once and read many times:
 * the built-in nodes read the same few paths, from their configs, on every run.
 *
 * @module paths
 */

/** A parsed path: where it starts and the property names under it. */
export interface ParsedPath {
  readonly root: "input" | "vars" | "trigger"
  readonly segments: ReadonlyArray<string>
}

/** What a path is read against (the shape of `Expr.Scope`). */
export interface PathScope {
  readonly input: unknown
  readonly vars: unknown
  readonly trigger: unknown
}

// Paths come from configs, so there are few distinct ones. Bounded all the same.
const parsedPaths = new Map<string, ParsedPath>()
const MAX_PARSED_PATHS = 10_000

/** Parses a path (cached): `""` and `"$"` are the whole input; `$vars.` and `$trigger.` pick another root. */
export const parsePath = (path: string): ParsedPath => {
  let parsed = parsedPaths.get(path)
  if (parsed !== undefined) return parsed
  const segments = path === "" || path === "$" ? [] : path.split(".")
  parsed =
    segments[0] === "$vars"
      ? { root: "vars", segments: segments.slice(1) }
      : segments[0] === "$trigger"
        ? { root: "trigger", segments: segments.slice(1) }
        : { root: "input", segments }
  if (parsedPaths.size >= MAX_PARSED_PATHS) parsedPaths.clear()
  parsedPaths.set(path, parsed)
  return parsed
}

/** Reads a parsed path; only own properties are followed, so nothing on a prototype is ever reached. */
export const readParsed = (scope: PathScope, path: ParsedPath): unknown => {
  let current: unknown = path.root === "input" ? scope.input : path.root === "vars" ? scope.vars : scope.trigger
  const segments = path.segments
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}
