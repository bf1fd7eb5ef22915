/**
 * Resource limits of one sandboxed call, their documented defaults, and how per-node values are merged
 * with the runner's defaults and capped by the runner's ceilings.
 *
 * @module Limits
 */

/** What one call may use. Every value is enforced by the sandbox, not by the script's good will. */
export interface Limits {
  /**
   * CPU and wall-clock time for the whole call, in ms: the synchronous run, every promise and microtask it
   * starts, and serializing the result. Enforced by the isolate's timeout, and by the supervisor, which
   * kills the sandbox process when a call does not stop within `timeoutMs + deadlineGraceMs`.
   */
  readonly timeoutMs: number
  /** Heap of the isolate that runs the call, in MB (a soft limit: V8 may briefly exceed it). Minimum 8. */
  readonly memoryMb: number
  /** UTF-8 bytes of the input and variables as JSON. */
  readonly maxInputBytes: number
  /** UTF-8 bytes of the result as JSON. */
  readonly maxOutputBytes: number
  /** Bytes of captured `console` output; lines past the cap are counted, not kept. */
  readonly maxLogBytes: number
}

/**
 * The defaults used when neither the runner nor the node sets a limit.
 *
 * | limit | default |
 * |---|---|
 * | `timeoutMs` | 1000 |
 * | `memoryMb` | 64 |
 * | `maxInputBytes` | 8 MiB |
 * | `maxOutputBytes` | 8 MiB |
 * | `maxLogBytes` | 64 KiB |
 */
export const defaults: Limits = {
  timeoutMs: 1_000,
  memoryMb: 64,
  maxInputBytes: 8 * 1024 * 1024,
  maxOutputBytes: 8 * 1024 * 1024,
  maxLogBytes: 64 * 1024
}

/** The highest values a node may ask for unless the runner sets other ceilings. */
export const ceilings: Limits = {
  timeoutMs: 60_000,
  memoryMb: 512,
  maxInputBytes: 64 * 1024 * 1024,
  maxOutputBytes: 64 * 1024 * 1024,
  maxLogBytes: 1024 * 1024
}

const MINIMUM: Limits = { timeoutMs: 1, memoryMb: 8, maxInputBytes: 0, maxOutputBytes: 0, maxLogBytes: 0 }

const pick = (key: keyof Limits, request: Partial<Limits> | undefined, base: Limits, top: Limits): number => {
  const wanted = request?.[key] ?? base[key]
  const bounded = Math.min(Math.max(Math.floor(wanted), MINIMUM[key]), top[key])
  return Number.isFinite(bounded) ? bounded : base[key]
}

/**
 * Resolves the limits of one call: the node's request over the runner's defaults, capped by the ceilings.
 *
 * @example
 * ```ts
 * import { Limits } from "@jsonflow/sandbox"
 * Limits.resolve({ timeoutMs: 120_000 }, Limits.defaults, Limits.ceilings).timeoutMs // 60000
 * ```
 */
export const resolve = (request: Partial<Limits> | undefined, base: Limits, top: Limits): Limits => {
  if (request === undefined) return base
  return {
    timeoutMs: pick("timeoutMs", request, base, top),
    memoryMb: pick("memoryMb", request, base, top),
    maxInputBytes: pick("maxInputBytes", request, base, top),
    maxOutputBytes: pick("maxOutputBytes", request, base, top),
    maxLogBytes: pick("maxLogBytes", request, base, top)
  }
}
