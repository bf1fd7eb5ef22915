/**
 * The query API over the configured {@link AuditStore}: executions by flow, status, time range and text in
 * their error; one execution's full trace; and "where did it stop" for an execution that never finished.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Embedded, Query } from "@jsonflow/audit"
 * const failedToday = Query.executions({ status: "failed", since: Query.parseSince("24h") }).pipe(
 *   Effect.provide(Embedded.layerStore())
 * )
 * ```
 *
 * @module Query
 */
import type { Effect } from "effect"
import type { ExecutionRecord, StopPoint, Trace } from "./Record.ts"
import { AuditStore, type ExecutionFilter, type StoreError } from "./Store.ts"

/**
 * Executions matching a filter, newest first.
 *
 * @example
 * ```ts
 * import { Query } from "@jsonflow/audit"
 * const program = Query.executions({ flowId: "orders", errorText: "timeout", limit: 20 })
 * ```
 */
export const executions = (
  filter: ExecutionFilter = {}
): Effect.Effect<ReadonlyArray<ExecutionRecord>, StoreError, AuditStore> =>
  AuditStore.use((store) => store.listExecutions(filter))

/**
 * One execution's trace (record, events, node attempts); `undefined` when unknown.
 *
 * @example
 * ```ts
 * import { Query } from "@jsonflow/audit"
 * const program = Query.trace("7f3a0c2e-...")
 * ```
 */
export const trace = (executionId: string): Effect.Effect<Trace | undefined, StoreError, AuditStore> =>
  AuditStore.use((store) => store.trace(executionId))

/**
 * Where an execution stopped: nodes still open when its runner died, the last node that ended, the
 * failing node.
 *
 * @example
 * ```ts
 * import { Query } from "@jsonflow/audit"
 * const program = Query.whereStopped("7f3a0c2e-...")
 * ```
 */
export const whereStopped = (executionId: string): Effect.Effect<StopPoint | undefined, StoreError, AuditStore> =>
  AuditStore.use((store) => store.whereStopped(executionId))

/**
 * Reads `--since`: a duration back from now (`90s`, `15m`, `2h`, `7d`) or a date (`2026-11-22`,
 * ISO timestamps); returns epoch milliseconds, or `undefined` when unreadable.
 *
 * @example
 * ```ts
 * import { Query } from "@jsonflow/audit"
 * Query.parseSince("2h") // Date.now() - 7_200_000
 * ```
 */
export const parseSince = (text: string, now: number = Date.now()): number | undefined => {
  const relative = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(text.trim())
  if (relative !== null) {
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
      relative[2] as "ms" | "s" | "m" | "h" | "d" | "w"
    ]
    return now - Number(relative[1]) * unit
  }
  const absolute = Date.parse(text)
  return Number.isNaN(absolute) ? undefined : absolute
}
