/**
 * Runs one execution of a flow entry for any trigger: with the services of the entry's environment, an
 * optional time limit (the fiber is interrupted and the outcome is `TimedOut`), in-flight accounting for
 * graceful shutdown, metrics, a log line, and a bounded list of recent executions for the admin API.
 *
 * @module executor
 */
import { randomUUID } from "node:crypto"
import type { Compiler, FlowError } from "@jsonflow/core"
import { Cause, type Context, Effect, Exit } from "effect"
import type { Logger } from "../ops/logger.ts"
import type { RunnerMetrics } from "../ops/metrics.ts"
import type { Environment, FlowEntry } from "./flowTable.ts"

/** How an execution ended. */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly executionId: string; readonly result: Compiler.ExecutionResult }
  | { readonly _tag: "Failed"; readonly executionId: string; readonly error: FlowError.FlowError }
  | { readonly _tag: "TimedOut"; readonly executionId: string; readonly timeoutMs: number }
  | { readonly _tag: "Interrupted"; readonly executionId: string }
  | { readonly _tag: "Defect"; readonly executionId: string; readonly message: string }

/** A finished execution as the admin API lists it. */
export interface Recent {
  readonly executionId: string
  readonly flowId: string
  readonly version: string
  readonly trigger: string
  readonly status: "succeeded" | "failed" | "timed-out" | "interrupted"
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly durationMs: number
  readonly error?: { readonly _tag: string; readonly message: string }
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** `http`, `cron`, `queue`, `manual` (programmatic, admin). */
  readonly triggerType: string
  /** What nodes read as `$trigger`. */
  readonly trigger?: unknown
  readonly executionId?: string
  /** Interrupt the execution after this long. */
  readonly timeoutMs?: number
}

/** The executor. */
export interface Executor {
  readonly execute: (entry: FlowEntry, input: unknown, options: ExecuteOptions) => Promise<Outcome>
  readonly inFlight: () => number
  /** Resolves once no execution runs (immediately if none does). */
  readonly drained: () => Promise<void>
  /** Interrupts every running execution (after the drain deadline). */
  readonly interruptAll: () => void
  readonly recent: () => ReadonlyArray<Recent>
}

const statusOf = (outcome: Outcome): Recent["status"] =>
  outcome._tag === "Succeeded"
    ? "succeeded"
    : outcome._tag === "TimedOut"
      ? "timed-out"
      : outcome._tag === "Interrupted"
        ? "interrupted"
        : "failed"

/**
 * Makes an executor over the services of each environment.
 *
 * @example
 * ```ts
 * const executor = make({ json: jsonContext, builder: userContext }, metrics, logger)
 * const outcome = await executor.execute(entry, { value: 21 }, { triggerType: "manual" })
 * ```
 */
export const make = (
  contexts: Readonly<Record<Environment, Context.Context<never>>>,
  metrics: RunnerMetrics,
  logger: Logger,
  options: {
    /** Waited for before each execution starts (the audit's admission with the `block` policy). */
    readonly admit?: Effect.Effect<void>
    /** Finished executions kept for the admin API (default 200). */
    readonly recentSize?: number
  } = {}
): Executor => {
  const recentSize = options.recentSize ?? 200
  const admit = options.admit
  const running = new Set<{ readonly interrupt: () => void }>()
  let waiters: Array<() => void> = []
  const recent: Array<Recent> = []
  const runners = {
    json: Effect.runForkWith(contexts.json),
    builder: Effect.runForkWith(contexts.builder)
  }
  const finish = (
    entry: FlowEntry,
    options: ExecuteOptions,
    outcome: Outcome,
    started: number,
    startedAt: number,
    handle: { readonly interrupt: () => void }
  ) => {
    running.delete(handle)
    metrics.inFlight.add({ flow: entry.id }, -1)
    const seconds = (performance.now() - started) / 1000
    const status = statusOf(outcome)
    metrics.executions.inc({ flow: entry.id, trigger: options.triggerType, status })
    metrics.executionSeconds.observe({ flow: entry.id }, seconds)
    const error =
      outcome._tag === "Failed"
        ? { _tag: outcome.error._tag, message: outcome.error.message }
        : outcome._tag === "Defect"
          ? { _tag: "Defect", message: outcome.message }
          : outcome._tag === "TimedOut"
            ? { _tag: "TimedOut", message: `ran past ${outcome.timeoutMs} ms` }
            : undefined
    recent.push({
      executionId: outcome.executionId,
      flowId: entry.id,
      version: entry.version,
      trigger: options.triggerType,
      status,
      startedAt,
      durationMs: Math.round(seconds * 1000 * 100) / 100,
      ...(error ? { error } : {})
    })
    if (recent.length > recentSize) recent.shift()
    const level = status === "succeeded" ? "debug" : "warn"
    if (logger.enabled(level)) {
      logger.log(level, `execution ${status}`, {
        flowId: entry.id,
        version: entry.version,
        executionId: outcome.executionId,
        trigger: options.triggerType,
        durationMs: Math.round(seconds * 1000 * 100) / 100,
        ...(error ? { error } : {})
      })
    }
    if (running.size === 0 && waiters.length > 0) {
      const list = waiters
      waiters = []
      for (const w of list) w()
    }
  }
  return {
    execute: (entry, input, options) =>
      new Promise<Outcome>((resolve) => {
        const executionId = options.executionId ?? randomUUID()
        const started = performance.now()
        const startedAt = Date.now()
        metrics.inFlight.add({ flow: entry.id }, 1)
        let timedOut = false
        const run = entry.run(input, {
          executionId,
          ...(options.trigger === undefined ? {} : { trigger: options.trigger })
        }) as Effect.Effect<Compiler.ExecutionResult, FlowError.FlowError, never>
        // Inside the fiber, so the wait counts against the time limit and a shutdown can interrupt it.
        const effect = admit === undefined ? run : Effect.andThen(admit, run)
        const fiber = runners[entry.environment](effect)
        const handle = { interrupt: () => fiber.interruptUnsafe() }
        running.add(handle)
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true
                fiber.interruptUnsafe()
              }, options.timeoutMs)
        fiber.addObserver((exit) => {
          if (timer) clearTimeout(timer)
          let outcome: Outcome
          if (Exit.isSuccess(exit)) outcome = { _tag: "Succeeded", executionId, result: exit.value }
          else if (timedOut) outcome = { _tag: "TimedOut", executionId, timeoutMs: options.timeoutMs ?? 0 }
          else {
            const failure = exit.cause.reasons.find(Cause.isFailReason)
            if (failure) outcome = { _tag: "Failed", executionId, error: failure.error }
            else if (Cause.hasInterruptsOnly(exit.cause)) outcome = { _tag: "Interrupted", executionId }
            else {
              const defect = Cause.squash(exit.cause)
              outcome = {
                _tag: "Defect",
                executionId,
                message: defect instanceof Error ? defect.message : String(defect)
              }
            }
          }
          finish(entry, options, outcome, started, startedAt, handle)
          resolve(outcome)
        })
      }),
    inFlight: () => running.size,
    drained: () =>
      running.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiters.push(resolve)
          }),
    interruptAll: () => {
      for (const handle of running) handle.interrupt()
    },
    recent: () => [...recent].reverse()
  }
}
