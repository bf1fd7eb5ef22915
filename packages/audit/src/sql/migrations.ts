/**
 * The audit schema, as numbered migrations. The same DDL runs on PostgreSQL and on the embedded store
 * (PGlite): one schema, one set of queries. Applied in order inside a transaction holding an advisory lock,
 * so two processes starting at once do not race; the applied versions are kept in `audit_schema_version`.
 *
 * Indexes serve the queries of `Store`: listing by time, by flow and by status (each newest first), the
 * trace of one execution (the events' primary key), replays of an execution, retention by start time, and
 * the text search in errors (`ilike '%…%'`, a trigram index when the `pg_trgm` extension can be created:
 * PGlite ships it; on a PostgreSQL without it, or where the role may not create it, the migration skips the
 * index with a notice and that filter scans the rows the other filters leave).
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
  },
  {
    version: 2,
    description: "the snapshot policy an execution was recorded under (replay needs full snapshots)",
    statements: ["alter table {schema}.audit_executions add column snapshots text"]
  },
  {
    version: 3,
    description: "trigram index on error text, when pg_trgm is available",
    statements: [
      // The operator class is looked up wherever the extension lives (it may predate this schema).
      `do $migration$
      declare
        ops text;
      begin
        if not exists (select 1 from pg_extension where extname = 'pg_trgm') then
          if not exists (select 1 from pg_available_extensions where name = 'pg_trgm') then
            raise notice 'jsonflow audit: pg_trgm is not available; error text search will scan';
            return;
          end if;
          begin
            create extension pg_trgm;
          exception when insufficient_privilege then
            raise notice 'jsonflow audit: may not create extension pg_trgm; error text search will scan';
            return;
          end;
        end if;
        select format('%I.%I', n.nspname, c.opcname) into ops
          from pg_opclass c join pg_namespace n on n.oid = c.opcnamespace
          join pg_am a on a.oid = c.opcmethod
          where c.opcname = 'gin_trgm_ops' and a.amname = 'gin' limit 1;
        execute 'create index audit_executions_error_trgm on ' || $q$\{schema}.audit_executions$q$
          || ' using gin (error_text ' || ops || ') where error_text is not null';
      end
      $migration$`
    ]
  }
]

/** Quotes a schema name for SQL. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`
