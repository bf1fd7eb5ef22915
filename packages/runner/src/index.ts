/**
 * `@jsonflow/runner`: the reference runner service (HTTP, cron, queue and programmatic triggers, flow
 * sources with hot reload, operations) and the `jsonflow` CLI (`@jsonflow/runner/cli`).
 *
 * @module @jsonflow/runner
 */

/** The runner's configuration Schema, defaults, env overrides and JSON Schema. */
export * as Config from "./Config.ts"
/** Queue dedupe ids (`dedupeIdOf`), for producers that add jobs with BullMQ directly. */
export * as Dedupe from "./idempotency/dedupe.ts"
/** The typed errors of idempotent HTTP triggers and queue dedupe. */
export * as IdempotencyError from "./idempotency/IdempotencyError.ts"
/** Idempotent triggers: the key store service (memory and Redis layers) and its typed errors. */
export * as IdempotencyStore from "./idempotency/IdempotencyStore.ts"
/** The Redis layer of the idempotency key store (what replicas share). */
export * as IdempotencyRedis from "./idempotency/redis.ts"
/** What JSON flows run with: registry and services (the SSRF guard on). */
export * as JsonEnvironment from "./JsonEnvironment.ts"
/** `Runner.make` (Effect) and `Runner.start` (promise). */
export * as Runner from "./Runner.ts"
/** The runner's typed errors. */
export * as RunnerError from "./RunnerError.ts"
/** The PostgreSQL config DB of versioned flows. */
export * as ConfigDb from "./sources/postgres.ts"
