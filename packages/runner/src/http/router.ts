/**
 * The route table of HTTP-triggered flows: method plus a path template with `:param` segments (the same
 * matching rule as `@jsonflow/json-dsl`'s `HttpRequest.matchPath`: equal segment counts, literal segments
 * compared exactly). Static paths are one map lookup; templates are tried by segment count, static
 * segments before parameters. A table is immutable: a reload builds a new one and swaps it.
 *
 * @module router
 */

/** A route's target, generic so the table does not know about flows. */
export interface Route<T> {
  readonly method: string
  readonly path: string
  readonly target: T
}

/** A match: the target and the captured parameters. */
export interface Match<T> {
  readonly target: T
  readonly params: Readonly<Record<string, string>>
}

/** The outcome of a lookup: a match, a path that exists with other methods (405), or nothing (404). */
export type Lookup<T> =
  | { readonly _tag: "Match"; readonly match: Match<T> }
  | { readonly _tag: "MethodNotAllowed"; readonly allow: ReadonlyArray<string> }
  | { readonly _tag: "NotFound" }

interface Template<T> {
  readonly method: string
  readonly segments: ReadonlyArray<string>
  readonly target: T
  /** Static segments count: more specific templates are tried first. */
  readonly specificity: number
}

/** An immutable route table. */
export interface Router<T> {
  readonly lookup: (method: string, path: string) => Lookup<T>
  readonly routes: ReadonlyArray<Route<T>>
}

const EMPTY = Object.freeze({}) as Readonly<Record<string, string>>

/** Two routes claim the same method and path. */
export interface Conflict<T> {
  readonly route: Route<T>
  readonly existing: Route<T>
}

/**
 * Builds a table. Routes whose method and path repeat an earlier one are not added; they are returned as
 * conflicts so the caller can report them.
 *
 * @example
 * ```ts
 * const { router } = make([{ method: "GET", path: "/users/:id", target: "user" }])
 * router.lookup("GET", "/users/7") // { _tag: "Match", match: { target: "user", params: { id: "7" } } }
 * ```
 */
export const make = <T>(
  routes: ReadonlyArray<Route<T>>
): { readonly router: Router<T>; readonly conflicts: ReadonlyArray<Conflict<T>> } => {
  const statics = new Map<string, T>()
  const staticPaths = new Map<string, Array<string>>()
  const templates = new Map<number, Array<Template<T>>>()
  const seen = new Map<string, Route<T>>()
  const accepted: Array<Route<T>> = []
  const conflicts: Array<Conflict<T>> = []
  for (const route of routes) {
    const segments = route.path.split("/")
    const shape = `${route.method} ${segments.map((s) => (s.startsWith(":") ? ":" : s)).join("/")}`
    const existing = seen.get(shape)
    if (existing) {
      conflicts.push({ route, existing })
      continue
    }
    seen.set(shape, route)
    accepted.push(route)
    if (!segments.some((s) => s.startsWith(":"))) {
      statics.set(`${route.method} ${route.path}`, route.target)
      const methods = staticPaths.get(route.path) ?? []
      methods.push(route.method)
      staticPaths.set(route.path, methods)
      continue
    }
    const list = templates.get(segments.length) ?? []
    list.push({
      method: route.method,
      segments,
      target: route.target,
      specificity: segments.filter((s) => !s.startsWith(":")).length
    })
    list.sort((a, b) => b.specificity - a.specificity)
    templates.set(segments.length, list)
  }
  const lookup = (method: string, path: string): Lookup<T> => {
    const exact = statics.get(`${method} ${path}`) ?? statics.get(`ANY ${path}`)
    if (exact !== undefined) return { _tag: "Match", match: { target: exact, params: EMPTY } }
    const allow = new Set(staticPaths.get(path) ?? [])
    const parts = path.split("/")
    const candidates = templates.get(parts.length)
    if (candidates) {
      for (const template of candidates) {
        const params: Record<string, string> = {}
        let ok = true
        for (let i = 0; i < parts.length; i++) {
          const segment = template.segments[i]!
          if (segment.startsWith(":")) {
            let value = parts[i]!
            if (value === "") {
              ok = false
              break
            }
            try {
              value = decodeURIComponent(value)
            } catch {
              // Keep the raw segment when it is not valid percent-encoding.
            }
            params[segment.slice(1)] = value
          } else if (segment !== parts[i]) {
            ok = false
            break
          }
        }
        if (!ok) continue
        if (template.method === method || template.method === "ANY") {
          return { _tag: "Match", match: { target: template.target, params } }
        }
        allow.add(template.method)
      }
    }
    // HEAD falls back to GET, as HTTP servers do.
    if (method === "HEAD") {
      const get = lookup("GET", path)
      if (get._tag === "Match") return get
    }
    return allow.size > 0 ? { _tag: "MethodNotAllowed", allow: [...allow] } : { _tag: "NotFound" }
  }
  return { router: { lookup, routes: accepted }, conflicts }
}
