/**
 * The nFlow `http_*` helpers, served on the host through the HTTP connector's client.
 *
 * In nflow-runtime, `http_get(url)`, `http_delete(url)`, `http_post/put/patch(url, body)` and their
 * `*_with_header` variants (`header` last: `{ "Name": ["value"] }`) send the request synchronously and
 * return `{ body, status, status_code, header, err }`: the body as a string, `status` as `"200 OK"`, the
 * numeric `status_code`, the response headers as a map of string arrays with canonical names, and `err`
 * (`null`). Any status is an answer, not a failure. Here the script's helper sends the request as plain data
 * through the sandbox's host-call channel (capability `http`, see {@link hostCalls}); the host sends it with
 * the `HttpClient` the runner provides — with its SSRF guard, timeouts and size cap — and answers the same
 * shape. Differences, on purpose: TLS certificates are verified; a connection that fails (refused, denied
 * by the SSRF guard, timed out, a body over {@link MAX_RESPONSE_BYTES}) fails the box with a typed
 * `HostCallError` naming the node (nflow-runtime panics and, by its bug 3, reports success); the call's
 * time limit bounds the request; a non-string body is sent as JSON (`application/json`), a string body as
 * `text/plain` unless the headers name a content type.
 *
 * @module nflow/Http
 */
import { STATUS_CODES } from "node:http"
import { Effect, Schema } from "effect"
import { canonicalHeader } from "./contract.ts"

/** Methods the helpers send. */
export type HelperMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

/** A request as the helpers hand it to the client (a subset of `@jsonflow/connectors/http`'s `HttpRequest`). */
export interface ClientRequest {
  readonly method: HelperMethod
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: { readonly bytes: string; readonly contentType: string }
  readonly response: "text"
  readonly maxResponseBytes: number
}

/**
 * What the helpers need of an HTTP client: `@jsonflow/connectors/http`'s `HttpClient` service fits (this
 * package does not depend on the connectors; the runner hands its client in).
 */
export interface HttpClientLike {
  readonly request: (request: ClientRequest) => Effect.Effect<
    {
      readonly status: number
      readonly headers: Readonly<Record<string, string>>
      readonly body: unknown
    },
    unknown
  >
}

/** What a helper returns to the script, as nflow-runtime's. */
export interface HelperResult {
  readonly body: string
  readonly status: string
  readonly status_code: number
  readonly header: Readonly<Record<string, ReadonlyArray<string>>>
  readonly err: null
}

/** The largest response body a helper reads (the client fails with `HttpResponseTooLarge` past it). */
export const MAX_RESPONSE_BYTES = 2 * 1024 * 1024
/** Helper calls one step of a box may make. */
export const MAX_CALLS = 50
/** UTF-8 bytes of one helper request or answer as JSON (room for a full body, escaped). */
export const MAX_HOST_CALL_BYTES = 6 * 1024 * 1024

/** A request the script's wrapper sent that is not a helper request (the script called the channel itself). */
export class NflowHttpRequestInvalid extends Schema.TaggedError<NflowHttpRequestInvalid>()("NflowHttpRequestInvalid", {
  reason: Schema.String
}) {
  override get message() {
    return `not an http_* helper request: ${this.reason}`
  }
}

const METHODS: ReadonlySet<string> = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"])

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `{ "X-Key": ["a", "b"] }` or `{ "X-Key": "a" }` -> `{ "X-Key": "a, b" }` (nflow-runtime sends each value). */
const headersOf = (header: unknown): Record<string, string> => {
  const headers: Record<string, string> = {}
  if (!isRecord(header)) return headers
  for (const [name, value] of Object.entries(header)) {
    if (value === undefined || value === null) continue
    headers[name] = Array.isArray(value) ? value.map(String).join(", ") : String(value)
  }
  return headers
}

/**
 * The client request for a helper request `{ method, url, body?, header? }` from the script.
 *
 * @example
 * ```ts
 * toClientRequest({ method: "POST", url: "https://api.example.org/orders", body: '{"n":1}', header: { "Content-Type": ["application/json"] } })
 * // { method: "POST", url: ..., headers: { "Content-Type": "application/json" }, body: { bytes: '{"n":1}', contentType: ... }, response: "text", ... }
 * ```
 */
export const toClientRequest = (request: unknown): ClientRequest | NflowHttpRequestInvalid => {
  if (!isRecord(request)) return new NflowHttpRequestInvalid({ reason: "expected an object" })
  const { method, url, body, header } = request
  if (typeof method !== "string" || !METHODS.has(method)) {
    return new NflowHttpRequestInvalid({ reason: `unsupported method ${JSON.stringify(method)}` })
  }
  if (typeof url !== "string") return new NflowHttpRequestInvalid({ reason: "the url is not a string" })
  const headers = headersOf(header)
  const base = {
    method: method as HelperMethod,
    url,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    response: "text" as const,
    maxResponseBytes: MAX_RESPONSE_BYTES
  }
  // nflow-runtime sends a body with POST, PUT and PATCH only (an absent one is empty).
  if (method === "GET" || method === "DELETE") return base
  const bytes = typeof body === "string" ? body : body === undefined || body === null ? "" : JSON.stringify(body)
  const contentType =
    typeof body === "string" || body === undefined || body === null ? "text/plain; charset=utf-8" : "application/json"
  return { ...base, body: { bytes, contentType } }
}

/**
 * The `http` host capability: sends a helper request with `client` and answers nflow-runtime's shape.
 *
 * @example
 * ```ts
 * const http = capability(client)
 * Effect.runPromise(http({ method: "GET", url: "https://example.org/" })) // { body: "<!doctype html>...", status: "200 OK", status_code: 200, header: { "Content-Type": ["text/html"] }, err: null }
 * ```
 */
export const capability =
  (client: HttpClientLike) =>
  (request: unknown): Effect.Effect<HelperResult, unknown> => {
    const built = toClientRequest(request)
    if (built instanceof NflowHttpRequestInvalid) return Effect.fail(built)
    return Effect.map(client.request(built), (response) => {
      const header: Record<string, ReadonlyArray<string>> = {}
      for (const [name, value] of Object.entries(response.headers)) header[canonicalHeader(name)] = [value]
      const reason = STATUS_CODES[response.status]
      return {
        body: typeof response.body === "string" ? response.body : (JSON.stringify(response.body) ?? ""),
        status: reason === undefined ? String(response.status) : `${response.status} ${reason}`,
        status_code: response.status,
        header,
        err: null
      }
    })
  }

/**
 * The host calls one step of a code box gets when an HTTP client is available: the `http` capability, at
 * most {@link MAX_CALLS} calls, requests and answers up to {@link MAX_HOST_CALL_BYTES}. Pass it to the
 * sandbox as `RunOptions.hostCalls`.
 *
 * @example
 * ```ts
 * sandbox.run(source, input, { nodeId, executionId, hostCalls: Nflow.Http.hostCalls(client) })
 * ```
 */
export const hostCalls = (client: HttpClientLike) => ({
  capabilities: { http: capability(client) },
  maxCalls: MAX_CALLS,
  maxBytes: MAX_HOST_CALL_BYTES
})
