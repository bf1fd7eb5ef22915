/**
 * Typed failures of the HTTP connector. Each carries `retryable`: true only when sending the same request
 * again is safe and may succeed. A failure before the request left (connection refused, connect timeout)
 * is safe for every method; a failure after it left (timeout, reset) only for idempotent methods
 * (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or a request marked `idempotent`).
 *
 * @module HttpErrors
 */
import { Schema } from "effect"

const Request = {
  method: Schema.String,
  /** Origin and path only: the query string may hold secrets, so it is never recorded. */
  url: Schema.String
}

/**
 * The server answered with a non-2xx status (after redirects and connector retries). Retryable for
 * 408, 425, 500, 502, 503 and 504 when the method is idempotent, and for 429 with every method (a rate
 * limiter rejects before processing). `retryAfterMs` carries the server's `Retry-After`.
 */
export class HttpStatusError extends Schema.TaggedError<HttpStatusError>()("HttpStatusError", {
  ...Request,
  status: Schema.Number,
  /** The start of the response body (at most 1 KiB of text), to help a person see why. */
  body: Schema.String,
  retryAfterMs: Schema.optionalKey(Schema.Number),
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.method} ${this.url} answered ${this.status}${this.body ? `: ${this.body.slice(0, 200)}` : ""}`
  }
}

/** The request ran past its `timeoutMs` (connect, headers and body together, per attempt). */
export class HttpTimeout extends Schema.TaggedError<HttpTimeout>()("HttpTimeout", {
  ...Request,
  timeoutMs: Schema.Number,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.method} ${this.url} timed out after ${this.timeoutMs} ms`
  }
}

/** The connection could not be opened (refused, unreachable, DNS failure, connect timeout, TLS failure). */
export class HttpConnectError extends Schema.TaggedError<HttpConnectError>()("HttpConnectError", {
  ...Request,
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.method} ${this.url}: cannot connect (${this.code}): ${this.reason}`
  }
}

/** The connection failed after the request was sent (reset, closed mid-response, protocol error). */
export class HttpTransportError extends Schema.TaggedError<HttpTransportError>()("HttpTransportError", {
  ...Request,
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.method} ${this.url}: connection failed (${this.code}): ${this.reason}`
  }
}

/** The response body is larger than `maxResponseBytes`; reading stopped there and the connection was dropped. */
export class HttpResponseTooLarge extends Schema.TaggedError<HttpResponseTooLarge>()("HttpResponseTooLarge", {
  ...Request,
  limitBytes: Schema.Number,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.method} ${this.url}: response body exceeds ${this.limitBytes} bytes`
  }
}

/** The response body does not decode as its content type (or the configured `response` type) says. */
export class HttpDecodeError extends Schema.TaggedError<HttpDecodeError>()("HttpDecodeError", {
  ...Request,
  status: Schema.Number,
  contentType: Schema.String,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.method} ${this.url}: cannot decode the ${this.status} response (${this.contentType || "no content type"}): ${this.reason}`
  }
}

/** More redirects than `maxRedirects`, or a redirect to a scheme other than http/https. */
export class HttpRedirectError extends Schema.TaggedError<HttpRedirectError>()("HttpRedirectError", {
  ...Request,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.method} ${this.url}: ${this.reason}`
  }
}

/** The SSRF guard refused the target: it resolves to a loopback, private, link-local or otherwise internal address. */
export class HttpTargetDenied extends Schema.TaggedError<HttpTargetDenied>()("HttpTargetDenied", {
  ...Request,
  host: Schema.String,
  address: Schema.String,
  addressClass: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.method} ${this.url}: ${this.host} resolves to ${this.address}, a ${this.addressClass} address; the SSRF guard blocks it`
  }
}

/** The request cannot be built: bad URL, bad base64 body, input not of the expected shape. */
export class HttpInvalidRequest extends Schema.TaggedError<HttpInvalidRequest>()("HttpInvalidRequest", {
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `invalid HTTP request: ${this.reason}`
  }
}

/** Any failure of an HTTP request. */
export type HttpError =
  | HttpStatusError
  | HttpTimeout
  | HttpConnectError
  | HttpTransportError
  | HttpResponseTooLarge
  | HttpDecodeError
  | HttpRedirectError
  | HttpTargetDenied
  | HttpInvalidRequest
