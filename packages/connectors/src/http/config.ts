/**
 * HTTP client settings as a Schema: plain JSON, so a runner can read them from its config file. There are
 * no secrets here: a request's credentials are named in the node's `auth` and resolved per request.
 *
 * @module http/config
 */
import { isIP } from "node:net"
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/** A host name, or a CIDR range such as `10.20.0.0/16`, `127.0.0.1/32`, `::1/128`. */
export const SsrfAllowEntry = Schema.String.check(
  Schema.makeFilter((entry: string) => {
    if (entry.trim() === "") return "expected a host name or a CIDR range"
    const slash = entry.indexOf("/")
    if (slash < 0) return undefined
    const family = isIP(entry.slice(0, slash))
    const prefix = entry.slice(slash + 1)
    const max = family === 4 ? 32 : 128
    return family !== 0 && /^\d{1,3}$/.test(prefix) && Number(prefix) <= max
      ? undefined
      : "expected a CIDR range such as 10.0.0.0/8 or fd00::/8"
  })
)

/** The SSRF guard: on unless `enabled: false`; `allow` lists host names and CIDR ranges let through. */
export const SsrfGuardConfig = Schema.Struct({
  /** Default true (when this object is given). */
  enabled: Schema.optionalKey(Schema.Boolean),
  allow: Schema.optionalKey(Schema.Array(SsrfAllowEntry))
})
export type SsrfGuardConfig = typeof SsrfGuardConfig.Type

/**
 * Settings of the HTTP client layer.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Http } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Http.HttpConfig)({ connectionsPerOrigin: 16, ssrfGuard: { allow: ["10.20.0.0/16"] } })
 * ```
 */
export const HttpConfig = Schema.Struct({
  /** Maximum open connections per origin (default 64); further requests queue. */
  connectionsPerOrigin: Schema.optionalKey(PositiveInt),
  /** How long an idle keep-alive connection stays open (default 4000 ms; the server's hint may lower it). */
  keepAliveTimeoutMs: Schema.optionalKey(PositiveInt),
  /** Deadline for opening a connection (default 10 000 ms). */
  connectTimeoutMs: Schema.optionalKey(PositiveInt),
  /**
   * The SSRF guard. `true`, or an object (`{ allow }`, `enabled` defaulting to true), blocks loopback,
   * private, link-local, unique-local and other internal targets unless `allow` lists the host name or a
   * CIDR range holding the address. Off by default for `Http.layer` (builder flows: trusted code); **on**
   * by default in `environment(...)`, which serves JSON flows. Node configs cannot turn it off.
   */
  ssrfGuard: Schema.optionalKey(Schema.Union([Schema.Boolean, SsrfGuardConfig])),
  /** Sent when a request sets no `user-agent` (default `jsonflow-connectors`). */
  userAgent: Schema.optionalKey(Schema.String),
  /** Request defaults: `timeoutMs` (30 000), `maxResponseBytes` (10 MiB), `maxRedirects` (5). */
  defaults: Schema.optionalKey(
    Schema.Struct({
      timeoutMs: Schema.optionalKey(PositiveInt),
      maxResponseBytes: Schema.optionalKey(PositiveInt),
      maxRedirects: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 })))
    })
  )
})
export type HttpConfig = typeof HttpConfig.Type
