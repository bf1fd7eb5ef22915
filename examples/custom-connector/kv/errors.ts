/**
 * Typed KV failures. Each is a `Schema.TaggedError` (serializable, catchable by tag) with a readable
 * `message` and a `retryable` flag: the engine retries a node only when its error says a retry is safe.
 *
 * @module kv/errors
 */
import { Schema } from "effect"

/** The server could not be reached or dropped the connection. */
export class KvUnavailable extends Schema.TaggedError<KvUnavailable>()("KvUnavailable", {
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `KV server unavailable: ${this.reason}`
  }
}

/** No reply in time; the request may have been applied, so only idempotent commands may retry. */
export class KvTimeout extends Schema.TaggedError<KvTimeout>()("KvTimeout", {
  command: Schema.String,
  timeoutMs: Schema.Number,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `KV ${this.command}: no reply within ${this.timeoutMs} ms`
  }
}

/** The server refused the token. Retrying cannot help. */
export class KvAuthError extends Schema.TaggedError<KvAuthError>()("KvAuthError", {
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `KV authentication failed: ${this.reason}`
  }
}

/** The server is overloaded and did nothing: retrying later is safe. */
export class KvBusy extends Schema.TaggedError<KvBusy>()("KvBusy", {
  reason: Schema.String,
  retryable: Schema.Literal(true)
}) {
  override get message() {
    return `KV server busy: ${this.reason}`
  }
}

/** The reply is not KV, or a stored value is not JSON. */
export class KvProtocolError extends Schema.TaggedError<KvProtocolError>()("KvProtocolError", {
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `KV protocol error: ${this.reason}`
  }
}

/** Any KV failure. */
export type KvError = KvUnavailable | KvTimeout | KvAuthError | KvBusy | KvProtocolError
