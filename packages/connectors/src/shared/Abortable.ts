/**
 * One place where connectors turn a promise-returning client call into an `Effect` that really stops the
 * I/O: the call receives an `AbortSignal` that fires on the per-call deadline **and** on fiber interruption,
 * and interruption waits until the call has settled, so a cancelled request or query has released its
 * socket or connection by the time the interrupted fiber finishes.
 *
 * @module Abortable
 */
import { Effect } from "effect"

/** The abort reason used when the deadline passes; lets `onError` callers tell a timeout from other aborts. */
export class DeadlineExceeded extends Error {
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    super(`deadline of ${timeoutMs} ms exceeded`)
    this.name = "DeadlineExceeded"
    this.timeoutMs = timeoutMs
  }
}

/** The abort reason used when the fiber running the call is interrupted. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted")
    this.name = "Interrupted"
  }
}

export interface AbortableOptions<A, E> {
  /** Starts the call; it must stop its I/O when `signal` aborts (pass it on to undici, call `query.cancel()`, ...). */
  readonly run: (signal: AbortSignal) => PromiseLike<A>
  /** Deadline for the whole call in milliseconds; absent or 0 means none. */
  readonly timeoutMs?: number | undefined
  /**
   * The typed error for a call that ran past `timeoutMs`. `cause` is how the aborted call then failed;
   * absent when it did not settle within `settleTimeoutMs` of the abort (its outcome is unknown).
   */
  readonly onTimeout: (timeoutMs: number, cause?: unknown) => E
  /** The typed error for any other failure of the call. */
  readonly onError: (cause: unknown) => E
  /**
   * How long an aborted call may take to settle (default 5000 ms): interruption waits that long at most,
   * and a call that ignores its deadline's abort fails with `onTimeout` after that much more.
   */
  readonly settleTimeoutMs?: number
}

const settle = (promise: PromiseLike<unknown>, maxMs: number): Promise<void> =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, maxMs)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    promise.then(done, done)
  })

/** A started call: its promise, and how to stop it. */
export interface Started<A> {
  readonly promise: PromiseLike<A>
  /** Stops the call's I/O; its promise should then settle soon (usually rejecting). */
  readonly abort: (reason: Error) => void
}

export interface AbortableStartOptions<A, E> extends Omit<AbortableOptions<A, E>, "run"> {
  /** Starts the call and says how to stop it (no AbortSignal needed: the cheaper form for hot paths). */
  readonly start: () => Started<A>
}

/**
 * {@link abortable} for calls that can be stopped directly (`query.cancel()`, a dispatch controller): the
 * call returns its promise and an `abort` function, so no `AbortController` or listener is created per call.
 *
 * @example
 * ```ts
 * import { abortableStart } from "../shared/Abortable.ts"
 * const rows = abortableStart({
 *   start: () => {
 *     const query = sql.unsafe("select 1")
 *     return { promise: query, abort: () => query.cancel() }
 *   },
 *   timeoutMs: 5_000,
 *   onTimeout: (ms) => ({ _tag: "Timeout", ms, retryable: true }) as const,
 *   onError: (cause) => ({ _tag: "Failed", cause, retryable: false }) as const
 * })
 * ```
 */
export const abortableStart = <A, E>(options: AbortableStartOptions<A, E>): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume) => {
    const timeoutMs = options.timeoutMs ?? 0
    const settleMs = options.settleTimeoutMs ?? 5_000
    let timedOut = false
    let fallback: ReturnType<typeof setTimeout> | undefined
    let started: Started<A>
    try {
      started = options.start()
    } catch (cause) {
      resume(Effect.fail(options.onError(cause)))
      return
    }
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true
            started.abort(new DeadlineExceeded(timeoutMs))
            // A call that ignores the abort still times out, a little later.
            fallback = setTimeout(() => resume(Effect.fail(options.onTimeout(timeoutMs))), settleMs)
          }, timeoutMs)
        : undefined
    started.promise.then(
      (value) => {
        clearTimeout(timer)
        clearTimeout(fallback)
        resume(Effect.succeed(value))
      },
      (cause: unknown) => {
        clearTimeout(timer)
        clearTimeout(fallback)
        resume(Effect.fail(timedOut ? options.onTimeout(timeoutMs, cause) : options.onError(cause)))
      }
    )
    // Runs on interruption: stop the call, then wait for it to let go of its socket/connection.
    return Effect.promise(() => {
      clearTimeout(timer)
      clearTimeout(fallback)
      started.abort(new Interrupted())
      return settle(started.promise, settleMs)
    })
  })

/**
 * Runs `run(signal)` as an Effect with a deadline and real cancellation.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { abortable } from "../shared/Abortable.ts"
 *
 * const get = (url: string) =>
 *   abortable({
 *     run: (signal) => fetch(url, { signal }).then((r) => r.text()),
 *     timeoutMs: 5_000,
 *     onTimeout: (ms) => ({ _tag: "Timeout", ms, retryable: true }) as const,
 *     onError: (cause) => ({ _tag: "Failed", cause, retryable: false }) as const
 *   })
 * ```
 */
export const abortable = <A, E>(options: AbortableOptions<A, E>): Effect.Effect<A, E> =>
  abortableStart({
    ...options,
    start: () => {
      const controller = new AbortController()
      return { promise: options.run(controller.signal), abort: (reason) => controller.abort(reason) }
    }
  })
