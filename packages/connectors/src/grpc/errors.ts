/**
 * Typed gRPC failures. A call that ends with a non-OK status is a `GrpcError` carrying the status name and
 * the server's details; `UNAVAILABLE`, `DEADLINE_EXCEEDED` and `RESOURCE_EXHAUSTED` are retryable, every
 * other status is not.
 *
 * @module grpc/errors
 */
import { Schema } from "effect"

/** gRPC status names by code. */
export const StatusNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
] as const

export const StatusName = Schema.Literals(StatusNames)
export type StatusName = typeof StatusName.Type

const RETRYABLE: ReadonlySet<StatusName> = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"])

/** Whether a status is worth retrying. */
export const isRetryableStatus = (code: StatusName): boolean => RETRYABLE.has(code)

/** A call ended with a non-OK status. */
export class GrpcError extends Schema.TaggedError<GrpcError>()("GrpcError", {
  client: Schema.String,
  method: Schema.String,
  code: StatusName,
  /** The numeric status (`14` for `UNAVAILABLE`). */
  status: Schema.Number,
  details: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `gRPC ${this.client}.${this.method}: ${this.code}: ${this.details}`
  }
}

/** The node names a client the layer does not have, or a method its service does not define (or of another kind). */
export class GrpcUnknownMethod extends Schema.TaggedError<GrpcUnknownMethod>()("GrpcUnknownMethod", {
  client: Schema.String,
  method: Schema.String,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `gRPC ${this.client}.${this.method}: ${this.reason}`
  }
}

/** A server stream sent more messages than the node may collect (`maxItems`). */
export class GrpcStreamLimit extends Schema.TaggedError<GrpcStreamLimit>()("GrpcStreamLimit", {
  client: Schema.String,
  method: Schema.String,
  maxItems: Schema.Number,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `gRPC ${this.client}.${this.method}: the stream sent more than ${this.maxItems} messages`
  }
}

/** A `.proto` could not be loaded, or does not define the configured service (layer start). */
export class GrpcLoadError extends Schema.TaggedError<GrpcLoadError>()("GrpcLoadError", {
  client: Schema.String,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `gRPC client ${this.client}: ${this.reason}`
  }
}

/**
 * Maps a grpc-js error (a `ServiceError` with `code` and `details`) to a `GrpcError`.
 *
 * @example
 * ```ts
 * import { Grpc } from "@jsonflow/connectors"
 * Grpc.fromServiceError("orders", "GetOrder", { code: 14, details: "No connection established" }).retryable // true
 * ```
 */
export const fromServiceError = (client: string, method: string, error: unknown): GrpcError => {
  const e = typeof error === "object" && error !== null ? (error as { code?: unknown; details?: unknown }) : {}
  const status = typeof e.code === "number" && e.code >= 0 && e.code < StatusNames.length ? e.code : 2
  const code = StatusNames[status] ?? "UNKNOWN"
  const details = typeof e.details === "string" ? e.details : error instanceof Error ? error.message : String(error)
  return new GrpcError({ client, method, code, status, details, retryable: isRetryableStatus(code) })
}
