/**
 * The PostgreSQL store and sink (postgres.js). A batch goes in as one statement (data-modifying CTEs, so it
 * is atomic without a transaction block) with one JSON parameter per table: one round trip per batch, and
 * idempotent on event id. Migrations run when the layer opens; retention deletes executions older than `retentionDays`
 * in chunks, once an hour. Connection failures are retried by the audit buffer, which spills to its journal
 * while the database is away.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Audit, Postgres } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Postgres.sink({ url: "postgres://postgres@127.0.0.1:5432/app" })] })
 * ```
 *
 * @module postgres
 */
import { Effect, Layer, Schedule, type Scope } from "effect"
import postgres from "postgres"
import type { Sink } from "../Sink.ts"
import {
  AuditStore,
  type AuditStoreShape,
  make,
  migrate,
  type SqlDriver,
  type StoreError,
  sink as storeSink
} from "../Store.ts"

export interface PostgresOptions {
  readonly url: string
  /** Schema of the audit tables (default `public`). */
  readonly schema?: string
  /** Connections in the pool (default 4). */
  readonly max?: number
  /** Seconds to wait for a connection (default 5). */
  readonly connectTimeout?: number
  /** Wait for the WAL flush at commit (default true). `false` is faster; a database crash may lose the last commits. */
  readonly synchronousCommit?: boolean
  /** Delete executions older than this many days (default: keep everything). */
  readonly retentionDays?: number
  /** Entries per write (default 2,000). */
  readonly batchSize?: number
  /** Writes in flight (default 4, the pool size): PostgreSQL works on one batch while the next is prepared. */
  readonly concurrency?: number
}

/**
 * A {@link SqlDriver} over postgres.js.
 *
 * @example
 * ```ts
 * import { Postgres } from "@jsonflow/audit"
 * const driver = Postgres.driver({ url: "postgres://postgres@127.0.0.1:5432/test" })
 * ```
 */
export const driver = (options: PostgresOptions): SqlDriver => {
  const sql = postgres(options.url, {
    max: options.max ?? 4,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: 30,
    onnotice: () => {},
    ...(options.synchronousCommit === false ? { connection: { synchronous_commit: "off" } } : {}),
    // Arrays of rows travel as one JSON text parameter; nothing needs type inference round trips.
    fetch_types: false
  })
  const run = (tx: postgres.Sql | postgres.TransactionSql, text: string, params: ReadonlyArray<unknown>) =>
    tx.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, { prepare: true })
  return {
    name: "postgres",
    query: async (text, params = []) =>
      (await run(sql, text, params)) as unknown as ReadonlyArray<Record<string, unknown>>,
    transaction: async (statements) => {
      await sql.begin(async (tx) => {
        for (const statement of statements) await run(tx, statement.text, statement.params)
      })
    },
    close: () => sql.end({ timeout: 5 })
  }
}

/**
 * Opens a migrated PostgreSQL store; the pool closes with the scope. Retention runs in the background when
 * `retentionDays` is set.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Postgres } from "@jsonflow/audit"
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const store = yield* Postgres.open({ url: "postgres://postgres@127.0.0.1:5432/test" })
 *   return yield* store.listExecutions({ status: "failed" })
 * }))
 * ```
 */
export const open = (options: PostgresOptions): Effect.Effect<AuditStoreShape, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => driver(options)),
      (d) => Effect.promise(() => d.close().catch(() => undefined))
    )
    yield* migrate(db, options.schema)
    const store = make(db, options.schema === undefined ? {} : { schema: options.schema })
    if (options.retentionDays !== undefined) {
      const days = options.retentionDays
      yield* Effect.forkScoped(
        Effect.suspend(() => store.prune(Date.now() - days * 86_400_000)).pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced("1 hour"))
        )
      )
    }
    return store
  })

/**
 * An audit sink writing to PostgreSQL.
 *
 * @example
 * ```ts
 * import { Audit, Postgres } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Postgres.sink({ url: process.env.AUDIT_URL!, retentionDays: 30 })] })
 * ```
 */
export const sink = (options: PostgresOptions): Effect.Effect<Sink, StoreError, Scope.Scope> =>
  Effect.map(open(options), (store) => ({
    ...storeSink(store, options.batchSize ?? 2_000),
    concurrency: options.concurrency ?? options.max ?? 4,
    store
  }))

/**
 * The {@link AuditStore} service over PostgreSQL, for queries and replay.
 *
 * @example
 * ```ts
 * import { Postgres } from "@jsonflow/audit"
 * const StoreLive = Postgres.layerStore({ url: "postgres://postgres@127.0.0.1:5432/test" })
 * ```
 */
export const layerStore = (options: PostgresOptions): Layer.Layer<AuditStore, StoreError> =>
  Layer.effect(AuditStore, open(options))
