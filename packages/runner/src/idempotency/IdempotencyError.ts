/**
 * Typed failures of idempotent triggers: the key store is unreachable, a key arrives with a different
 * request, a key is still being processed, a key is missing or malformed, and a queue payload lacks its
 * dedupe key. The HTTP trigger answers each with its status and `{ "error": { "_tag", "message", ... } }`.
 *
 * @module IdempotencyError
 */
import { Schema } from "effect"

/**
 * The key store failed (Redis unreachable, a record it cannot read). Idempotent routes fail closed: 503.
 *
 * @example
 * ```ts
 * new IdempotencyStoreError({ operation: "claim", reason: "connect ECONNREFUSED 127.0.0.1:6379" }).message
 * // "idempotency store: claim failed: connect ECONNREFUSED 127.0.0.1:6379"
 * ```
 */
export class IdempotencyStoreError extends Schema.TaggedError<IdempotencyStoreError>()("IdempotencyStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `idempotency store: ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A key already used for a different request (method, path, query or body) of the same flow: 422.
 *
 * @example
 * ```ts
 * new IdempotencyKeyReused({ flowId: "orders", header: "idempotency-key", executionId: "e1" }).message
 * ```
 */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  flowId: Schema.String,
  header: Schema.String,
  executionId: Schema.String
}) {
  override get message() {
    return `the ${this.header} was already used for a different request to flow "${this.flowId}" (execution ${this.executionId}); use a new key for a new request`
  }
}

/**
 * The first request with this key is still running (`inFlight: "reject"`, or a wait that ran out): 409.
 *
 * @example
 * ```ts
 * new IdempotencyKeyInFlight({ flowId: "orders", header: "idempotency-key", executionId: "e1" }).message
 * ```
 */
export class IdempotencyKeyInFlight extends Schema.TaggedError<IdempotencyKeyInFlight>()("IdempotencyKeyInFlight", {
  flowId: Schema.String,
  header: Schema.String,
  executionId: Schema.String
}) {
  override get message() {
    return `a request with this ${this.header} to flow "${this.flowId}" is still running (execution ${this.executionId}); retry later`
  }
}

/**
 * The key header is missing (`required: true`) or malformed (empty, longer than 255 characters): 400.
 *
 * @example
 * ```ts
 * new IdempotencyKeyInvalid({ flowId: "orders", header: "idempotency-key", problem: "missing" }).message
 * ```
 */
export class IdempotencyKeyInvalid extends Schema.TaggedError<IdempotencyKeyInvalid>()("IdempotencyKeyInvalid", {
  flowId: Schema.String,
  header: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `flow "${this.flowId}": the ${this.header} header is ${this.problem}`
  }
}

/**
 * The request was processed, but its reply was larger than `idempotency.maxReplyBytes` and not kept: 409
 * with the execution id to look up.
 *
 * @example
 * ```ts
 * new IdempotentReplyNotStored({ flowId: "export", executionId: "e1", maxReplyBytes: 1048576 }).message
 * ```
 */
export class IdempotentReplyNotStored extends Schema.TaggedError<IdempotentReplyNotStored>()(
  "IdempotentReplyNotStored",
  { flowId: Schema.String, executionId: Schema.String, maxReplyBytes: Schema.Number }
) {
  override get message() {
    return `a request with this key to flow "${this.flowId}" already ran (execution ${this.executionId}); its reply was over ${this.maxReplyBytes} bytes and was not kept`
  }
}

/**
 * A payload enqueued for a flow whose queue trigger dedupes on `key` has no usable value there (absent, or
 * not a string or finite number).
 *
 * @example
 * ```ts
 * new DedupeKeyMissing({ flowId: "orders", pointer: "/orderId", problem: "absent" }).message
 * // 'flow "orders": the dedupe key /orderId of the input is absent'
 * ```
 */
export class DedupeKeyMissing extends Schema.TaggedError<DedupeKeyMissing>()("DedupeKeyMissing", {
  flowId: Schema.String,
  pointer: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `flow "${this.flowId}": the dedupe key ${this.pointer} of the input is ${this.problem}`
  }
}
