/**
 * Retry classification shared by every connector. Each connector error carries `retryable: boolean`: true
 * only when running the same operation again is both **safe** (it cannot apply a side effect twice) and
 * **may succeed** (the cause is transient). The engine's per-node retry policy retries exactly those errors.
 *
 * Connectors may also retry internally (opt-in, e.g. the HTTP connector honouring `Retry-After`); the
 * policy Schema and backoff below are shared so every connector reads the same way.
 *
 * @module Retryable
 */
import { Schema } from "effect"

/** What every connector error has. */
export interface Retryable {
  readonly retryable: boolean
}

/**
 * Whether a value is an error marked safe to retry.
 *
 * @example
 * ```ts
 * import { isRetryable } from "../shared/Retryable.ts"
 * isRetryable({ _tag: "SqlError", retryable: true }) // true
 * ```
 */
export const isRetryable = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as Partial<Retryable>).retryable === true

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * A connector-level retry policy: `maxAttempts` counts the first try (1 = no retry); delays grow
 * exponentially from `initialDelayMs` (default 100) up to `maxDelayMs` (default 10 000), with full jitter.
 */
export const RetryPolicy = Schema.Struct({
  maxAttempts: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })),
  initialDelayMs: Schema.optionalKey(NonNegativeInt),
  maxDelayMs: Schema.optionalKey(NonNegativeInt)
})
export type RetryPolicy = typeof RetryPolicy.Type

/**
 * The delay before retry number `retry` (1 for the first retry): full-jitter exponential backoff, or the
 * server's hint (e.g. `Retry-After`) when one is given, both capped at `maxDelayMs`.
 *
 * @example
 * ```ts
 * import { backoffMs } from "../shared/Retryable.ts"
 * backoffMs({ maxAttempts: 3 }, 1) // between 0 and 100
 * backoffMs({ maxAttempts: 3, maxDelayMs: 2_000 }, 1, 5_000) // 2000: the hint, capped
 * ```
 */
export const backoffMs = (policy: RetryPolicy, retry: number, hintMs?: number): number => {
  const max = policy.maxDelayMs ?? 10_000
  if (hintMs !== undefined) return Math.min(Math.max(0, hintMs), max)
  const ceiling = Math.min(max, (policy.initialDelayMs ?? 100) * 2 ** Math.max(0, retry - 1))
  return Math.floor(Math.random() * ceiling)
}
