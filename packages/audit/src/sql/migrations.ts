/**
 * The audit schema, as numbered migrations. The same DDL runs on PostgreSQL and on the embedded store
 * (PGlite): one schema, one set of queries. Applied in order inside a transaction holding an advisory lock,
 * so two processes starting at once do not race; the applied versions are kept in `audit_schema_version`.
 *
 * Indexes serve the queries of `Store`: listing by time, by flow and by status (each newest first), the
 * trace of one execution (the events' primary key), replays of an execution, and retention by start time.
 *
 * @module migrations
 */

/** A migration: its version and its statements, with `{schema}` standing for the quoted schema name. */
export interface Migration {
  readonly version: number
  readonly description: string
  readonly statements: ReadonlyArray<string>
}

/** Every migration, oldest first. Never edit a released one: add the next. */
export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "executions, events and recorded flows",
    statements: [
      `create table {schema}.audit_executions (
        execution_id text primary key,
        flow_id text not null,
        flow_version text not null,
        trigger text,
        status text not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        last_event_at timestamptz not null,
        duration_ms double precision,
        steps integer,
        error jsonb,
        error_text text,
        input jsonb,
        output jsonb,
        parent_execution_id text,
        parent_node_id text,
        replay_of text
      )`,
      "create index audit_executions_started on {schema}.audit_executions (started_at desc)",
      "create index audit_executions_flow on {schema}.audit_executions (flow_id, started_at desc)",
      "create index audit_executions_status on {schema}.audit_executions (status, started_at desc)",
      "create index audit_executions_replay on {schema}.audit_executions (replay_of) where replay_of is not null",
      `create table {schema}.audit_events (
        execution_id text not null,
        seq integer not null,
        kind text not null,
        node_id text,
        at timestamptz not null,
        body jsonb not null,
        primary key (execution_id, seq)
      )`,
      `create table {schema}.audit_flows (
        flow_id text not null,
        flow_version text not null,
        recorded_at timestamptz not null,
        ir jsonb not null,
        primary key (flow_id, flow_version)
      )`
    ]
  }
]

/** Quotes a schema name for SQL. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`
