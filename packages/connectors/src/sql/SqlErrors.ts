/**
 * Typed failures of the SQL connector. A server error carries its SQLSTATE; `retryable` is true for the
 * states where running the statement again is expected to succeed: serialization failure (40001),
 * deadlock (40P01), lock not available (55P03), connection exceptions (class 08), server shutdown or
 * restart (57P01, 57P02, 57P03), too many connections (53300), and statement timeouts (see
 * {@link SqlTimeout} for when a client-side timeout is not).
 *
 * A retry repeats the statement: after a lost connection a write may already have committed, so retried
 * writes should be idempotent (`ON CONFLICT ...`) or run in a transaction node.
 *
 * @module SqlErrors
 */
import { Schema } from "effect"

const RETRYABLE_STATES = new Set(["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "57014"])

/**
 * Whether a SQLSTATE is worth retrying.
 *
 * @example
 * ```ts
 * isRetryableSqlState("40001") // true: serialization_failure
 * isRetryableSqlState("23505") // false: unique_violation
 * ```
 */
export const isRetryableSqlState = (state: string): boolean => RETRYABLE_STATES.has(state) || state.startsWith("08")

/** The server rejected the statement. */
export class SqlError extends Schema.TaggedError<SqlError>()("SqlError", {
  /** SQLSTATE, e.g. `23505` (unique_violation), `40001` (serialization_failure). */
  sqlstate: Schema.String,
  reason: Schema.String,
  detail: Schema.optionalKey(Schema.String),
  constraint: Schema.optionalKey(Schema.String),
  table: Schema.optionalKey(Schema.String),
  retryable: Schema.Boolean
}) {
  override get message() {
    return `SQL error ${this.sqlstate}: ${this.reason}${this.detail ? ` (${this.detail})` : ""}`
  }
}

/**
 * The statement ran past its deadline (client `timeoutMs`, waiting for a pooled connection included) or the
 * server's `statement_timeout`, and was cancelled.
 *
 * `retryable` is true when the statement is known not to have taken effect: the server confirmed the
 * cancel (or the statement never left the queue), it ran inside a transaction (rolled back), or it only
 * reads. It is false for a write outside a transaction whose cancel was not confirmed (no answer within
 * 5 s after it, or the connection broke meanwhile): it may have committed.
 */
export class SqlTimeout extends Schema.TaggedError<SqlTimeout>()("SqlTimeout", {
  timeoutMs: Schema.Number,
  /** `client`: the connector's deadline; `server`: PostgreSQL's statement_timeout. */
  source: Schema.Literals(["client", "server"]),
  retryable: Schema.Boolean
}) {
  override get message() {
    return this.source === "client"
      ? `SQL statement timed out after ${this.timeoutMs} ms and was cancelled`
      : "SQL statement cancelled by the server's statement_timeout"
  }
}

/**
 * The connection could not be opened or was lost (refused, reset, closed, connect timeout, or the server
 * ended the session: `code` is then its SQLSTATE, 57P01 to 57P03).
 */
export class SqlConnectionError extends Schema.TaggedError<SqlConnectionError>()("SqlConnectionError", {
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `SQL connection failed (${this.code}): ${this.reason}`
  }
}

/** A statement's parameters do not fit its placeholders (missing value, mixed `$1` and `:name` styles). */
export class SqlParameterError extends Schema.TaggedError<SqlParameterError>()("SqlParameterError", {
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `SQL parameters: ${this.reason}`
  }
}

/** A result row does not match the configured row Schema. */
export class SqlRowsInvalid extends Schema.TaggedError<SqlRowsInvalid>()("SqlRowsInvalid", {
  /** JSON Pointer into the rows, e.g. `/3/amount`. */
  path: Schema.String,
  problem: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `SQL result row${this.path ? ` at ${this.path}` : ""} does not match the row schema: ${this.problem}`
  }
}

/** A node names a database (`database`) the layer does not serve. */
export class SqlUnknownDatabase extends Schema.TaggedError<SqlUnknownDatabase>()("SqlUnknownDatabase", {
  database: Schema.String,
  /** The databases the layer serves. */
  known: Schema.Array(Schema.String),
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `no SQL database "${this.database}" is configured${this.known.length === 0 ? "" : ` (configured: ${this.known.join(", ")})`}`
  }
}

/**
 * `sql.stream` holds one pooled connection for its cursor while its body runs; a body that runs SQL on the
 * same database needs one more per concurrent run, so the pool must have `max >= concurrency + 1`, or the
 * stream would wait for itself until its deadline. Reported before the cursor opens.
 */
export class SqlPoolTooSmall extends Schema.TaggedError<SqlPoolTooSmall>()("SqlPoolTooSmall", {
  database: Schema.String,
  max: Schema.Number,
  needed: Schema.Number,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `sql.stream needs a pool of at least ${this.needed} connections on database "${this.database}" (its cursor plus one per concurrent body run that uses SQL); max is ${this.max}`
  }
}

/** Any failure of the SQL connector. */
export type SqlFailure =
  | SqlError
  | SqlTimeout
  | SqlConnectionError
  | SqlParameterError
  | SqlRowsInvalid
  | SqlUnknownDatabase
  | SqlPoolTooSmall

/** admin_shutdown (pg_terminate_backend, a failover), crash_shutdown, cannot_connect_now. */
const SESSION_ENDED = new Set(["57P01", "57P02", "57P03"])

const CONNECTION_CODES_RETRYABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT"
])

/**
 * Maps anything postgres.js throws to a {@link SqlFailure}.
 *
 * @example
 * ```ts
 * toSqlFailure(Object.assign(new Error("deadlock detected"), { name: "PostgresError", code: "40P01" })).retryable // true
 * ```
 */
export const toSqlFailure = (cause: unknown): SqlFailure => {
  const error = (typeof cause === "object" && cause !== null ? cause : {}) as {
    readonly name?: unknown
    readonly code?: unknown
    readonly message?: unknown
    readonly detail?: unknown
    readonly constraint_name?: unknown
    readonly table_name?: unknown
  }
  const code = typeof error.code === "string" ? error.code : "UNKNOWN"
  const reason = typeof error.message === "string" ? error.message : String(cause)
  if (error.name === "PostgresError" || /^(?=.*\d)[0-9A-Z]{5}$/.test(code)) {
    if (code === "57014" && /statement timeout/.test(reason)) {
      return new SqlTimeout({ timeoutMs: 0, source: "server", retryable: true })
    }
    // The server ended the session (terminated, crashed, restarting): a lost connection, whichever of the
    // error message or the closed socket reaches the client first.
    if (SESSION_ENDED.has(code)) return new SqlConnectionError({ code, reason, retryable: true })
    return new SqlError({
      sqlstate: code,
      reason,
      ...(typeof error.detail === "string" ? { detail: error.detail } : {}),
      ...(typeof error.constraint_name === "string" ? { constraint: error.constraint_name } : {}),
      ...(typeof error.table_name === "string" ? { table: error.table_name } : {}),
      retryable: isRetryableSqlState(code)
    })
  }
  return new SqlConnectionError({ code, reason, retryable: CONNECTION_CODES_RETRYABLE.has(code) })
}
