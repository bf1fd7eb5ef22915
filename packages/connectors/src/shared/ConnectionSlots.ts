/**
 * Connection slots per key (an HTTP origin, a database pool): at most `limit` in use at a time, the rest
 * wait in line, and an abort signal takes a waiter out of the line at once. Connectors wait here before
 * handing work to their driver, so the driver never queues or pipelines it: undici keeps requests beyond
 * its per-origin limit in a queue that an abort cannot leave, and postgres.js pipelines statements behind a
 * busy connection, where a timed-out statement may still run later.
 *
 * @module ConnectionSlots
 */

interface Waiter {
  readonly resolve: () => void
  readonly reject: (reason: unknown) => void
  readonly signal: AbortSignal
  readonly onAbort: () => void
}

interface Origin {
  active: number
  readonly waiting: Array<Waiter>
}

/** Slots per origin, at most `limit` in use at a time; waiters are served first come, first served. */
export class ConnectionSlots {
  readonly #limit: number
  readonly #origins = new Map<string, Origin>()

  constructor(limit: number) {
    this.#limit = limit
  }

  /**
   * Takes a slot: `undefined` when one was free (the fast path, no promise), otherwise a promise that
   * resolves when one frees up or rejects with the signal's reason when it aborts first.
   */
  acquire(origin: string, signal: AbortSignal): Promise<void> | undefined {
    return this.tryAcquire(origin) ? undefined : this.wait(origin, signal)
  }

  /** Takes a free slot if there is one. */
  tryAcquire(origin: string): boolean {
    let entry = this.#origins.get(origin)
    if (entry === undefined) {
      entry = { active: 0, waiting: [] }
      this.#origins.set(origin, entry)
    }
    if (entry.active < this.#limit) {
      entry.active++
      return true
    }
    return false
  }

  /** Waits in line for a slot (after {@link tryAcquire} found none); an abort leaves the line at once. */
  wait(origin: string, signal: AbortSignal): Promise<void> {
    const entry = this.#origins.get(origin)
    if (entry === undefined || entry.active < this.#limit) {
      // A slot freed up in the meantime (and nobody waits when one is free): take it now.
      this.tryAcquire(origin)
      return Promise.resolve()
    }
    if (signal.aborted) return Promise.reject(signal.reason)
    const waiting = entry.waiting
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = waiting.indexOf(waiter)
          if (index >= 0) waiting.splice(index, 1)
          reject(signal.reason)
        }
      }
      signal.addEventListener("abort", waiter.onAbort, { once: true })
      waiting.push(waiter)
    })
  }

  /** Gives a slot back: to the next waiter, or to the pool of free slots. */
  release(origin: string): void {
    const entry = this.#origins.get(origin)
    if (entry === undefined) return
    const next = entry.waiting.shift()
    if (next !== undefined) {
      next.signal.removeEventListener("abort", next.onAbort)
      next.resolve()
      return
    }
    entry.active--
    if (entry.active === 0) this.#origins.delete(origin)
  }

  /** Requests in flight and waiting for `origin`. */
  usage(origin: string): { readonly active: number; readonly waiting: number } {
    const entry = this.#origins.get(origin)
    return { active: entry?.active ?? 0, waiting: entry?.waiting.length ?? 0 }
  }
}
