/**
 * Typed SOAP failures. Whether a retry is safe depends on whether the request can have had an effect: a
 * connection that was never established is always retryable; an outcome that is unknown (timeout, dropped
 * connection, `Server`/`Receiver` fault, HTTP 500/502/504) only for a client marked `idempotent`; a
 * `Client`/`Sender` fault, a 4xx or a malformed response never.
 *
 * @module soap/errors
 */
import { Schema } from "effect"

const Where = { client: Schema.String, operation: Schema.String }

/** The service answered with a SOAP fault. `faultCode` is e.g. `soap:Client`, `soap:Server`, `env:Sender`. */
export class SoapFault extends Schema.TaggedError<SoapFault>()("SoapFault", {
  ...Where,
  faultCode: Schema.String,
  faultString: Schema.String,
  /** The fault's `detail`, as JSON text. */
  detail: Schema.optionalKey(Schema.String),
  httpStatus: Schema.optionalKey(Schema.Number),
  retryable: Schema.Boolean
}) {
  override get message() {
    return `SOAP fault from ${this.client}.${this.operation}: ${this.faultCode}: ${this.faultString}`
  }
}

/** A non-2xx HTTP status without a SOAP fault. Retryable for 429/503; for 500/502/504 when idempotent. */
export class SoapHttpError extends Schema.TaggedError<SoapHttpError>()("SoapHttpError", {
  ...Where,
  status: Schema.Number,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.client}.${this.operation}: HTTP ${this.status}`
  }
}

/** The connection failed: refused/unresolvable (retryable) or broken mid-call (retryable when idempotent). */
export class SoapConnectionError extends Schema.TaggedError<SoapConnectionError>()("SoapConnectionError", {
  ...Where,
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.client}.${this.operation}: connection failed (${this.code}): ${this.reason}`
  }
}

/** No response within the time limit; the request was aborted. Retryable when idempotent. */
export class SoapTimeout extends Schema.TaggedError<SoapTimeout>()("SoapTimeout", {
  ...Where,
  timeoutMs: Schema.Number,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.client}.${this.operation}: no response within ${this.timeoutMs} ms`
  }
}

/** The response is not a SOAP envelope the WSDL describes (HTML error page, broken XML). Not retryable. */
export class SoapResponseInvalid extends Schema.TaggedError<SoapResponseInvalid>()("SoapResponseInvalid", {
  ...Where,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.client}.${this.operation}: invalid response: ${this.reason}`
  }
}

/** The node names a client the layer does not have, or an operation its WSDL does not describe. */
export class SoapUnknownOperation extends Schema.TaggedError<SoapUnknownOperation>()("SoapUnknownOperation", {
  ...Where,
  /** What exists: client names, or `Service.Port.Operation` paths. */
  available: Schema.Array(Schema.String),
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `no SOAP operation ${this.client}.${this.operation} (available: ${this.available.join(", ") || "none"})`
  }
}

/** The WSDL could not be fetched or parsed when the layer started. */
export class SoapWsdlError extends Schema.TaggedError<SoapWsdlError>()("SoapWsdlError", {
  client: Schema.String,
  wsdl: Schema.String,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `SOAP client ${this.client}: cannot load WSDL ${this.wsdl}: ${this.reason}`
  }
}

/** Any failure of a SOAP call. */
export type SoapError =
  | SoapFault
  | SoapHttpError
  | SoapConnectionError
  | SoapTimeout
  | SoapResponseInvalid
  | SoapUnknownOperation

// Codes for connections that were never established: nothing reached the service.
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ERR_INVALID_URL"])

const text = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "number") return String(value)
  if (typeof value === "object" && value !== null && "$value" in value) return text(value.$value)
  return undefined
}

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {}

/** Reads a fault from the parsed envelope the soap package attaches to its error (`error.root`). */
const faultOf = (error: Record<string, unknown>) => {
  const fault = record(record(record(record(error.root).Envelope).Body).Fault)
  if (Object.keys(fault).length === 0) return undefined
  // SOAP 1.1: faultcode/faultstring/detail; SOAP 1.2: Code.Value(/Subcode)/Reason.Text/Detail.
  const code12 = record(fault.Code)
  const code =
    text(fault.faultcode) ??
    [text(code12.Value), text(record(code12.Subcode).Value)].filter((v) => v !== undefined).join(": ")
  const reason = text(fault.faultstring) ?? text(record(fault.Reason).Text) ?? ""
  const detail = fault.detail ?? fault.Detail
  return { code: code || "Fault", reason, detail: detail === undefined ? undefined : JSON.stringify(detail) }
}

/**
 * Maps a failure of the soap package (faults, axios errors, XML parse errors) to a typed error.
 *
 * @example
 * ```ts
 * import { Soap } from "@jsonflow/connectors"
 * Soap.fromSoapError("orders", "GetOrder", false, Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))
 * // SoapConnectionError, retryable: true
 * ```
 */
export const fromSoapError = (client: string, operation: string, idempotent: boolean, error: unknown): SoapError => {
  const e = record(error)
  const where = { client, operation }
  const status = typeof record(e.response).status === "number" ? (record(e.response).status as number) : undefined
  const fault = faultOf(e)
  if (fault !== undefined) {
    const retryable = /(Server|Receiver)$/i.test(fault.code) && idempotent
    return new SoapFault({
      ...where,
      faultCode: fault.code,
      faultString: fault.reason,
      ...(fault.detail === undefined ? {} : { detail: fault.detail }),
      ...(status === undefined ? {} : { httpStatus: status }),
      retryable
    })
  }
  const reason = typeof e.message === "string" ? e.message : String(error)
  if (status !== undefined && status >= 400) {
    const retryable = status === 429 || status === 503 || (idempotent && [500, 502, 504].includes(status))
    return new SoapHttpError({ ...where, status, retryable })
  }
  if (status !== undefined) return new SoapResponseInvalid({ ...where, reason, retryable: false })
  const code = typeof e.code === "string" ? e.code : "EUNKNOWN"
  return new SoapConnectionError({ ...where, code, reason, retryable: NOT_SENT.has(code) || idempotent })
}
