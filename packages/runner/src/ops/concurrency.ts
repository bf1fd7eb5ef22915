/**
 * Per-flow concurrency: at most `maxConcurrent` executions run, at most `maxQueued` wait for a slot, and
 * the rest are shed at once (429) instead of piling up. The fast path (a free slot) is synchronous.
 *
 * @module concurrency
 */

/** One flow's gate. */
export interface Gate {
  /** A slot now (`true`), a promise of one (queued), or `false` (shed). */
  readonly acquire: () => true | false | Promise<void>
  readonly release: () => void
  readonly running: () => number
  readonly waiting: () => number
  /** Changes the limits (a reload); running executions keep their slots. */
  readonly resize: (maxConcurrent: number, maxQueued: number) => void
}

/**
 * Makes a gate.
 *
 * @example
 * ```ts
 * const gate = make(10, 100)
 * const slot = gate.acquire()
 * if (slot === false) reply429()
 * else { if (slot !== true) await slot; try { await work() } finally { gate.release() } }
 * ```
 */
export const make = (maxConcurrent: number, maxQueued: number): Gate => {
  let limit = maxConcurrent
  let queueLimit = maxQueued
  let running = 0
  const queue: Array<() => void> = []
  return {
    acquire: () => {
      if (running < limit) {
        running++
        return true
      }
      if (queue.length >= queueLimit) return false
      return new Promise<void>((resolve) => queue.push(resolve))
    },
    release: () => {
      const next = queue.shift()
      if (next)
        next() // the slot passes to the next waiter: `running` stays
      else running--
    },
    running: () => running,
    waiting: () => queue.length,
    resize: (maxC, maxQ) => {
      limit = maxC
      queueLimit = maxQ
      while (running < limit && queue.length > 0) {
        running++
        queue.shift()!()
      }
    }
  }
}
