/**
 * Typed Redis failures. Each says whether a retry is safe: a command that never reached the server always
 * is; a command whose fate is unknown (timeout, connection lost after sending) only when repeating it cannot
 * change the result (`GET`, `SET`, `HSET`, ... but not `LPUSH`, `LPOP`, `XADD` or `PUBLISH`).
 *
 * @module redis/errors
 */
import { Schema } from "effect"

/** The server could not be reached, or the connection dropped. `retryable` unless the command may have run. */
export class RedisUnavailable extends Schema.TaggedError<RedisUnavailable>()("RedisUnavailable", {
  operation: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `redis ${this.operation}: server unavailable (${this.reason})`
  }
}

/** No reply within the command timeout. Retryable only for idempotent commands. */
export class RedisTimeout extends Schema.TaggedError<RedisTimeout>()("RedisTimeout", {
  operation: Schema.String,
  timeoutMs: Schema.Number,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `redis ${this.operation}: no reply within ${this.timeoutMs} ms`
  }
}

/**
 * The server answered with an error: `code` is its first word (`WRONGTYPE`, `ERR`, `NOPERM`, `LOADING`, ...).
 * Retryable for the transient ones: `LOADING`, `BUSY`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`.
 */
export class RedisReplyError extends Schema.TaggedError<RedisReplyError>()("RedisReplyError", {
  operation: Schema.String,
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `redis ${this.operation}: ${this.reason}`
  }
}

/** A value could not be encoded for, or decoded from, Redis (e.g. a stored value that is not valid JSON). */
export class RedisValueError extends Schema.TaggedError<RedisValueError>()("RedisValueError", {
  operation: Schema.String,
  key: Schema.String,
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `redis ${this.operation} "${this.key}": ${this.reason}`
  }
}

/** Any failure of a Redis command. */
export type RedisError = RedisUnavailable | RedisTimeout | RedisReplyError | RedisValueError

// Commands whose repetition leaves the same state: safe to retry when their outcome is unknown.
const IDEMPOTENT = new Set([
  "get",
  "set",
  "del",
  "expire",
  "hget",
  "hset",
  "hgetall",
  "lrange",
  "xrange",
  "xread",
  "ping"
])

/** Whether repeating `operation` (lower-case command name) after an unknown outcome is safe. */
export const isIdempotent = (operation: string): boolean => IDEMPOTENT.has(operation)

const TRANSIENT_REPLIES = new Set(["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"])

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Maps an ioredis failure to a typed error.
 *
 * @example
 * ```ts
 * import { Redis } from "@jsonflow/connectors"
 * Redis.fromIoredisError("lpush", new Error("Command timed out"), 5000) // RedisTimeout, retryable: false
 * ```
 */
export const fromIoredisError = (operation: string, error: unknown, timeoutMs: number): RedisError => {
  const message = messageOf(error)
  const name = error instanceof Error ? error.name : ""
  if (name === "ReplyError") {
    const code = /^[A-Z]+/.exec(message)?.[0] ?? "ERR"
    return new RedisReplyError({ operation, code, reason: message, retryable: TRANSIENT_REPLIES.has(code) })
  }
  if (message === "Command timed out") {
    return new RedisTimeout({ operation, timeoutMs, retryable: isIdempotent(operation) })
  }
  // With the offline queue disabled, a command issued while disconnected is rejected before it is sent.
  if (message.includes("enableOfflineQueue") || message.includes("ECONNREFUSED")) {
    return new RedisUnavailable({ operation, reason: message, retryable: true })
  }
  return new RedisUnavailable({ operation, reason: message, retryable: isIdempotent(operation) })
}
