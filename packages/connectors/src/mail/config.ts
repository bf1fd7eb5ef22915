/**
 * SMTP settings as a Schema (readable from a runner config file). The password is never part of it:
 * `credential` names a credential whose `user` (or `username`) and `password` fields are resolved through
 * `Credentials` when the layer starts.
 *
 * @module mail/config
 */
import { Schema } from "effect"

const Millis = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * Settings of the SMTP transport.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Mail } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Mail.MailConfig)({ host: "smtp.example.com", port: 587, credential: "smtp", from: "flows@example.com" })
 * ```
 */
export const MailConfig = Schema.Struct({
  host: Schema.String,
  /** Default 465 when `secure`, else 587. */
  port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))),
  /** `true`: TLS from the first byte (port 465). `false` (default): plain, upgraded with STARTTLS if offered. */
  secure: Schema.optionalKey(Schema.Boolean),
  /** Refuse to send unless the connection is upgraded with STARTTLS. Default false. */
  requireTLS: Schema.optionalKey(Schema.Boolean),
  /** Never use STARTTLS, even when offered (local relays, tests). Default false. */
  ignoreTLS: Schema.optionalKey(Schema.Boolean),
  tls: Schema.optionalKey(
    Schema.Struct({
      /** Default true. */
      rejectUnauthorized: Schema.optionalKey(Schema.Boolean),
      servername: Schema.optionalKey(Schema.String)
    })
  ),
  /** Credential name; fields `user` (or `username`) and `password`. Absent: no AUTH. */
  credential: Schema.optionalKey(Schema.String),
  /** Default sender when neither the message nor the node config has one. */
  from: Schema.optionalKey(Schema.String),
  /** Host name announced in EHLO. Default: the machine's host name. */
  clientName: Schema.optionalKey(Schema.String),
  /** Reuse connections (default true) with at most this many open at once (default 5). */
  pool: Schema.optionalKey(Schema.Boolean),
  maxConnections: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** Time to open the TCP/TLS connection. Default 10000 ms. */
  connectionTimeoutMs: Schema.optionalKey(Millis),
  /** Time to wait for the server greeting. Default 10000 ms. */
  greetingTimeoutMs: Schema.optionalKey(Millis),
  /** Inactivity limit on an open connection. Default 30000 ms. */
  socketTimeoutMs: Schema.optionalKey(Millis),
  /** Limit for one whole send (connect, auth, envelope, data). Default 60000 ms. */
  sendTimeoutMs: Schema.optionalKey(Millis)
})
export type MailConfig = typeof MailConfig.Type

/** The documented defaults. */
export const defaults = {
  portPlain: 587,
  portSecure: 465,
  pool: true,
  maxConnections: 5,
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  sendTimeoutMs: 60_000
} as const
