/**
 * Token buckets: per client address and per flow. A bucket holds at most `burst` tokens and refills at
 * `perSecond`; a request takes one or is refused (429 with `Retry-After`). Idle buckets are swept so that a
 * scan from many addresses cannot grow memory without bound.
 *
 * @module rateLimit
 */
import type { RateLimit } from "../Config.ts"

interface Bucket {
  tokens: number
  updated: number
}

/** A set of buckets keyed by a string (an address, a flow id). */
export interface Limiter {
  /** Takes a token; returns 0 when allowed, otherwise the seconds until one is available. */
  readonly take: (key: string, limit: RateLimit, now?: number) => number
  readonly size: () => number
}

/**
 * Makes an empty set of buckets holding at most `maxKeys` of them (the fullest are dropped first).
 *
 * @example
 * ```ts
 * const limiter = make()
 * limiter.take("10.0.0.7", { perSecond: 5, burst: 10 }) // 0: allowed
 * ```
 */
export const make = (maxKeys = 100_000): Limiter => {
  const buckets = new Map<string, Bucket>()
  let lastSweep = 0
  const sweep = (now: number, limit: RateLimit) => {
    // A bucket that has refilled completely is the same as no bucket: forget it.
    const full = (limit.burst / limit.perSecond) * 1000
    for (const [key, bucket] of buckets) if (now - bucket.updated >= full) buckets.delete(key)
    lastSweep = now
  }
  return {
    take: (key, limit, now = performance.now()) => {
      let bucket = buckets.get(key)
      if (bucket === undefined) {
        if (buckets.size >= maxKeys || now - lastSweep > 10_000) sweep(now, limit)
        bucket = { tokens: limit.burst, updated: now }
        buckets.set(key, bucket)
      } else {
        bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updated) / 1000) * limit.perSecond)
        bucket.updated = now
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return (1 - bucket.tokens) / limit.perSecond
    },
    size: () => buckets.size
  }
}
