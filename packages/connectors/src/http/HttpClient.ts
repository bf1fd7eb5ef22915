/**
 * The HTTP client service: one undici `Agent` (a keep-alive connection pool per origin) opened when the
 * layer is built and closed when its scope closes. `request` runs one logical request: the SSRF guard (if
 * on), redirects, a size-capped body read, content-type decoding, a per-attempt deadline, cancellation that
 * aborts the socket, and optional connector-level retries that honour `Retry-After`.
 *
 * @module HttpClient
 */
import { Context, Effect, Layer } from "effect"
import { Agent, type Dispatcher } from "undici"
import { abortable } from "../shared/Abortable.ts"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { ConnectionSlots } from "../shared/ConnectionSlots.ts"
import { backoffMs, type RetryPolicy } from "../shared/Retryable.ts"
import { BodyTooLarge, decodeBody, type EncodedBody, type ResponseDecoding } from "./Body.ts"
import { HttpConfig } from "./config.ts"
import { dispatchBuffered } from "./Dispatch.ts"
import {
  HttpConnectError,
  HttpDecodeError,
  type HttpError,
  HttpInvalidRequest,
  HttpRedirectError,
  HttpResponseTooLarge,
  HttpTargetDenied,
  HttpTimeout,
  HttpTransportError
} from "./HttpErrors.ts"
import { guardedConnector, makeGuard, SsrfBlocked, type SsrfOptions } from "./SsrfGuard.ts"

/** Defaults used when neither the layer options nor the request say otherwise. */
export const DEFAULTS = {
  /** Per attempt: connect, send, headers and body together. */
  timeoutMs: 30_000,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRedirects: 5,
  connectionsPerOrigin: 64,
  keepAliveTimeoutMs: 4_000,
  connectTimeoutMs: 10_000,
  userAgent: "jsonflow-connectors"
} as const

/**
 * Options of the client layer: the {@link HttpConfig} Schema's type (plain JSON; checked when the layer is
 * built). `ssrfGuard` is off unless set here; `environment(...)` turns it on for JSON flows.
 */
export type HttpClientOptions = HttpConfig

/** HTTP methods the connector sends. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "TRACE"

/** A query parameter value; arrays repeat the key. */
export type QueryValue = string | number | boolean | ReadonlyArray<string | number | boolean>

/** One request as the service takes it. */
export interface HttpRequest {
  readonly method: HttpMethod
  /** Absolute `http:` or `https:` URL (it may carry a query; `query` is appended). */
  readonly url: string
  readonly query?: Readonly<Record<string, QueryValue>>
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: EncodedBody
  /** Response decoding (default `auto`: by content type). */
  readonly response?: ResponseDecoding
  readonly timeoutMs?: number
  readonly maxResponseBytes?: number
  /** Redirects to follow; 0 returns the 3xx response itself. */
  readonly maxRedirects?: number
  /** Connector-level retry (default: none, one attempt). Only retryable failures and statuses are retried. */
  readonly retry?: RetryPolicy
  /** Marks a non-idempotent method as safe to repeat (e.g. a POST carrying an idempotency key). */
  readonly idempotent?: boolean
}

/** A response: status, headers (lower-case names; repeated headers joined with `, `) and the decoded body. */
export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  /** The URL that answered, after redirects. */
  readonly url: string
}

/** Connection pool figures for one origin. */
export interface PoolStats {
  /** Open connections (busy or idle). */
  readonly connected: number
  /** Idle keep-alive connections. */
  readonly free: number
  /** Requests on a connection right now. */
  readonly running: number
  /** Requests waiting for a free connection slot. */
  readonly waiting: number
}

export interface HttpClientShape {
  /** Sends a request; any status is a success here (see `HttpStatusError` for turning non-2xx into a failure). */
  readonly request: (request: HttpRequest) => Effect.Effect<HttpResponse, HttpError>
  /** Pool figures by origin (to check that nothing leaks). */
  readonly stats: () => Readonly<Record<string, PoolStats>>
  /** Whether the SSRF guard is on. */
  readonly ssrfGuard: boolean
}

/**
 * The HTTP client service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Http } from "@jsonflow/connectors"
 *
 * const program = Effect.gen(function* () {
 *   const http = yield* Http.HttpClient
 *   const response = yield* http.request({ method: "GET", url: "https://example.org/status" })
 *   return response.status
 * }).pipe(Effect.provide(Http.layer({ ssrfGuard: true })))
 * ```
 */
export class HttpClient extends Context.Service<HttpClient, HttpClientShape>()(
  "@jsonflow/connectors/http/HttpClient"
) {}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])

/** Whether a method is idempotent by definition (RFC 9110 §9.2.2). */
export const isIdempotent = (method: string): boolean => IDEMPOTENT.has(method)

/** Whether a status is worth retrying: 429 always, 408/425/500/502/503/504 for idempotent requests. */
export const isRetryableStatus = (status: number, idempotent: boolean): boolean =>
  status === 429 || (idempotent && [408, 425, 500, 502, 503, 504].includes(status))

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date; `undefined` when absent or unreadable.
 *
 * @example
 * ```ts
 * parseRetryAfter("3") // 3000
 * ```
 */
export const parseRetryAfter = (value: string | undefined, now = Date.now()): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The URL for errors and events: origin and path, never the query or user info. */
export const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    return "<invalid url>"
  }
}

/** undici's default `headersTimeout` and `bodyTimeout`, in force when a request has no deadline. */
const UNDICI_TIMEOUT_MS = 300_000

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const SENSITIVE_ON_CROSS_ORIGIN = ["authorization", "cookie", "proxy-authorization"]
const CONNECT_RETRYABLE = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT"
])
const CONNECT_FINAL = new Set(["ENOTFOUND", "ERR_INVALID_IP_ADDRESS"])

class RedirectFailed extends Error {}

class DecodeFailed extends Error {
  readonly status: number
  readonly contentType: string
  constructor(status: number, contentType: string, reason: string) {
    super(reason)
    this.status = status
    this.contentType = contentType
  }
}

interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly bytes: Buffer
  readonly url: string
}

const flattenHeaders = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const flat: Record<string, string> = {}
  for (const key in headers) {
    const value = headers[key]
    if (value !== undefined) flat[key] = Array.isArray(value) ? value.join(", ") : value
  }
  return flat
}

const errorCode = (cause: unknown): string => {
  if (typeof cause !== "object" || cause === null) return "UNKNOWN"
  const code = (cause as { code?: unknown }).code
  if (typeof code === "string") return code
  const inner = (cause as { errors?: ReadonlyArray<unknown> }).errors?.[0]
  return inner === undefined ? "UNKNOWN" : errorCode(inner)
}

const errorText = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const buildUrl = (request: HttpRequest): URL => {
  const url = new URL(request.url)
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`unsupported scheme ${url.protocol}`)
  if (request.query) {
    for (const key in request.query) {
      const value = request.query[key]!
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item))
      else url.searchParams.append(key, String(value))
    }
  }
  return url
}

/**
 * Builds the client on a scope: the agent closes (in-flight requests finish first, then the rest is
 * destroyed after 5 s) when the scope closes.
 */
export const make = (input: HttpClientOptions = {}) =>
  Effect.gen(function* () {
    const options = yield* decodeConfig("http", HttpConfig, input)
    const guard = options.ssrfGuard
    const guardOptions: SsrfOptions | undefined =
      guard === true
        ? { enabled: true }
        : typeof guard === "object" && guard.enabled !== false
          ? { enabled: true, ...(guard.allow === undefined ? {} : { allow: guard.allow }) }
          : undefined
    const connectTimeout = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs
    const connections = options.connectionsPerOrigin ?? DEFAULTS.connectionsPerOrigin
    const agent = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Agent({
            connections,
            keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs,
            connect:
              guardOptions === undefined
                ? { timeout: connectTimeout }
                : guardedConnector(
                    makeGuard(guardOptions),
                    { timeout: connectTimeout },
                    (guardOptions.allow ?? []).filter((entry) => !entry.includes("/"))
                  )
          })
      ),
      (agent) =>
        Effect.promise(
          () =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => agent.destroy().then(resolve, resolve), 5_000)
              agent.close().then(
                () => {
                  clearTimeout(timer)
                  resolve()
                },
                () => resolve()
              )
            })
        )
    )
    const slots = new ConnectionSlots(connections)
    const userAgent = options.userAgent ?? DEFAULTS.userAgent
    const defaults = {
      timeoutMs: options.defaults?.timeoutMs ?? DEFAULTS.timeoutMs,
      maxResponseBytes: options.defaults?.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
      maxRedirects: options.defaults?.maxRedirects ?? DEFAULTS.maxRedirects
    }

    /** One attempt, redirects included, in promise land (the hot path). */
    /** The deadline of one attempt; 0 means none (undici's 300 s header and body timeouts remain). */
    const attemptTimeout = (request: HttpRequest) => request.timeoutMs ?? defaults.timeoutMs

    const exchange = async (request: HttpRequest, first: URL, signal: AbortSignal): Promise<RawResponse> => {
      const timeoutMs = attemptTimeout(request)
      const maxBytes = request.maxResponseBytes ?? defaults.maxResponseBytes
      const maxRedirects = request.maxRedirects ?? defaults.maxRedirects
      let url = first
      let method: string = request.method
      let body: string | Uint8Array | undefined = request.body?.bytes
      const headers: Record<string, string> = {}
      let hasUserAgent = false
      let hasContentType = false
      for (const name in request.headers) {
        const lower = name.toLowerCase()
        headers[lower] = request.headers[name]!
        if (lower === "user-agent") hasUserAgent = true
        else if (lower === "content-type") hasContentType = true
      }
      if (!hasUserAgent) headers["user-agent"] = userAgent
      if (request.body !== undefined && !hasContentType) headers["content-type"] = request.body.contentType
      for (let redirects = 0; ; redirects++) {
        const origin = url.origin
        const wait = slots.acquire(origin, signal)
        if (wait !== undefined) await wait
        try {
          const response = await dispatchBuffered(
            agent,
            {
              origin,
              path: `${url.pathname}${url.search}`,
              method: method as Dispatcher.HttpMethod,
              headers,
              body: body ?? null,
              // undici's own idle timers get the attempt's deadline too (its 300 s default otherwise), so the
              // timeout an error reports is the one that applied.
              ...(timeoutMs > 0 ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs } : {})
            },
            signal,
            maxBytes
          )
          const status = response.status
          const location = response.headers.location
          if (maxRedirects > 0 && REDIRECT_STATUSES.has(status) && location) {
            if (redirects >= maxRedirects) throw new RedirectFailed(`more than ${maxRedirects} redirects`)
            const next = new URL(location, url)
            if (next.protocol !== "http:" && next.protocol !== "https:") {
              throw new RedirectFailed(`redirect to unsupported scheme ${next.protocol}`)
            }
            if (next.origin !== origin) for (const name of SENSITIVE_ON_CROSS_ORIGIN) delete headers[name]
            if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
              method = method === "HEAD" ? "HEAD" : "GET"
              body = undefined
              delete headers["content-type"]
            }
            url = next
            continue
          }
          return { status, headers: flattenHeaders(response.headers), bytes: response.bytes, url: url.href }
        } finally {
          slots.release(origin)
        }
      }
    }

    const toError = (request: HttpRequest, idempotent: boolean, cause: unknown): HttpError => {
      const method = request.method
      const url = describeUrl(request.url)
      if (cause instanceof SsrfBlocked) {
        return new HttpTargetDenied({
          method,
          url,
          host: cause.host,
          address: cause.address,
          addressClass: cause.addressClass,
          retryable: false
        })
      }
      if (cause instanceof BodyTooLarge) {
        return new HttpResponseTooLarge({ method, url, limitBytes: cause.limitBytes, retryable: false })
      }
      if (cause instanceof RedirectFailed) {
        return new HttpRedirectError({ method, url, reason: cause.message, retryable: false })
      }
      if (cause instanceof DecodeFailed) {
        return new HttpDecodeError({
          method,
          url,
          status: cause.status,
          contentType: cause.contentType,
          reason: cause.message,
          retryable: false
        })
      }
      const code = errorCode(cause)
      const reason = errorText(cause)
      const syscall = (cause as { syscall?: unknown } | null)?.syscall
      if (CONNECT_RETRYABLE.has(code) || (syscall === "connect" && !CONNECT_FINAL.has(code))) {
        return new HttpConnectError({ method, url, code, reason, retryable: true })
      }
      if (CONNECT_FINAL.has(code) || code.startsWith("ERR_TLS") || code.includes("CERT")) {
        return new HttpConnectError({ method, url, code, reason, retryable: false })
      }
      if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
        const timeoutMs = attemptTimeout(request)
        return new HttpTimeout({
          method,
          url,
          timeoutMs: timeoutMs > 0 ? timeoutMs : UNDICI_TIMEOUT_MS,
          retryable: idempotent
        })
      }
      return new HttpTransportError({ method, url, code, reason, retryable: idempotent })
    }

    /** Decodes the body; a failed status whose body does not parse keeps the text (its status says enough). */
    const decode = (request: HttpRequest, raw: RawResponse): HttpResponse => {
      const contentType = raw.headers["content-type"] ?? ""
      try {
        return {
          status: raw.status,
          headers: raw.headers,
          body: decodeBody(raw.bytes, contentType, request.response ?? "auto"),
          url: raw.url
        }
      } catch (cause) {
        if (raw.status < 200 || raw.status >= 300) {
          return { status: raw.status, headers: raw.headers, body: raw.bytes.toString("utf8"), url: raw.url }
        }
        throw new DecodeFailed(raw.status, contentType, errorText(cause))
      }
    }

    const once = (request: HttpRequest, url: URL, idempotent: boolean): Effect.Effect<HttpResponse, HttpError> =>
      abortable({
        run: (signal) => exchange(request, url, signal).then((raw) => decode(request, raw)),
        timeoutMs: attemptTimeout(request),
        onTimeout: (ms) =>
          new HttpTimeout({
            method: request.method,
            url: describeUrl(request.url),
            timeoutMs: ms,
            retryable: idempotent
          }),
        onError: (cause) => toError(request, idempotent, cause)
      })

    const request = (request: HttpRequest): Effect.Effect<HttpResponse, HttpError> => {
      let url: URL
      try {
        url = buildUrl(request)
      } catch (cause) {
        return Effect.fail(new HttpInvalidRequest({ reason: `bad url: ${errorText(cause)}`, retryable: false }))
      }
      const idempotent = request.idempotent === true || isIdempotent(request.method)
      const policy = request.retry
      if (policy === undefined || policy.maxAttempts <= 1) return once(request, url, idempotent)
      const attempt = (n: number): Effect.Effect<HttpResponse, HttpError> =>
        Effect.flatMap(Effect.result(once(request, url, idempotent)), (result) => {
          const last = n >= policy.maxAttempts
          if (result._tag === "Success") {
            const response = result.success
            if (last || !isRetryableStatus(response.status, idempotent)) return Effect.succeed(response)
            const hint = parseRetryAfter(response.headers["retry-after"])
            // A server asking for a longer pause than the policy allows gets its answer back, not a retry.
            if (hint !== undefined && hint > (policy.maxDelayMs ?? 10_000)) return Effect.succeed(response)
            return Effect.andThen(Effect.sleep(backoffMs(policy, n, hint)), attempt(n + 1))
          }
          const error = result.failure
          if (last || !error.retryable) return Effect.fail(error)
          return Effect.andThen(Effect.sleep(backoffMs(policy, n)), attempt(n + 1))
        })
      return attempt(1)
    }

    const stats = (): Record<string, PoolStats> => {
      const all: Record<string, PoolStats> = {}
      for (const [origin, figures] of Object.entries(agent.stats)) {
        const pool = figures as { connected?: number; free?: number; running?: number }
        all[origin] = {
          connected: pool.connected ?? 0,
          free: pool.free ?? 0,
          running: pool.running ?? 0,
          waiting: slots.usage(origin).waiting
        }
      }
      return all
    }

    return HttpClient.of({ request, stats, ssrfGuard: guardOptions !== undefined })
  })

/**
 * The client as a layer; the pool opens when the layer is built and closes with it. Options that do not
 * match {@link HttpConfig} fail the layer with `ConnectorConfigError` naming the field.
 *
 * @example
 * ```ts
 * import { Http } from "@jsonflow/connectors"
 * const live = Http.layer({ connectionsPerOrigin: 16, ssrfGuard: { allow: ["10.1.0.0/16"] } })
 * ```
 */
export const layer = (options: HttpClientOptions = {}): Layer.Layer<HttpClient, ConnectorConfigError> =>
  Layer.effect(HttpClient, make(options))
