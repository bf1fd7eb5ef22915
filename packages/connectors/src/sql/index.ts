/**
 * `@jsonflow/connectors/sql`: the PostgreSQL connector (postgres.js). The {@link SqlClient} service and its
 * layer, parameterized statements (the `sql` tagged template), the `sql.query`, `sql.transaction` and
 * `sql.stream` node types, and typed errors carrying the SQLSTATE.
 *
 * @module sql
 */
import { Registry } from "@jsonflow/core"
import { query, stream, transaction } from "./SqlNodes.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export { DEFAULT_DATABASE, SqlConfig, SqlDatabases, SqlTls } from "./config.ts"
export {
  DEFAULTS,
  layer,
  layerDatabases,
  make,
  type QueryOptions,
  type QueryResult,
  type Row,
  SqlClient,
  type SqlClientOptions,
  type SqlClientShape,
  type SqlSession,
  type TransactionOptions
} from "./SqlClient.ts"
export * from "./SqlErrors.ts"
export {
  checkRows,
  DEFAULT_TIMEOUT_MS,
  QueryConfig,
  query,
  queryOf,
  StatementResult,
  StreamConfig,
  StreamSummary,
  stream,
  TransactionConfig,
  transaction
} from "./SqlNodes.ts"
export {
  type Bound,
  bind,
  type InputRef,
  input,
  Params,
  parse,
  type RowsOf,
  rowsOf,
  type Statement,
  select,
  sql,
  type TypedStatement
} from "./Statement.ts"

/** A registry holding `sql.query`, `sql.transaction` and `sql.stream`, to merge into a JSON-flow registry. */
export const registry = Registry.make(query, transaction, stream)
