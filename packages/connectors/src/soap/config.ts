/**
 * SOAP settings as a Schema. A layer serves several named clients (one per web service a flow talks to);
 * node configs refer to a client by name, so a JSON flow never carries endpoints or secrets. Authentication
 * names a credential whose `username` and `password` fields are resolved through `Credentials`.
 *
 * @module soap/config
 */
import { Schema } from "effect"

const Millis = Schema.Int.check(Schema.isGreaterThan(0))

/** HTTP basic authentication (also sent when fetching a WSDL over HTTP). */
export const BasicAuth = Schema.Struct({ type: Schema.Literal("basic"), credential: Schema.String })

/** A WS-Security `UsernameToken` in the SOAP header. */
export const WsSecurityAuth = Schema.Struct({
  type: Schema.Literal("wsSecurity"),
  credential: Schema.String,
  /** Default `PasswordText`. */
  passwordType: Schema.optionalKey(Schema.Literals(["PasswordText", "PasswordDigest"])),
  /** Add a `wsu:Timestamp`. Default true. */
  hasTimeStamp: Schema.optionalKey(Schema.Boolean),
  /** Add a `Nonce` (recommended with `PasswordDigest`). Default false. */
  hasNonce: Schema.optionalKey(Schema.Boolean),
  /** Add a `Created` element to the token. Default true. */
  hasTokenCreated: Schema.optionalKey(Schema.Boolean),
  /** Mark the Security header `mustUnderstand`. Default false. */
  mustUnderstand: Schema.optionalKey(Schema.Boolean)
})

export const SoapAuth = Schema.Union([BasicAuth, WsSecurityAuth])
export type SoapAuth = typeof SoapAuth.Type

/** One web service. */
export const SoapClientConfig = Schema.Struct({
  /** The WSDL: an `http(s)://` URL or a file path. Parsed once per process (per WSDL + options) and cached. */
  wsdl: Schema.String,
  /** Overrides the WSDL's `soap:address` (a test or staging endpoint, a proxy). */
  endpoint: Schema.optionalKey(Schema.String),
  auth: Schema.optionalKey(SoapAuth),
  /** Limit for one call, request and response. Default 30000 ms. */
  timeoutMs: Schema.optionalKey(Millis),
  /** Limit for fetching the WSDL (and its imports) when the layer starts. Default 30000 ms. */
  wsdlTimeoutMs: Schema.optionalKey(Millis),
  /** Extra HTTP headers on every call. */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /**
   * The service's operations can safely run twice, so calls whose outcome is unknown (timeout, dropped
   * connection, server fault, 500/502/504) are retryable. Default false.
   */
  idempotent: Schema.optionalKey(Schema.Boolean)
})
export type SoapClientConfig = typeof SoapClientConfig.Type

/**
 * Settings of the SOAP layer: named clients.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Soap } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Soap.SoapConfig)({
 *   clients: { orders: { wsdl: "https://erp.example.com/orders?wsdl", auth: { type: "wsSecurity", credential: "erp" } } }
 * })
 * ```
 */
export const SoapConfig = Schema.Struct({ clients: Schema.Record(Schema.String, SoapClientConfig) })
export type SoapConfig = typeof SoapConfig.Type

/** The documented defaults. */
export const defaults = {
  timeoutMs: 30_000,
  wsdlTimeoutMs: 30_000,
  idempotent: false,
  passwordType: "PasswordText",
  hasTimeStamp: true,
  hasNonce: false,
  hasTokenCreated: true,
  mustUnderstand: false
} as const
