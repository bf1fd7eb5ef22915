/**
 * The cron trigger: one fiber per scheduled flow sleeps until the next time the schedule matches (in the
 * flow's time zone, with effect's `Cron`, 5 or 6 fields) and fires an execution. Written against effect's
 * `Clock`, so tests drive it with `TestClock`.
 *
 * Once across replicas: before firing, a replica claims the tick with `SET key NX PX` on Redis, the key
 * naming the flow and the tick's time; only the replica that set it runs. Skip-overlap (default on): a tick
 * that comes while the previous run of the flow still goes is skipped, counted and logged.
 *
 * @module cron
 */
import { Clock, Cron, Effect, Result } from "effect"
import type { FlowEntry } from "../internal/flowTable.ts"
import type { Logger } from "../ops/logger.ts"
import type { RunnerMetrics } from "../ops/metrics.ts"

/**
 * Parses a flow's schedule; the error message says what is wrong.
 *
 * @example
 * ```ts
 * parseSchedule("0 9 * * 1-5", "Europe/Paris") // { _tag: "Success", ... }
 * ```
 */
export const parseSchedule = (schedule: string, timezone: string | undefined) => Cron.parse(schedule, timezone)

/** What firing needs. */
export interface CronDeps {
  /** Runs one execution and resolves when it ends. */
  readonly fire: (entry: FlowEntry, tick: { readonly scheduledAt: Date }) => Promise<unknown>
  /** Claims a tick across replicas; absent in a single-replica setup. */
  readonly claim?: (key: string, ttlMs: number) => Promise<boolean>
  /** Releases a claim (the "running" key of skip-overlap across replicas). */
  readonly release?: (key: string) => Promise<void>
  readonly logger: Logger
  readonly metrics: RunnerMetrics
}

/**
 * The loop of one scheduled flow; runs until interrupted.
 *
 * @example
 * ```ts
 * yield* Effect.forkChild(scheduleLoop(entry, deps))
 * ```
 */
export const scheduleLoop = (entry: FlowEntry, deps: CronDeps): Effect.Effect<void> =>
  Effect.gen(function* () {
    const trigger = entry.ir.trigger
    if (trigger.type !== "cron") return
    const parsed = parseSchedule(trigger.schedule, trigger.timezone)
    if (Result.isFailure(parsed)) {
      deps.logger.log("error", "invalid cron schedule", { flowId: entry.id, error: parsed.failure.message })
      return
    }
    const cron = parsed.success
    let running = 0
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const next = Cron.next(cron, new Date(now))
      yield* Effect.sleep(Math.max(0, next.getTime() - now))
      if (entry.limits.skipOverlap && running > 0) {
        deps.metrics.cronRuns.inc({ flow: entry.id, outcome: "skipped-overlap" })
        deps.logger.log("warn", "cron tick skipped: the previous run is still going", {
          flowId: entry.id,
          scheduledAt: next.toISOString()
        })
        continue
      }
      let runningKey: string | undefined
      if (deps.claim) {
        const claim = deps.claim
        const ttl = Math.max(60_000, entry.limits.timeoutMs)
        const tryClaim = (key: string) =>
          Effect.promise(() =>
            claim(key, ttl).catch((error: unknown) => {
              deps.logger.log("error", "cron claim failed (Redis)", { flowId: entry.id, error: String(error) })
              return false
            })
          )
        if (!(yield* tryClaim(`cron:${entry.id}:${next.getTime()}`))) {
          deps.metrics.cronRuns.inc({ flow: entry.id, outcome: "other-replica" })
          continue
        }
        // Skip-overlap across replicas: the previous run may be going on another replica.
        if (entry.limits.skipOverlap) {
          runningKey = `cron-running:${entry.id}`
          if (!(yield* tryClaim(runningKey))) {
            deps.metrics.cronRuns.inc({ flow: entry.id, outcome: "skipped-overlap" })
            deps.logger.log("warn", "cron tick skipped: the previous run is still going on another replica", {
              flowId: entry.id,
              scheduledAt: next.toISOString()
            })
            continue
          }
        }
      }
      deps.metrics.cronRuns.inc({ flow: entry.id, outcome: "fired" })
      running++
      // Fire without waiting, so the schedule keeps its pace; the run itself is tracked by the executor.
      void deps.fire(entry, { scheduledAt: next }).finally(() => {
        running--
        if (runningKey !== undefined) void deps.release?.(runningKey).catch(() => {})
      })
    }
  })
