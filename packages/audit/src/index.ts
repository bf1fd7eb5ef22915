/**
 * `@jsonflow/audit`: every execution traced node by node, off the request path and never lost; queries,
 * "where did it stop", and replay from any node.
 *
 * @module @jsonflow/audit
 */

/** The audit layer and service: buffers, redaction, counters, flow recording. */
export * as Audit from "./Audit.ts"
/** The bounded buffer in front of each sink, with its full-buffer policy. */
export * as Buffer from "./Buffer.ts"
/** Where the audit goes, from a URL or a directory. */
export * as Config from "./Config.ts"
/** The HTML page of one execution: coloured flow graph and Gantt timeline. */
export * as Timeline from "./html/timeline.ts"
/** The spill journal on local disk. */
export * as Journal from "./Journal.ts"
/** Executions by flow, status, time and error text; traces; where an execution stopped. */
export * as Query from "./Query.ts"
/** The record model: entries, executions, node runs, traces. */
export * as Record from "./Record.ts"
/** Redaction and AES-256-GCM encryption of sensitive values. */
export * as Redaction from "./Redaction.ts"
/** The live query path: the store API over HTTP (a unix socket, or an admin API mount) and its client. */
export * as Remote from "./Remote.ts"
/** Replay of an execution from its start or a node. */
export * as Replay from "./Replay.ts"
/** JSON text of entries, each shared snapshot serialized once. */
export * as Serialize from "./Serialize.ts"
/** The sink contract. */
export * as Sink from "./Sink.ts"
/** The store service and its SQL implementation. */
export * as Store from "./Store.ts"
/** The console sink (development). */
export * as Console from "./sinks/console.ts"
/** The embedded store (PGlite), the default. */
export * as Embedded from "./sinks/embedded.ts"
/** The JSON lines file sink. */
export * as Jsonl from "./sinks/jsonl.ts"
/** The PostgreSQL store and sink. */
export * as Postgres from "./sinks/postgres.ts"
/** The Redis stream bus sink. */
export * as RedisBus from "./sinks/redisBus.ts"
/** Terminal views: execution tables and timelines. */
export * as Text from "./Text.ts"
/** The audit worker: Redis stream to PostgreSQL. */
export * as Worker from "./worker.ts"
