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
/** The spill journal on local disk. */
export * as Journal from "./Journal.ts"
/** The record model: entries, executions, node runs, traces. */
export * as Record from "./Record.ts"
/** Redaction and AES-256-GCM encryption of sensitive values. */
export * as Redaction from "./Redaction.ts"
/** The sink contract. */
export * as Sink from "./Sink.ts"
/** The store service and its SQL implementation. */
export * as Store from "./Store.ts"
/** The embedded store (PGlite), the default. */
export * as Embedded from "./sinks/embedded.ts"
/** The PostgreSQL store and sink. */
export * as Postgres from "./sinks/postgres.ts"
