/**
 * The audit store: where entries are kept and queried. One implementation over a small SQL driver
 * interface, so PostgreSQL (postgres.js) and the embedded store (PGlite) share one schema and one set of
 * queries. A batch is written by one statement: the events (keyed by execution id and sequence number,
 * so a repeated write is a no-op), one merged upsert per execution (commutative, so entries may arrive in
 * any order), and the recorded flow versions; rows travel as one JSON parameter (`jsonb_to_recordset`).
 *
 * @module Store
 */
import type { FlowEvents, Ir } from "@jsonflow/core"
import { Context, Effect, Schema } from "effect"
import {
  buildTrace,
  type Entry,
  type ExecutionPatch,
  type ExecutionRecord,
  type ExecutionStatus,
  type FlowRecorded,
  mergePatch,
  patchOf,
  type StopPoint,
  stopPoint,
  type Trace
} from "./Record.ts"
import * as Serialize from "./Serialize.ts"
import { type Sink, SinkError } from "./Sink.ts"
import { migrations, quoteIdent } from "./sql/migrations.ts"

/** A statement and its parameters. */
export interface Statement {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

/** What the store needs of a database client. */
export interface SqlDriver {
  readonly name: string
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>
  /** Runs the statements in one transaction (all or nothing). */
  readonly transaction: (statements: ReadonlyArray<Statement>) => Promise<void>
  readonly close: () => Promise<void>
}

/** A query or write failed. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  reason: Schema.String,
  /** The database is unreachable or busy (as opposed to a statement or data error). */
  retryable: Schema.Boolean
}) {
  override get message() {
    return `audit store: ${this.operation} failed: ${this.reason}`
  }
}

/** Filters of {@link AuditStoreShape.listExecutions}; times are epoch milliseconds. */
export interface ExecutionFilter {
  readonly flowId?: string
  readonly status?: ExecutionStatus
  readonly since?: number
  readonly until?: number
  /** Case-insensitive text in the error's tag or message. */
  readonly errorText?: string
  readonly replayOf?: string
  /** Default 100. */
  readonly limit?: number
}

/** The query and write API of a store. */
export interface AuditStoreShape {
  readonly name: string
  /** Writes a batch of entries (idempotent). */
  readonly write: (entries: ReadonlyArray<Entry>) => Effect.Effect<void, StoreError>
  /** Executions, newest first, without their input and output. */
  readonly listExecutions: (filter?: ExecutionFilter) => Effect.Effect<ReadonlyArray<ExecutionRecord>, StoreError>
  /** One execution with its full trace; `undefined` if unknown. */
  readonly trace: (executionId: string) => Effect.Effect<Trace | undefined, StoreError>
  /** Where an execution stopped (see `Record.stopPoint`); `undefined` if unknown. */
  readonly whereStopped: (executionId: string) => Effect.Effect<StopPoint | undefined, StoreError>
  /** A recorded flow version's IR. */
  readonly flow: (flowId: string, flowVersion: string) => Effect.Effect<Ir.Flow | undefined, StoreError>
  /** Deletes executions (and their events) started before `before`; returns how many. */
  readonly prune: (before: number) => Effect.Effect<number, StoreError>
  /** Counts rows, for tests and benchmarks. */
  readonly count: () => Effect.Effect<{ readonly executions: number; readonly events: number }, StoreError>
}

/** The store the CLI and replay read; provided by the PostgreSQL and embedded layers. */
export class AuditStore extends Context.Service<AuditStore, AuditStoreShape>()("@jsonflow/audit/AuditStore") {}

export interface StoreOptions {
  /** Schema holding the tables (default `public`); created if missing. */
  readonly schema?: string
}

// SQLSTATE classes 22 (data), 23 (constraint) and 42 (syntax, undefined objects) will fail again as they are.
const isPermanent = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && /^(22|23|42)[0-9A-Z]{3}$/.test(code)
}

const attempt = <A>(operation: string, run: () => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({
    try: run,
    catch: (error) =>
      new StoreError({
        operation,
        reason: error instanceof Error ? error.message : String(error),
        retryable: !isPermanent(error)
      })
  })

// PostgreSQL's jsonb has no NUL character: such escapes become U+FFFD (an escaped backslash before "u0000" stays).
const jsonbSafe = (json: string): string =>
  json.includes("\\u0000") ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd") : json

/**
 * Applies the pending migrations.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Store } from "@jsonflow/audit"
 * declare const driver: Store.SqlDriver
 * await Effect.runPromise(Store.migrate(driver, "public"))
 * ```
 */
export const migrate = (driver: SqlDriver, schema = "public"): Effect.Effect<void, StoreError> =>
  attempt("migrate", async () => {
    const s = quoteIdent(schema)
    await driver.transaction([
      { text: "select pg_advisory_xact_lock(hashtext('jsonflow_audit_migrate'))", params: [] },
      { text: `create schema if not exists ${s}`, params: [] },
      {
        text: `create table if not exists ${s}.audit_schema_version (version integer primary key, applied_at timestamptz not null default now())`,
        params: []
      }
    ])
    const rows = await driver.query(`select version from ${s}.audit_schema_version`)
    const applied = new Set(rows.map((r) => Number(r.version)))
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      await driver
        .transaction([
          { text: "select pg_advisory_xact_lock(hashtext('jsonflow_audit_migrate'))", params: [] },
          // Another process may have applied it while this one waited for the lock: then this insert fails
          // before the DDL runs, and the transaction rolls back.
          { text: `insert into ${s}.audit_schema_version (version) values ($1)`, params: [migration.version] },
          ...migration.statements.map((text) => ({ text: text.replaceAll("{schema}", s), params: [] }))
        ])
        .catch(async (error: unknown) => {
          const again = await driver.query(`select 1 from ${s}.audit_schema_version where version = $1`, [
            migration.version
          ])
          if (again.length === 0) throw error
        })
    }
  })

// Rows of one JSON parameter: strings are escaped by JSON.stringify, bodies are embedded as they are.
const eventRows = (events: ReadonlyArray<FlowEvents.FlowEvent>): string => {
  let out = "["
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const node = "nodeId" in e ? JSON.stringify(e.nodeId) : "null"
    out += `${i === 0 ? "" : ","}{"e":${JSON.stringify(e.executionId)},"s":${e.seq},"k":"${e._tag}","n":${node},"a":${e.at},"b":${Serialize.entry(e)}}`
  }
  return jsonbSafe(`${out}]`)
}

const executionRows = (patches: ReadonlyArray<ExecutionPatch>): string =>
  jsonbSafe(
    JSON.stringify(
      patches.map((p) => ({
        id: p.executionId,
        flow: p.flowId,
        version: p.flowVersion,
        trigger: p.trigger ?? null,
        status: p.status,
        started: p.startedAt,
        finished: p.finishedAt ?? null,
        last: p.lastEventAt,
        duration: p.durationMs ?? null,
        steps: p.steps ?? null,
        error: p.error ?? null,
        error_text: p.error === undefined ? null : `${p.error._tag}: ${p.error.message}`,
        input: p.input ?? null,
        output: p.output ?? null,
        parent: p.parentExecutionId ?? null,
        parent_node: p.parentNodeId ?? null,
        replay_of: p.replayOf ?? null,
        snapshots: p.snapshots ?? null
      }))
    )
  )

const EXECUTION_COLUMNS = `execution_id, flow_id, flow_version, trigger, status,
  extract(epoch from started_at) * 1000 as started_at, extract(epoch from finished_at) * 1000 as finished_at,
  extract(epoch from last_event_at) * 1000 as last_event_at, duration_ms, steps, error, parent_execution_id,
  parent_node_id, replay_of, snapshots`

const recordOfRow = (row: Record<string, unknown>, withData: boolean): ExecutionRecord => {
  const optional = (key: string, value: unknown) => (value === null || value === undefined ? {} : { [key]: value })
  return {
    executionId: String(row.execution_id),
    flowId: String(row.flow_id),
    flowVersion: String(row.flow_version),
    ...optional("trigger", row.trigger),
    status: row.status as ExecutionStatus,
    startedAt: Number(row.started_at),
    ...optional("finishedAt", row.finished_at === null ? null : Number(row.finished_at)),
    lastEventAt: Number(row.last_event_at),
    ...optional("durationMs", row.duration_ms === null ? null : Number(row.duration_ms)),
    ...optional("steps", row.steps === null ? null : Number(row.steps)),
    ...optional("error", row.error),
    ...(withData ? { ...optional("input", row.input), ...optional("output", row.output) } : {}),
    ...optional("parentExecutionId", row.parent_execution_id),
    ...optional("parentNodeId", row.parent_node_id),
    ...optional("replayOf", row.replay_of),
    ...optional("snapshots", row.snapshots)
  } as ExecutionRecord
}

/**
 * Builds a store over a driver (after {@link migrate}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Store } from "@jsonflow/audit"
 * declare const driver: Store.SqlDriver
 * const store = Store.make(driver, { schema: "public" })
 * const failed = await Effect.runPromise(store.listExecutions({ status: "failed", limit: 20 }))
 * ```
 */
export const make = (driver: SqlDriver, options: StoreOptions = {}): AuditStoreShape => {
  const s = quoteIdent(options.schema ?? "public")
  const insertEvents = `insert into ${s}.audit_events (execution_id, seq, kind, node_id, at, body)
    select r.e, r.s, r.k, r.n, to_timestamp(r.a / 1000.0), r.b
    from jsonb_to_recordset($1::text::jsonb) as r(e text, s integer, k text, n text, a double precision, b jsonb)
    on conflict do nothing`
  const upsertExecutions = `insert into ${s}.audit_executions as x (execution_id, flow_id, flow_version, trigger,
      status, started_at, finished_at, last_event_at, duration_ms, steps, error, error_text, input, output,
      parent_execution_id, parent_node_id, replay_of, snapshots)
    select r.id, r.flow, r.version, r.trigger, r.status, to_timestamp(r.started / 1000.0),
      to_timestamp(r.finished / 1000.0), to_timestamp(r.last / 1000.0), r.duration, r.steps, r.error,
      r.error_text, r.input, r.output, r.parent, r.parent_node, r.replay_of, r.snapshots
    from jsonb_to_recordset($1::text::jsonb) as r(id text, flow text, version text, trigger text, status text,
      started double precision, finished double precision, last double precision, duration double precision,
      steps integer, error jsonb, error_text text, input jsonb, output jsonb, parent text, parent_node text,
      replay_of text, snapshots text)
    order by r.id
    on conflict (execution_id) do update set
      trigger = coalesce(x.trigger, excluded.trigger),
      status = case when excluded.status <> 'running' then excluded.status else x.status end,
      started_at = least(x.started_at, excluded.started_at),
      finished_at = coalesce(excluded.finished_at, x.finished_at),
      last_event_at = greatest(x.last_event_at, excluded.last_event_at),
      duration_ms = coalesce(excluded.duration_ms, x.duration_ms),
      steps = coalesce(excluded.steps, x.steps),
      error = coalesce(excluded.error, x.error),
      error_text = coalesce(excluded.error_text, x.error_text),
      input = coalesce(x.input, excluded.input),
      output = coalesce(excluded.output, x.output),
      parent_execution_id = coalesce(x.parent_execution_id, excluded.parent_execution_id),
      parent_node_id = coalesce(x.parent_node_id, excluded.parent_node_id),
      replay_of = coalesce(x.replay_of, excluded.replay_of),
      snapshots = coalesce(x.snapshots, excluded.snapshots)`
  const insertFlows = `insert into ${s}.audit_flows (flow_id, flow_version, recorded_at, ir)
    select r.id, r.version, to_timestamp(r.at / 1000.0), r.ir
    from jsonb_to_recordset($1::text::jsonb) as r(id text, version text, at double precision, ir jsonb)
    on conflict do nothing`

  // One statement (data-modifying CTEs): atomic without BEGIN/COMMIT, and one round trip per batch.
  const writeBatch = `with flows as (${insertFlows}), events as (${insertEvents.replace("$1", () => "$2")})
    ${upsertExecutions.replace("$1", () => "$3")}`

  const statementFor = (entries: ReadonlyArray<Entry>): Statement => {
    const events: Array<FlowEvents.FlowEvent> = []
    const flows: Array<FlowRecorded> = []
    const patches = new Map<string, ExecutionPatch>()
    for (const entry of entries) {
      if (entry._tag === "FlowRecorded") {
        flows.push(entry)
        continue
      }
      events.push(entry)
      const patch = patchOf(entry)
      const before = patches.get(entry.executionId)
      patches.set(entry.executionId, before === undefined ? patch : mergePatch(before, patch))
    }
    const flowRows = flows.map((f) => ({ id: f.flowId, version: f.flowVersion, at: f.at, ir: f.flow }))
    // Sorted, so concurrent writers lock execution rows in one order (no deadlock).
    const sorted = [...patches.values()].sort((a, b) => (a.executionId < b.executionId ? -1 : 1))
    return {
      text: writeBatch,
      params: [jsonbSafe(JSON.stringify(flowRows)), eventRows(events), executionRows(sorted)]
    }
  }

  const trace = (executionId: string) =>
    attempt("trace", async () => {
      const rows = await driver.query(`select body from ${s}.audit_events where execution_id = $1 order by seq`, [
        executionId
      ])
      return buildTrace(rows.map((r) => r.body as FlowEvents.FlowEvent))
    })

  return {
    name: driver.name,
    write: (entries) =>
      entries.length === 0
        ? Effect.void
        : attempt("write", async () => {
            const { text, params } = statementFor(entries)
            await driver.query(text, params)
          }),
    listExecutions: (filter = {}) =>
      attempt("listExecutions", async () => {
        const where: Array<string> = []
        const params: Array<unknown> = []
        const add = (condition: (p: string) => string, value: unknown) => {
          params.push(value)
          where.push(condition(`$${params.length}`))
        }
        if (filter.flowId !== undefined) add((p) => `flow_id = ${p}::text`, filter.flowId)
        if (filter.status !== undefined) add((p) => `status = ${p}::text`, filter.status)
        if (filter.since !== undefined) add((p) => `started_at >= to_timestamp(${p}::float8 / 1000.0)`, filter.since)
        if (filter.until !== undefined) add((p) => `started_at < to_timestamp(${p}::float8 / 1000.0)`, filter.until)
        if (filter.errorText !== undefined) {
          add((p) => `error_text ilike '%' || ${p}::text || '%'`, filter.errorText.replace(/[\\%_]/g, "\\$&"))
        }
        if (filter.replayOf !== undefined) add((p) => `replay_of = ${p}::text`, filter.replayOf)
        params.push(filter.limit ?? 100)
        const rows = await driver.query(
          `select ${EXECUTION_COLUMNS} from ${s}.audit_executions
           ${where.length === 0 ? "" : `where ${where.join(" and ")}`}
           order by started_at desc, execution_id limit $${params.length}::integer`,
          params
        )
        return rows.map((row) => recordOfRow(row, false))
      }),
    trace: (executionId) =>
      Effect.flatMap(trace(executionId), (built) =>
        built === undefined
          ? Effect.succeed(undefined)
          : attempt("trace", async () => {
              // The row holds what several events say together (and survives event retention).
              const rows = await driver.query(
                `select ${EXECUTION_COLUMNS}, input, output from ${s}.audit_executions where execution_id = $1`,
                [executionId]
              )
              const row = rows[0]
              return row === undefined ? built : { ...built, execution: recordOfRow(row, true) }
            })
      ),
    whereStopped: (executionId) => Effect.map(trace(executionId), (t) => (t === undefined ? undefined : stopPoint(t))),
    flow: (flowId, flowVersion) =>
      attempt("flow", async () => {
        const rows = await driver.query(`select ir from ${s}.audit_flows where flow_id = $1 and flow_version = $2`, [
          flowId,
          flowVersion
        ])
        return rows[0]?.ir as Ir.Flow | undefined
      }),
    prune: (before) =>
      attempt("prune", async () => {
        let total = 0
        while (true) {
          const rows = await driver.query(
            `with doomed as (
               select execution_id from ${s}.audit_executions
               where started_at < to_timestamp($1::float8 / 1000.0) limit 5000
             ), gone_events as (
               delete from ${s}.audit_events e using doomed d where e.execution_id = d.execution_id
             )
             delete from ${s}.audit_executions x using doomed d where x.execution_id = d.execution_id
             returning 1`,
            [before]
          )
          total += rows.length
          if (rows.length < 5000) return total
        }
      }),
    count: () =>
      attempt("count", async () => {
        const rows = await driver.query(
          `select (select count(*) from ${s}.audit_executions)::integer as executions,
                  (select count(*) from ${s}.audit_events)::integer as events`
        )
        return { executions: Number(rows[0]?.executions ?? 0), events: Number(rows[0]?.events ?? 0) }
      })
  }
}

/**
 * A sink writing to a store. Connection failures are retryable; data errors are not (the buffer isolates the
 * entry and keeps it in its dead-letter file).
 *
 * @example
 * ```ts
 * import { Store } from "@jsonflow/audit"
 * declare const store: Store.AuditStoreShape
 * const sink = Store.sink(store, 5_000)
 * ```
 */
export const sink = (store: AuditStoreShape, batchSize?: number): Sink => ({
  name: store.name,
  ...(batchSize === undefined ? {} : { batchSize }),
  write: (batch) =>
    Effect.mapError(
      store.write(batch),
      (error) => new SinkError({ sink: store.name, reason: error.reason, retryable: error.retryable })
    )
})
