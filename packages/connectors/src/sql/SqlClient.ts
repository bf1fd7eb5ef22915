/**
 * The PostgreSQL client service (postgres.js): a connection pool opened (and checked with `select 1`) when
 * the layer is built and ended when its scope closes. Statements are always parameterized (see
 * {@link Statement}); every call has an optional deadline, and interrupting the fiber cancels the statement
 * on the server. Large results stream through a cursor as an Effect `Stream` of row batches, and
 * `transaction` runs several statements on one reserved connection, committed or rolled back as a whole.
 *
 * @module SqlClient
 */
import { Credentials } from "@jsonflow/core"
import { Context, Effect, Exit, Layer, Redacted, Stream } from "effect"
import postgres from "postgres"
import { abortableStart, DeadlineExceeded } from "../shared/Abortable.ts"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { ConnectionSlots } from "../shared/ConnectionSlots.ts"
import { DEFAULT_DATABASE, SqlConfig, SqlDatabases } from "./config.ts"
import { SqlConnectionError, type SqlFailure, SqlTimeout, SqlUnknownDatabase, toSqlFailure } from "./SqlErrors.ts"
import { type Bound, bind, type Statement } from "./Statement.ts"

/** One result row: column name -> value (JSON data: timestamps with time zone as ISO strings, bytea as base64). */
export type Row = { readonly [column: string]: unknown }

/** What a statement returns. */
export interface QueryResult {
  readonly rows: ReadonlyArray<Row>
  /** Rows returned or affected. */
  readonly count: number
  /** `SELECT`, `INSERT`, `UPDATE`, ... */
  readonly command: string
}

/** Per-call options. */
export interface QueryOptions {
  /** Values for `:name` placeholders not in `params` (and for `$n` when `params` is absent). */
  readonly input?: unknown
  /** Client deadline in ms, waiting for a pooled connection included (default: none; the node sets 30 000). */
  readonly timeoutMs?: number
}

/** Statements on one connection or transaction. */
export interface SqlSession {
  /**
   * Runs one statement.
   *
   * @example
   * ```ts
   * const result = yield* db.query(Sql.sql`select id from orders where status = ${"paid"}`)
   * ```
   */
  readonly query: (statement: Statement, options?: QueryOptions) => Effect.Effect<QueryResult, SqlFailure>
}

/** Transaction settings. */
export interface TransactionOptions {
  /** Default: the server's (read committed). */
  readonly isolation?: "read committed" | "repeatable read" | "serializable"
  readonly readOnly?: boolean
}

export interface SqlClientShape extends SqlSession {
  /**
   * Streams the rows through a server-side cursor, `batchSize` rows at a time (default 500); the connection
   * is held while the stream runs and given back when it ends, fails or is interrupted.
   */
  readonly stream: (
    statement: Statement,
    options?: QueryOptions & { readonly batchSize?: number }
  ) => Stream.Stream<ReadonlyArray<Row>, SqlFailure>
  /**
   * Runs `body` in a transaction on one reserved connection: committed when `body` succeeds, rolled back
   * when it fails or is interrupted. A failed COMMIT (e.g. a serialization failure) fails the effect.
   */
  readonly transaction: <A, E, R>(
    body: (session: SqlSession) => Effect.Effect<A, E, R>,
    options?: TransactionOptions
  ) => Effect.Effect<A, E | SqlFailure, R>
  /** This database's pool size (`max`). */
  readonly maxConnections: number
  /**
   * A database by name (`default` is this one). A client from {@link layer} serves only `default`; one
   * from {@link layerDatabases} serves every configured name.
   *
   * @example
   * ```ts
   * const erp = yield* db.database("erp")
   * const { rows } = yield* erp.query(Sql.sql`select id from invoices`)
   * ```
   */
  readonly database: (name: string) => Effect.Effect<SqlClientShape, SqlUnknownDatabase>
}

/**
 * The SQL client service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@jsonflow/connectors"
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* Sql.SqlClient
 *   const { rows } = yield* db.query(Sql.sql`select id, amount from orders where status = ${"paid"}`)
 *   return rows
 * }).pipe(Effect.provide(Sql.layer({ credential: "orders-db" })))
 * ```
 */
export class SqlClient extends Context.Service<SqlClient, SqlClientShape>()("@jsonflow/connectors/sql/SqlClient") {}

/**
 * Options of one database's pool: the {@link SqlConfig} Schema's type (plain JSON, checked when the layer is
 * built). Give `credential` (preferred) or `url`.
 */
export type SqlClientOptions = SqlConfig

/** Defaults of {@link SqlClientOptions}. */
export const DEFAULTS = {
  max: 10,
  idleTimeoutSeconds: 30,
  connectTimeoutSeconds: 10,
  statementTimeoutMs: 30_000,
  applicationName: "jsonflow",
  batchSize: 500
} as const

/** Objects bound to text columns are sent as JSON text, not `[object Object]`. */
const toText = (value: unknown): string =>
  value instanceof Date
    ? value.toISOString()
    : typeof value === "object" && value !== null
      ? JSON.stringify(value)
      : String(value)

/** date stays `YYYY-MM-DD`; timestamp becomes ISO local time; timestamptz an ISO instant in UTC (ms precision). */
const parseTemporal = (text: string): string => {
  if (text.length === 10 || text.endsWith("infinity")) return text
  if (/[+-]\d\d(:\d\d){0,2}$/.test(text)) {
    const date = new Date(text)
    return Number.isNaN(date.getTime()) ? text : date.toISOString()
  }
  return text.replace(" ", "T")
}

/** Type handlers keeping rows and parameters plain JSON data: ISO date strings, base64 bytes. */
const JSON_TYPES = {
  string: { to: 25, from: [], serialize: toText, parse: (text: string) => text },
  varchar: { to: 1043, from: [], serialize: toText, parse: (text: string) => text },
  date: {
    to: 1184,
    from: [1082, 1114, 1184],
    serialize: (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
    parse: parseTemporal
  },
  bytea: {
    to: 17,
    from: [17],
    serialize: (value: unknown) =>
      `\\x${(typeof value === "string" ? Buffer.from(value, "base64") : Buffer.from(value as Uint8Array)).toString("hex")}`,
    parse: (text: string) => Buffer.from(text.slice(2), "hex").toString("base64")
  }
}

const connectionUrl = (options: SqlClientOptions) =>
  Effect.gen(function* () {
    if (options.credential !== undefined) {
      const credential = yield* (yield* Credentials.Credentials).resolve(options.credential)
      const url = credential.url
      if (url === undefined) {
        return yield* new Credentials.CredentialNotFound({ name: options.credential, field: "url", retryable: false })
      }
      if (credential.password === undefined) return Redacted.value(url)
      const parsed = new URL(Redacted.value(url))
      parsed.password = encodeURIComponent(Redacted.value(credential.password))
      return parsed.href
    }
    if (options.url !== undefined) return options.url
    return yield* new SqlConnectionError({ code: "NO_URL", reason: "give `url` or `credential`", retryable: false })
  })

type Driver = postgres.Sql<Record<string, never>>

/**
 * Whether a timed-out statement is known not to have run to completion: the server answered the cancel
 * with 57014 (postgres.js uses the same code for a statement it never sent), or it never left the line.
 */
const cancelConfirmed = (cause: unknown): boolean =>
  cause instanceof DeadlineExceeded ||
  (typeof cause === "object" && cause !== null && (cause as { readonly code?: unknown }).code === "57014")

/** Whether a failure says the server ended the session (terminated, crashed, restarting). */
const sessionEnded = (cause: unknown): boolean => {
  const code = typeof cause === "object" && cause !== null ? (cause as { readonly code?: unknown }).code : undefined
  return code === "57P01" || code === "57P02" || code === "57P03"
}

/**
 * Whether a statement only reads: it starts (after comments and parentheses) with SELECT, VALUES, SHOW,
 * TABLE or FETCH. A SELECT calling a function with side effects counts as a read.
 */
const isReadOnly = (text: string): boolean =>
  /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*(select|values|show|table|fetch)\b/i.test(text)

const POOL = "pool"

/**
 * Runs a bound statement on `driver` (the pool or a reserved connection) with deadline and cancellation.
 * On the pool it first takes a connection slot, so postgres.js never has to queue or pipeline it.
 */
const executeBound = (
  driver: Driver,
  prepare: boolean,
  bound: Bound,
  timeoutMs: number | undefined,
  slots: ConnectionSlots | undefined,
  inTransaction = false
): Effect.Effect<QueryResult, SqlFailure> =>
  abortableStart({
    start: () => {
      // One promise step for the result and the slot (each extra step is a microtask per statement).
      const run = () => driver.unsafe(bound.text, bound.values as Array<postgres.ParameterOrJSON<never>>, { prepare })
      let pending: ReturnType<typeof run> | undefined
      let stopped = false
      const done = (rows: postgres.RowList<Array<Row>>): QueryResult => {
        slots?.release(POOL)
        return { rows: Array.from(rows), count: rows.count, command: rows.command }
      }
      const failed = (cause: unknown): never => {
        slots?.release(POOL)
        throw cause
      }
      // A pooled statement whose session the server ended (57P01-57P03) did not commit: the server aborts
      // the session's transaction. It runs once more on a fresh connection. This also absorbs a
      // postgres.js quirk: the dead session's error is reported to the next statement, which never ran.
      const rerun = (cause: unknown): Promise<QueryResult> => {
        if (stopped || !sessionEnded(cause)) return failed(cause)
        pending = run()
        return pending.then(done, failed)
      }
      const first = (): Promise<QueryResult> => {
        pending = run()
        return slots === undefined ? pending.then(done, failed) : pending.then(done, rerun)
      }
      const stop = () => {
        stopped = true
        pending?.cancel()
      }
      if (slots === undefined || slots.tryAcquire(POOL)) return { promise: first(), abort: stop }
      // No free connection: wait in line, where a deadline or an interruption takes the statement out.
      const line = new AbortController()
      const promise = slots.wait(POOL, line.signal).then(() => {
        if (line.signal.aborted) return failed(line.signal.reason)
        return first()
      })
      return {
        promise,
        abort: (reason) => {
          line.abort(reason)
          stop()
        }
      }
    },
    timeoutMs,
    onTimeout: (ms, cause) =>
      new SqlTimeout({
        timeoutMs: ms,
        source: "client",
        retryable: inTransaction || cancelConfirmed(cause) || isReadOnly(bound.text)
      }),
    onError: toSqlFailure
  })

/** Binds `statement` (placeholders from its params and `options.input`) and runs it. */
const execute = (
  driver: Driver,
  prepare: boolean,
  statement: Statement,
  options: QueryOptions | undefined,
  slots: ConnectionSlots | undefined,
  inTransaction = false
): Effect.Effect<QueryResult, SqlFailure> => {
  const bound = bind(statement, options?.input)
  return "text" in bound
    ? executeBound(driver, prepare, bound, options?.timeoutMs, slots, inTransaction)
    : Effect.fail(bound)
}

/** A statement without parameters on a reserved connection (begin, commit, fetch, ...). */
const command = (connection: Driver, text: string, timeoutMs?: number) =>
  executeBound(connection, false, { text, values: [] }, timeoutMs, undefined, true)

/**
 * Builds the client on a scope (the pool ends, waiting up to 5 s for running statements, when it closes).
 */
export const make = (input: SqlClientOptions) =>
  Effect.gen(function* () {
    const options = yield* decodeConfig("sql", SqlConfig, input)
    const url = yield* connectionUrl(options)
    const prepare = options.prepare ?? true
    const statementTimeout = options.statementTimeoutMs ?? DEFAULTS.statementTimeoutMs
    const driverOptions = {
      max: options.max ?? DEFAULTS.max,
      idle_timeout: options.idleTimeoutSeconds ?? DEFAULTS.idleTimeoutSeconds,
      connect_timeout: options.connectTimeoutSeconds ?? DEFAULTS.connectTimeoutSeconds,
      ...(options.maxLifetimeSeconds === undefined ? {} : { max_lifetime: options.maxLifetimeSeconds }),
      ...(options.ssl === undefined ? {} : { ssl: typeof options.ssl === "object" ? { ...options.ssl } : options.ssl }),
      prepare,
      onnotice: () => {},
      connection: {
        application_name: options.applicationName ?? DEFAULTS.applicationName,
        ...(options.searchPath === undefined ? {} : { search_path: options.searchPath }),
        ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {})
      },
      types: JSON_TYPES
    }
    // Every pooled statement and every reserved connection holds one of `max` slots: work beyond that waits
    // here (a deadline or an interruption takes it out of line at once), never pipelined behind a slow
    // statement on a busy connection, where a statement reported as timed out could still run later.
    const slots = new ConnectionSlots(driverOptions.max)
    const driver: Driver = yield* Effect.acquireRelease(
      Effect.sync(() => postgres(url, driverOptions) as unknown as Driver),
      (driver) => Effect.promise(() => driver.end({ timeout: 5 }))
    )
    if (options.verify ?? true) {
      yield* execute(
        driver,
        prepare,
        { sql: "select 1" },
        { timeoutMs: (options.connectTimeoutSeconds ?? 10) * 1000 },
        slots
      )
    }

    const query: SqlSession["query"] = (statement, queryOptions) =>
      execute(driver, prepare, statement, queryOptions, slots)

    /** A reserved connection and the one call that gives it (and its slot) back. */
    interface Lease {
      readonly connection: Driver
      readonly release: () => void
    }

    // Reserving waits for a slot, then for the connection; if interrupted meanwhile, whatever was obtained
    // late goes back.
    const reserve = Effect.callback<Lease, SqlFailure>((resume) => {
      const controller = new AbortController()
      let interrupted = false
      const wait = slots.acquire(POOL, controller.signal) ?? Promise.resolve()
      wait
        .then(() =>
          driver.reserve().then(
            (reserved) => {
              const lease: Lease = {
                connection: reserved as unknown as Driver,
                release: () => {
                  reserved.release()
                  slots.release(POOL)
                }
              }
              if (interrupted) lease.release()
              else resume(Effect.succeed(lease))
            },
            (cause: unknown) => {
              slots.release(POOL)
              resume(Effect.fail(toSqlFailure(cause)))
            }
          )
        )
        .catch(() => undefined) // the wait was aborted: interruption, nothing to give back
      return Effect.sync(() => {
        interrupted = true
        controller.abort()
      })
    })

    /** Ends a transaction on a reserved connection by how its work ended, then gives the connection back. */
    const finish = (lease: Lease, success: boolean) =>
      (success ? command(lease.connection, "commit") : Effect.ignore(command(lease.connection, "rollback"))).pipe(
        Effect.ensuring(Effect.sync(lease.release))
      )

    const stream: SqlClientShape["stream"] = (statement, streamOptions) => {
      const bound = bind(statement, streamOptions?.input)
      if (!("text" in bound)) return Stream.fail(bound)
      const batchSize = streamOptions?.batchSize ?? DEFAULTS.batchSize
      const timeoutMs = streamOptions?.timeoutMs
      // An explicit cursor in a transaction on a reserved connection: every FETCH is an ordinary statement,
      // so deadlines and cancellation behave as for `query`, and the end of the stream (done, failed,
      // interrupted, or a consumer that took only a few batches) rolls back, which closes the cursor.
      return Stream.unwrap(
        Effect.gen(function* () {
          const lease = yield* Effect.acquireRelease(reserve, (lease, exit) =>
            Effect.ignore(finish(lease, Exit.isSuccess(exit)))
          )
          const connection = lease.connection
          yield* command(connection, "begin", timeoutMs)
          yield* executeBound(
            connection,
            false,
            { text: `declare jsonflow_cursor no scroll cursor for ${bound.text}`, values: bound.values },
            timeoutMs,
            undefined,
            true
          )
          const fetch = command(connection, `fetch ${batchSize} from jsonflow_cursor`, timeoutMs)
          return Stream.unfold(false, (exhausted) =>
            exhausted
              ? Effect.succeed(undefined)
              : Effect.map(fetch, ({ rows }) =>
                  rows.length === 0 ? undefined : ([rows, rows.length < batchSize] as const)
                )
          )
        })
      )
    }

    const transaction = <A, E, R>(
      body: (session: SqlSession) => Effect.Effect<A, E, R>,
      transactionOptions?: TransactionOptions
    ): Effect.Effect<A, E | SqlFailure, R> => {
      const begin = [
        "begin",
        transactionOptions?.isolation ? `isolation level ${transactionOptions.isolation}` : "",
        transactionOptions?.readOnly ? "read only" : ""
      ]
        .filter((part) => part !== "")
        .join(" ")
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(reserve), (lease) => {
          const connection = lease.connection
          const session: SqlSession = {
            query: (statement, queryOptions) => execute(connection, prepare, statement, queryOptions, undefined, true)
          }
          return command(connection, begin).pipe(
            Effect.flatMap(() => Effect.exit(restore(body(session)))),
            Effect.flatMap(
              (exit): Effect.Effect<A, E | SqlFailure> =>
                Exit.isSuccess(exit)
                  ? Effect.as(command(connection, "commit"), exit.value)
                  : Effect.andThen(Effect.ignore(command(connection, "rollback")), exit)
            ),
            Effect.ensuring(Effect.sync(lease.release))
          )
        })
      )
    }

    const self: SqlClientShape = {
      query,
      stream,
      transaction,
      maxConnections: driverOptions.max,
      database: (name) =>
        name === DEFAULT_DATABASE
          ? Effect.succeed(self)
          : Effect.fail(new SqlUnknownDatabase({ database: name, known: [DEFAULT_DATABASE], retryable: false }))
    }
    return SqlClient.of(self)
  })

/**
 * The client as a layer. It fails at build time when the URL or credential is missing or, with `verify`
 * (default), when the database cannot be reached.
 *
 * @example
 * ```ts
 * import { Sql } from "@jsonflow/connectors"
 * const live = Sql.layer({ credential: "orders-db", max: 20, statementTimeoutMs: 10_000 })
 * ```
 */
export const layer = (
  options: SqlClientOptions
): Layer.Layer<SqlClient, SqlFailure | Credentials.CredentialNotFound | ConnectorConfigError> =>
  Layer.effect(SqlClient, make(options))

/**
 * Several databases, one pool each (all opened, and checked, when the layer is built). Nodes pick one with
 * `database: "<name>"`; `default` serves nodes that name none. In Effect code, `db.database("erp")`.
 *
 * @example
 * ```ts
 * import { Sql } from "@jsonflow/connectors"
 * const live = Sql.layerDatabases({
 *   databases: { default: { credential: "orders-db" }, erp: { credential: "erp-db", max: 4 } }
 * })
 * ```
 */
export const layerDatabases = (
  config: SqlDatabases
): Layer.Layer<SqlClient, SqlFailure | Credentials.CredentialNotFound | ConnectorConfigError> =>
  Layer.effect(
    SqlClient,
    Effect.gen(function* () {
      const checked = yield* decodeConfig("sql", SqlDatabases, config)
      const names = Object.keys(checked.databases)
      const clients = new Map<string, SqlClientShape>()
      // One after the other: a pool that fails to open closes the ones opened before it (the layer's scope).
      for (const name of names) {
        clients.set(name, yield* make(checked.databases[name]!))
      }
      const database = (name: string): Effect.Effect<SqlClientShape, SqlUnknownDatabase> => {
        const client = clients.get(name)
        return client === undefined
          ? Effect.fail(new SqlUnknownDatabase({ database: name, known: names, retryable: false }))
          : Effect.succeed(withDatabases(client))
      }
      const withDatabases = (client: SqlClientShape): SqlClientShape => ({ ...client, database })
      const fallback = clients.get(DEFAULT_DATABASE)
      if (fallback !== undefined) return SqlClient.of(withDatabases(fallback))
      const missing = Effect.fail(
        new SqlUnknownDatabase({ database: DEFAULT_DATABASE, known: names, retryable: false })
      )
      return SqlClient.of({
        query: () => missing,
        stream: () => Stream.fromEffect(missing),
        transaction: () => missing,
        maxConnections: 0, // no pool behind it
        database
      })
    })
  )
