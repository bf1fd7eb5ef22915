/**
 * The SQL node types: `sql.query` (one statement, rows out), `sql.transaction` (several statements in one
 * transaction, optionally once per input element) and `sql.stream` (a cursor over a large result that runs
 * a body graph per batch or row, so the rows never sit in memory all at once).
 *
 * Statements are `{ sql, params }` (see {@link Statement}); `:name` placeholders not in `params` take the
 * node input's field of that name. A statement's optional `rows` is a JSON Schema every result row must
 * match (`Sql.select(Row)` writes it from an Effect Schema).
 *
 * @module SqlNodes
 */
import { Ir, type Node, Node as NodeModule, Validation } from "@jsonflow/core"
import { Effect, Schema, SchemaRepresentation, Stream } from "effect"
import { DEFAULT_DATABASE } from "./config.ts"
import { type Row, SqlClient, type SqlClientShape } from "./SqlClient.ts"
import { type SqlFailure, SqlParameterError, SqlPoolTooSmall, SqlRowsInvalid } from "./SqlErrors.ts"
import { Params, type RowsOf } from "./Statement.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const SqlText = Schema.String.check(Schema.isMinLength(1))
const JsonSchemaObject = Schema.Record(Schema.String, Schema.Unknown)
const RowValue = Schema.Record(Schema.String, Schema.Unknown)

/** Default client deadline of a statement run by a node. */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Which configured database a node uses (default `default`); see `Sql.layerDatabases`. */
const Database = Schema.String.check(Schema.isMinLength(1))

/** Runs `use` with the node's database: the layer's default one when the config names none. */
const withDatabase = <A, E>(
  database: string | undefined,
  use: (db: SqlClientShape) => Effect.Effect<A, E>
): Effect.Effect<A, E | SqlFailure, SqlClient> =>
  SqlClient.use((root) => (database === undefined ? use(root) : Effect.flatMap(root.database(database), use)))

/** Config of `sql.query`. */
export const QueryConfig = Schema.Struct({
  sql: SqlText,
  params: Schema.optionalKey(Params),
  /** JSON Schema of one row; rows that do not match fail with SqlRowsInvalid. */
  rows: Schema.optionalKey(JsonSchemaObject),
  /** Client deadline in ms, waiting for a connection included (default 30 000). */
  timeoutMs: Schema.optionalKey(PositiveInt),
  /** The configured database to use (default `default`). */
  database: Schema.optionalKey(Database)
})
export type QueryConfig = typeof QueryConfig.Type

const rowSchemas = new WeakMap<object, Schema.Codec<ReadonlyArray<unknown>, unknown>>()

const rowsSchemaOf = (rows: object): Schema.Codec<ReadonlyArray<unknown>, unknown> => {
  let schema = rowSchemas.get(rows)
  if (schema === undefined) {
    const { $defs, ...root } = rows as { readonly $defs?: Record<string, unknown> }
    const row = SchemaRepresentation.fromJsonSchemaDocument({
      dialect: "draft-2020-12",
      schema: root,
      definitions: ($defs ?? {}) as Record<string, never>
    })
    schema = Schema.Array(row as Schema.Codec<unknown, unknown>)
    rowSchemas.set(rows, schema)
  }
  return schema
}

/** Checks rows against a statement's `rows` JSON Schema. */
export const checkRows = (
  rows: ReadonlyArray<Row>,
  schema: object | undefined
): Effect.Effect<ReadonlyArray<Row>, SqlRowsInvalid> => {
  if (schema === undefined) return Effect.succeed(rows)
  const checked = Validation.decode(rowsSchemaOf(schema), rows)
  if (checked._tag === "Valid") return Effect.succeed(rows)
  const issue = checked.issues[0]!
  return Effect.fail(new SqlRowsInvalid({ path: issue.path, problem: issue.message, retryable: false }))
}

/**
 * `sql.query`: runs one parameterized statement and emits its rows.
 *
 * @example
 * ```json
 * { "type": "sql.query", "config": {
 *   "sql": "select id, customer, amount::float8 as amount from orders where status = :status and amount >= :min",
 *   "params": { "min": 100 } } }
 * ```
 */
export const query = NodeModule.define({
  type: "sql.query",
  description: "Runs one parameterized SQL statement (PostgreSQL) and emits the result rows.",
  config: QueryConfig,
  input: Schema.Unknown,
  output: Schema.Array(RowValue),
  run: (input, config): Effect.Effect<ReadonlyArray<Row>, SqlFailure, SqlClient> => {
    const rows = withDatabase(config.database, (db) =>
      Effect.map(db.query(config, { input, timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS }), (r) => r.rows)
    )
    return config.rows === undefined ? rows : Effect.flatMap(rows, (r) => checkRows(r, config.rows))
  }
})

/**
 * `sql.query` with rows typed by a Schema, for the builder: the same node type (the same definition
 * object), whose config must carry the matching `rows` (write it with `Sql.select(Row)`).
 *
 * @example
 * ```ts
 * const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
 * Flow.make({ id: "orders" })
 *   .andThen("load", Sql.queryOf(Order), Sql.select(Order)`select id, amount::float8 from orders`)
 * ```
 */
export const queryOf = <A>(
  _row: Schema.Codec<A, unknown>
): Node.Definition<
  "sql.query",
  QueryConfig & { readonly rows: RowsOf<A> },
  unknown,
  { readonly out: ReadonlyArray<A> },
  SqlFailure,
  SqlClient
> => query as never

/** Config of `sql.transaction`. */
export const TransactionConfig = Schema.Struct({
  statements: Schema.Array(Schema.Struct({ sql: SqlText, params: Schema.optionalKey(Params) })).check(
    Schema.isMinLength(1)
  ),
  /** Default: the server's (read committed). */
  isolation: Schema.optionalKey(Schema.Literals(["read committed", "repeatable read", "serializable"])),
  readOnly: Schema.optionalKey(Schema.Boolean),
  /** The input is an array; the statements run once per element, all in the one transaction. */
  each: Schema.optionalKey(Schema.Boolean),
  /** Client deadline per statement in ms (default 30 000; COMMIT has none). */
  timeoutMs: Schema.optionalKey(PositiveInt),
  /** The configured database to use (default `default`). */
  database: Schema.optionalKey(Database)
})
export type TransactionConfig = typeof TransactionConfig.Type

/** One statement's result in a transaction's output. */
export const StatementResult = Schema.Struct({ rows: Schema.Array(RowValue), count: Schema.Number })

/**
 * `sql.transaction`: runs its statements in one transaction; any failure rolls all of them back. Emits one
 * `{ rows, count }` per statement run, in order.
 *
 * @example
 * ```json
 * { "type": "sql.transaction", "config": { "each": true, "isolation": "serializable", "statements": [
 *   { "sql": "update accounts set balance = balance - :amount where id = :from" },
 *   { "sql": "update accounts set balance = balance + :amount where id = :to" } ] } }
 * ```
 */
export const transaction = NodeModule.define({
  type: "sql.transaction",
  description: "Runs several parameterized statements in one transaction (all or nothing); emits each result.",
  config: TransactionConfig,
  input: Schema.Unknown,
  output: Schema.Array(StatementResult),
  run: (input, config) => {
    if (config.each && !Array.isArray(input)) {
      return Effect.fail(new SqlParameterError({ reason: "`each` needs an array input", retryable: false }))
    }
    const items: ReadonlyArray<unknown> = config.each ? (input as ReadonlyArray<unknown>) : [input]
    const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS
    return withDatabase(config.database, (db) =>
      db.transaction(
        (session) =>
          Effect.forEach(items, (item) =>
            Effect.forEach(config.statements, (statement) =>
              Effect.map(session.query(statement, { input: item, timeoutMs }), (r) => ({
                rows: r.rows,
                count: r.count
              }))
            )
          ).pipe(Effect.map((perItem) => perItem.flat())),
        {
          ...(config.isolation === undefined ? {} : { isolation: config.isolation }),
          ...(config.readOnly === undefined ? {} : { readOnly: config.readOnly })
        }
      )
    )
  }
})

/** Config of `sql.stream`. */
export const StreamConfig = Schema.Struct({
  sql: SqlText,
  params: Schema.optionalKey(Params),
  /** Rows fetched per round trip (default 500). */
  batchSize: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))),
  /** What one body run receives: a batch (array of rows, default) or a single row. */
  per: Schema.optionalKey(Schema.Literals(["batch", "row"])),
  /** Body runs in parallel (default 1). */
  concurrency: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 256 }))),
  /** The graph run per batch or row; its outputs are not kept. */
  body: Ir.Graph,
  /** Client deadline in ms of each cursor statement (BEGIN, DECLARE, every FETCH; default 30 000). */
  timeoutMs: Schema.optionalKey(PositiveInt),
  /** The configured database to use (default `default`). */
  database: Schema.optionalKey(Database)
})
export type StreamConfig = typeof StreamConfig.Type

/**
 * Whether a body graph runs SQL on `database`: any `sql.*` node in it (nested graphs included) naming the
 * same database. A subflow called by reference is not looked into.
 */
const usesSql = (value: unknown, database: string): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (Array.isArray(value)) return value.some((item) => usesSql(item, database))
  const record = value as Readonly<Record<string, unknown>>
  if (typeof record.type === "string" && record.type.startsWith("sql.")) {
    const config = record.config as { readonly database?: unknown } | undefined
    if ((typeof config?.database === "string" ? config.database : DEFAULT_DATABASE) === database) return true
  }
  return Object.values(record).some((item) => usesSql(item, database))
}

/** What `sql.stream` emits when the cursor is exhausted. */
export const StreamSummary = Schema.Struct({ rows: Schema.Number, batches: Schema.Number })

/**
 * `sql.stream`: reads a large result through a cursor and runs `body` for every batch (or row) as it
 * arrives, with bounded concurrency; memory stays at `batchSize` x `concurrency` rows. Emits the counts.
 *
 * @example
 * ```json
 * { "type": "sql.stream", "config": { "sql": "select * from events where day = :day", "batchSize": 1000,
 *   "body": { "nodes": { "post": { "type": "http.request", "config": { "method": "POST", "url": "https://sink.example/events" } } },
 *             "edges": [{ "from": { "node": "$input", "port": "out" }, "to": { "node": "post", "port": "in" } }] } } }
 * ```
 */
export const stream = NodeModule.define({
  type: "sql.stream",
  description: "Streams a large SQL result through a cursor, running the body graph per batch or row.",
  config: StreamConfig,
  input: Schema.Unknown,
  output: StreamSummary,
  subflow: (config) => ({ _tag: "Inline", graph: config.body }),
  run: (input, config, context) =>
    withDatabase(config.database, (db) => {
      const concurrency = config.concurrency ?? 1
      // The cursor holds one connection while the body runs; a body using SQL needs one more per run.
      const needed = concurrency + 1
      // (maxConnections 0: no such pool; opening the cursor reports that.)
      const short = db.maxConnections > 0 && db.maxConnections < needed
      if (short && usesSql(config.body, config.database ?? DEFAULT_DATABASE)) {
        return Effect.fail(
          new SqlPoolTooSmall({
            database: config.database ?? DEFAULT_DATABASE,
            max: db.maxConnections,
            needed,
            retryable: false
          })
        )
      }
      let rows = 0
      let batches = 0
      const counted = db
        .stream(config, {
          input,
          batchSize: config.batchSize ?? 500,
          timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS
        })
        .pipe(
          Stream.map((batch) => {
            rows += batch.length
            batches++
            return batch
          })
        )
      // `concurrency` body runs at most, whether a run gets a batch or a row.
      const runs =
        config.per === "row"
          ? Stream.mapEffect(Stream.flattenIterable(counted), (row) => context.runSubflow(row), { concurrency })
          : Stream.mapEffect(counted, (batch) => context.runSubflow(batch), { concurrency })
      return runs.pipe(
        Stream.runDrain,
        Effect.map(() => ({ rows, batches }))
      )
    })
})
