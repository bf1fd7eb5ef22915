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

/**
 * The ceilings a runner applies: its `maxLimits` over {@link ceilings}. `Sandbox.layer` and `Nodes.make`
 * both use this, so a node config is checked against the same ceilings its calls get.
 *
 * @example
 * ```ts
 * import { Limits } from "@jsonflow/sandbox"
 * Limits.ceilingsOf({ timeoutMs: 300_000 }).timeoutMs // 300000
 * ```
 */
export const ceilingsOf = (maxLimits: Partial<Limits> | undefined): Limits =>
  resolve(maxLimits, ceilings, {
    timeoutMs: Number.MAX_SAFE_INTEGER,
    memoryMb: Number.MAX_SAFE_INTEGER,
    maxInputBytes: Number.MAX_SAFE_INTEGER,
    maxOutputBytes: Number.MAX_SAFE_INTEGER,
    maxLogBytes: Number.MAX_SAFE_INTEGER
  })

/** The smallest value of each limit (a request below it is raised to it). */
export const minimums: Limits = { timeoutMs: 1, memoryMb: 8, maxInputBytes: 0, maxOutputBytes: 0, maxLogBytes: 0 }

const pick = (key: keyof Limits, request: Partial<Limits> | undefined, base: Limits, top: Limits): number => {
  const wanted = request?.[key] ?? base[key]
  const bounded = Math.min(Math.max(Math.floor(wanted), minimums[key]), top[key])
  return Number.isFinite(bounded) ? bounded : base[key]
}

/**
 * Resolves the limits of one call: the request over the runner's defaults, capped by the ceilings. A `js`/
 * `ts` node's config never reaches a cap: a value over its runner's ceiling is refused when the flow is
 * loaded (see `Nodes.make`); for calls made with `Sandbox.run(..., { limits })` the cap applies.
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
