/**
 * The `http.request` node type. By default the node's input is the request body (`input: "body"`); with
 * `input: "request"` it is `{ url?, params?, query?, headers?, body? }` and overrides the config per
 * message. A 2xx response is emitted on `out`; any other status (a 3xx only when redirects are not
 * followed) fails the node with `HttpStatusError`, or with `nonOk: "port"` is emitted on the `nonOk` port.
 *
 * Credentials never sit in the config: `auth` names a credential resolved through core's `Credentials`
 * (`bearer`: field `token`; `basic`: fields `username`, `password`; `header`: field `value`).
 *
 * @module HttpRequestNode
 */
import { Credentials, Node } from "@jsonflow/core"
import { Effect, Redacted, Schema } from "effect"
import { RetryPolicy } from "../shared/Retryable.ts"
import { BodyEncoding, BodyEncodingFailed, encodeBody, ResponseDecoding } from "./Body.ts"
import {
  describeUrl,
  HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  isIdempotent,
  isRetryableStatus,
  parseRetryAfter
} from "./HttpClient.ts"
import { type HttpError, HttpInvalidRequest, HttpStatusError } from "./HttpErrors.ts"

const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])
const QueryValue = Schema.Union([Scalar, Schema.Array(Scalar)])
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/** Authentication by credential name. */
export const HttpAuth = Schema.Union([
  Schema.Struct({ type: Schema.Literal("bearer"), credential: Schema.String }),
  Schema.Struct({ type: Schema.Literal("basic"), credential: Schema.String }),
  Schema.Struct({ type: Schema.Literal("header"), credential: Schema.String, header: Schema.String })
])
export type HttpAuth = typeof HttpAuth.Type

/** Config of `http.request`; every optional field's default is in the README and on the field. */
export const HttpRequestConfig = Schema.Struct({
  /** Default `GET`. */
  method: Schema.optionalKey(Schema.Literals(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])),
  /** Absolute URL; `{name}` placeholders are filled from the input's `params` (request mode), URL-encoded. */
  url: Schema.String,
  query: Schema.optionalKey(Schema.Record(Schema.String, QueryValue)),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  auth: Schema.optionalKey(HttpAuth),
  /** What the input is: the body (default) or a request object overriding the config. */
  input: Schema.optionalKey(Schema.Literals(["body", "request"])),
  /** Body encoding (default `auto`: string as text, else JSON). GET/HEAD send no body unless set. */
  body: Schema.optionalKey(BodyEncoding),
  /** Response decoding (default `auto`: by content type). */
  response: Schema.optionalKey(ResponseDecoding),
  /** A failed status (>= 400, or 3xx not followed): fail with HttpStatusError (default) or emit on `nonOk`. */
  nonOk: Schema.optionalKey(Schema.Literals(["fail", "port"])),
  /** Per attempt (default 30 000). */
  timeoutMs: Schema.optionalKey(PositiveInt),
  /** Default 10 MiB. */
  maxResponseBytes: Schema.optionalKey(PositiveInt),
  /** Default 5; 0 does not follow redirects. */
  maxRedirects: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 }))),
  /** Connector-level retry (default none). See the README on how it adds to the node's retry policy. */
  retry: Schema.optionalKey(RetryPolicy),
  /** Marks this request safe to repeat although its method is not idempotent (e.g. an idempotency key). */
  idempotent: Schema.optionalKey(Schema.Boolean)
})
export type HttpRequestConfig = typeof HttpRequestConfig.Type

/** The input in `request` mode. */
export const HttpRequestInput = Schema.Struct({
  /** Absolute, or relative to the config URL. */
  url: Schema.optionalKey(Schema.String),
  params: Schema.optionalKey(Schema.Record(Schema.String, Scalar)),
  query: Schema.optionalKey(Schema.Record(Schema.String, QueryValue)),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  body: Schema.optionalKey(Schema.Unknown)
})
export type HttpRequestInput = typeof HttpRequestInput.Type

/** What the node emits. */
export const HttpResponseValue = Schema.Struct({
  status: Schema.Number,
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.Unknown
})
export type HttpResponseValue = typeof HttpResponseValue.Type

const decodeRequestInput = Schema.decodeUnknownExit(HttpRequestInput)

const fillParams = (url: string, params: Readonly<Record<string, string | number | boolean>> | undefined) =>
  params === undefined
    ? url
    : url.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
        Object.hasOwn(params, name) ? encodeURIComponent(String(params[name])) : whole
      )

const authHeaders = (auth: HttpAuth): Effect.Effect<Record<string, string>, Credentials.CredentialNotFound> => {
  switch (auth.type) {
    case "bearer":
      return Effect.map(Credentials.field(auth.credential, "token"), (token) => ({
        authorization: `Bearer ${Redacted.value(token)}`
      }))
    case "basic":
      return Effect.map(
        Effect.all([Credentials.field(auth.credential, "username"), Credentials.field(auth.credential, "password")]),
        ([user, password]) => ({
          authorization: `Basic ${Buffer.from(`${Redacted.value(user)}:${Redacted.value(password)}`).toString("base64")}`
        })
      )
    case "header":
      return Effect.map(Credentials.field(auth.credential, "value"), (value) => ({
        [auth.header.toLowerCase()]: Redacted.value(value)
      }))
  }
}

/**
 * Turns the node's config and input into a service request (pure; exported for tests and custom nodes).
 *
 * @example
 * ```ts
 * toRequest({ method: "POST", url: "https://crm.example/contacts" }, { name: "Ada" })
 * // { method: "POST", url: "https://crm.example/contacts", body: { bytes: '{"name":"Ada"}', contentType: "application/json" } }
 * ```
 */
export const toRequest = (config: HttpRequestConfig, input: unknown): HttpRequest => {
  const method: HttpMethod = config.method ?? "GET"
  let url = config.url
  let query = config.query
  let headers = config.headers
  let bodyValue: unknown
  if (config.input === "request") {
    const decoded = decodeRequestInput(input)
    if (decoded._tag === "Failure") {
      throw new BodyEncodingFailed("the input must be { url?, params?, query?, headers?, body? } in request mode")
    }
    const request = decoded.value
    url = fillParams(request.url === undefined ? url : new URL(request.url, url).href, request.params)
    if (request.query) query = { ...query, ...request.query }
    if (request.headers) headers = { ...headers, ...request.headers }
    bodyValue = request.body
  } else {
    bodyValue = input
  }
  const encoding =
    config.body ??
    (method === "GET" || method === "HEAD" || method === "DELETE" || method === "TRACE" ? "none" : "auto")
  const body = encodeBody(bodyValue, encoding)
  // RFC 9110 §9.3.8: a TRACE request carries no content.
  if (method === "TRACE" && body !== undefined) throw new BodyEncodingFailed("a TRACE request cannot have a body")
  return {
    method,
    url,
    ...(query === undefined ? {} : { query }),
    ...(headers === undefined ? {} : { headers }),
    ...(body === undefined ? {} : { body }),
    ...(config.response === undefined ? {} : { response: config.response }),
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    ...(config.maxResponseBytes === undefined ? {} : { maxResponseBytes: config.maxResponseBytes }),
    ...(config.maxRedirects === undefined ? {} : { maxRedirects: config.maxRedirects }),
    ...(config.retry === undefined ? {} : { retry: config.retry }),
    ...(config.idempotent === undefined ? {} : { idempotent: config.idempotent })
  }
}

/**
 * The failure for a non-2xx response: carries status, the start of the body, `Retry-After` and whether a
 * retry is safe.
 *
 * @example
 * ```ts
 * statusError({ method: "GET", url: "https://x.example/a" }, { status: 503, headers: {}, body: "busy", url: "https://x.example/a" })
 * ```
 */
export const statusError = (
  request: { readonly method: string; readonly url: string; readonly idempotent?: boolean },
  response: HttpResponse
): HttpStatusError => {
  const retryAfterMs = parseRetryAfter(response.headers["retry-after"])
  const text = typeof response.body === "string" ? response.body : (JSON.stringify(response.body) ?? "")
  return new HttpStatusError({
    method: request.method,
    url: describeUrl(request.url),
    status: response.status,
    body: text.slice(0, 1024),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    retryable: isRetryableStatus(response.status, request.idempotent === true || isIdempotent(request.method))
  })
}

const isOk = (status: number) => status >= 200 && status < 300

/**
 * `http.request`: sends one HTTP request through the {@link HttpClient} service.
 *
 * @example
 * ```json
 * { "type": "http.request", "config": { "method": "POST", "url": "https://crm.example/contacts",
 *   "auth": { "type": "bearer", "credential": "crm" }, "timeoutMs": 5000 } }
 * ```
 */
export const request = Node.define({
  type: "http.request",
  description:
    "Sends an HTTP request (undici, keep-alive pool per origin); emits the status, headers and decoded body.",
  config: HttpRequestConfig,
  input: Schema.Unknown,
  outputs: { out: HttpResponseValue, nonOk: HttpResponseValue },
  run: (input, config) => {
    let request: HttpRequest
    try {
      request = toRequest(config, input)
    } catch (cause) {
      return Effect.fail(
        new HttpInvalidRequest({ reason: cause instanceof Error ? cause.message : String(cause), retryable: false })
      )
    }
    const send = (extra: Record<string, string> | undefined) =>
      HttpClient.use((http) =>
        http.request(extra === undefined ? request : { ...request, headers: { ...request.headers, ...extra } })
      ).pipe(
        Effect.flatMap(
          (response): Effect.Effect<Node.Emission<{ out: HttpResponseValue; nonOk: HttpResponseValue }>, HttpError> => {
            const value = { status: response.status, headers: response.headers, body: response.body }
            if (isOk(response.status)) return Effect.succeed({ port: "out", value })
            if (config.nonOk === "port") return Effect.succeed({ port: "nonOk", value })
            return Effect.fail(statusError(request, response))
          }
        )
      )
    return config.auth === undefined ? send(undefined) : Effect.flatMap(authHeaders(config.auth), send)
  }
})
