/**
 * PostgreSQL settings as a Schema: plain JSON, so a runner can read them from its config file. A password
 * is never part of it: `credential` names a credential whose `url` (and optional `password`) fields are
 * resolved through core's `Credentials`; a `url` given here must not hold a password.
 *
 * Several databases: {@link SqlDatabases} names each; a node picks one with its `database` field, and
 * `default` is the one used when a node names none.
 *
 * @module sql/config
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * What is wrong with a connection URL, if anything: not a `postgres://` URL, or it holds a password. Checked
 * on the whole config (not the field) so an error never echoes the URL, which may hold that password.
 */
const urlProblem = (text: string): string | undefined => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "`url` is not a URL: expected postgres://user@host:5432/database"
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return `\`url\` must be a postgres:// URL, not ${url.protocol}`
  }
  if (url.password !== "") {
    return "`url` holds a password: put the URL in a credential (field `url`, or the password in field `password`) and name it in `credential`"
  }
  return undefined
}

/** TLS: `true`/`"require"`, `"prefer"`, `"verify-full"`, or the JSON subset of `tls.connect` options. */
export const SqlTls = Schema.Union([
  Schema.Boolean,
  Schema.Literals(["require", "prefer", "verify-full"]),
  Schema.Struct({
    /** Default true. */
    rejectUnauthorized: Schema.optionalKey(Schema.Boolean),
    /** The name expected in the server certificate, when it differs from the host. */
    servername: Schema.optionalKey(Schema.String),
    /** PEM text of the CA(s) to trust (not a secret). */
    ca: Schema.optionalKey(Schema.String)
  })
])
export type SqlTls = typeof SqlTls.Type

/**
 * Settings of one database (a pool). Give `credential` (preferred) or `url`, not both.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Sql } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Sql.SqlConfig)({ credential: "orders-db", max: 20, statementTimeoutMs: 10000 })
 * ```
 */
export const SqlConfig = Schema.Struct({
  /** A `postgres://` URL without a password (for a trust- or certificate-authenticated server). */
  url: Schema.optionalKey(Schema.String),
  /** A credential name: its field `url` is the connection URL; an optional field `password` overrides the URL's. */
  credential: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  /** Maximum pooled connections (default 10). */
  max: Schema.optionalKey(PositiveInt),
  /** Seconds an idle connection stays open (default 30; 0 = forever). */
  idleTimeoutSeconds: Schema.optionalKey(NonNegativeInt),
  /** Seconds to open a connection (default 10). */
  connectTimeoutSeconds: Schema.optionalKey(PositiveInt),
  /** Seconds before a connection is replaced (default: postgres.js, 30 to 60 minutes; 0 = never). */
  maxLifetimeSeconds: Schema.optionalKey(NonNegativeInt),
  /** Server-side `statement_timeout` in ms for every statement (default 30 000; 0 = none). */
  statementTimeoutMs: Schema.optionalKey(NonNegativeInt),
  /** `search_path` on every connection, e.g. a tenant's schema (default: the server's). */
  searchPath: Schema.optionalKey(Schema.String),
  /** `application_name` on every connection (default `jsonflow`), visible in `pg_stat_activity`. */
  applicationName: Schema.optionalKey(Schema.String),
  /** TLS (default: off). */
  ssl: Schema.optionalKey(SqlTls),
  /** Use prepared statements (default true). Turn off behind a transaction-mode pooler. */
  prepare: Schema.optionalKey(Schema.Boolean),
  /** Check the connection with `select 1` when the layer is built (default true). */
  verify: Schema.optionalKey(Schema.Boolean)
}).check(
  Schema.makeFilter((config) =>
    config.url === undefined && config.credential === undefined
      ? "give `credential` (a credential name) or `url`"
      : config.url !== undefined && config.credential !== undefined
        ? "give `credential` or `url`, not both"
        : config.url === undefined
          ? undefined
          : urlProblem(config.url)
  )
)
export type SqlConfig = typeof SqlConfig.Type

/** The name of the database a node uses when its config names none. */
export const DEFAULT_DATABASE = "default"

/**
 * Several named databases, one pool each. Nodes choose with `database: "<name>"`; `default` serves the
 * nodes that name none (without it, such nodes fail with `SqlUnknownDatabase`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Sql } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Sql.SqlDatabases)({
 *   databases: { default: { credential: "orders-db" }, erp: { credential: "erp-db", max: 4 } }
 * })
 * ```
 */
export const SqlDatabases = Schema.Struct({
  databases: Schema.Record(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.-]+$/)), SqlConfig)
})
export type SqlDatabases = typeof SqlDatabases.Type
