/**
 * The HTTP request an HTTP-triggered flow sees as its trigger data (`$trigger` in paths, `ctx.trigger` in
 * nodes), and route matching with `:param` segments. `jsonflow run --method --path --query --header` builds
 * one of these; a runner's HTTP trigger should build the same shape.
 *
 * @module HttpRequest
 */
import { Schema } from "effect"

/** A request: headers with lower-case names; a repeated query key gives an array. */
export const HttpRequest = Schema.Struct({
  method: Schema.String,
  path: Schema.String,
  params: Schema.Record(Schema.String, Schema.String),
  query: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.Unknown
})
export type HttpRequest = typeof HttpRequest.Type

/**
 * Builds a request with defaults for what is not given.
 *
 * @example
 * ```ts
 * import { HttpRequest } from "@jsonflow/json-dsl"
 * HttpRequest.make({ method: "GET", path: "/users/7" }).query // {}
 * ```
 */
export const make = (
  request: Partial<HttpRequest> & { readonly method: string; readonly path: string }
): HttpRequest => ({
  method: request.method,
  path: request.path,
  params: request.params ?? {},
  query: request.query ?? {},
  headers: Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  body: request.body
})

/**
 * The flow input an HTTP request gives: its body when it has one, else its query and path parameters
 * (the path parameters win). The one rule for the runner's HTTP trigger, `jsonflow run` and `jsonflow test`.
 *
 * @example
 * ```ts
 * import { HttpRequest } from "@jsonflow/json-dsl"
 * const request = { query: { page: "2" }, params: { name: "ada" } }
 * HttpRequest.inputOf({ present: false, value: undefined }, request) // { page: "2", name: "ada" }
 * HttpRequest.inputOf({ present: true, value: { id: 7 } }, request) // { id: 7 }
 * ```
 */
export const inputOf = (
  body: { readonly present: boolean; readonly value: unknown },
  request: Pick<HttpRequest, "query" | "params">
): unknown => (body.present ? body.value : { ...request.query, ...request.params })

/** Reads a value that may be a request; anything else gives `undefined`. */
export const fromUnknown = (value: unknown): HttpRequest | undefined =>
  Schema.is(HttpRequest)(value) ? value : undefined

/**
 * Matches a path against a route template, nFlow style: split both on `/`, equal segment counts (so `/a` and
 * `/a/` differ), `:name` captures the raw segment, other segments compare literally and case-sensitively.
 * Returns the captures, or `undefined` when the path does not match.
 *
 * @example
 * ```ts
 * import { HttpRequest } from "@jsonflow/json-dsl"
 * HttpRequest.matchPath("/users/:id", "/users/42") // { id: "42" }
 * HttpRequest.matchPath("/users/:id", "/users/42/") // undefined
 * ```
 */
export const matchPath = (template: string, path: string): Record<string, string> | undefined => {
  if (template === "") return undefined
  const expected = template.split("/")
  const actual = path.split("/")
  if (expected.length !== actual.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < expected.length; i++) {
    const segment = expected[i]!
    if (segment.startsWith(":")) params[segment.slice(1)] = actual[i]!
    else if (segment !== actual[i]) return undefined
  }
  return params
}

/** Whether a trigger method accepts a request method (`ANY` accepts all; comparison is case-sensitive). */
export const methodMatches = (triggerMethod: string, method: string): boolean =>
  triggerMethod === "ANY" || triggerMethod === method

/**
 * Parses `k=v` query arguments (repeated keys collect into an array) and `Name: value` headers.
 *
 * @example
 * ```ts
 * import { HttpRequest } from "@jsonflow/json-dsl"
 * HttpRequest.queryOf(["a=1", "a=2", "b=x"]) // { a: ["1", "2"], b: "x" }
 * ```
 */
export const queryOf = (pairs: ReadonlyArray<string>): Record<string, string | ReadonlyArray<string>> => {
  const query: Record<string, string | ReadonlyArray<string>> = {}
  for (const pair of pairs) {
    const equals = pair.indexOf("=")
    const key = equals === -1 ? pair : pair.slice(0, equals)
    const value = equals === -1 ? "" : pair.slice(equals + 1)
    const existing = query[key]
    query[key] = existing === undefined ? value : [...(typeof existing === "string" ? [existing] : existing), value]
  }
  return query
}

/** Parses `Name: value` (or `Name=value`) header arguments into lower-case names. */
export const headersOf = (pairs: ReadonlyArray<string>): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of pairs) {
    const colon = pair.indexOf(":")
    if (colon <= 0) continue
    headers[pair.slice(0, colon).trim().toLowerCase()] = pair.slice(colon + 1).trim()
  }
  return headers
}
