/**
 * The bounded buffer between the engine and one sink. `offer` is what the `FlowEvents` subscriber calls: a
 * push onto an array, O(1), never blocking and never throwing. Writer fibers take batches (by size or after
 * a short linger), redact them and write them to the sink, retrying with backoff while the sink is down.
 *
 * When the buffer is full the policy is explicit:
 * - `spill` (default): the entry goes to the sink's journal on local disk and is written when the sink is
 *   back (or by the next process); nothing is lost and executions keep their latency;
 * - `block`: the entry is still accepted, and {@link Channel.awaitRoom} (used by `Audit.admit` in front of
 *   new executions) waits until there is room: back-pressure at execution admission, since an event emitter
 *   may not wait;
 * - `drop`: the entry is counted in `dropped` and discarded (never the default).
 *
 * Shutdown (the scope closing) writes what it can within `shutdownTimeoutMs` and spills the rest.
 *
 * @module Buffer
 */
import { Effect, Fiber, type Scope } from "effect"
import * as Journal from "./Journal.ts"
import type { Entry } from "./Record.ts"
import type { Redactor } from "./Redaction.ts"
import { type Sink, SinkError } from "./Sink.ts"

/** What to do with an entry when the buffer is full. */
export type FullPolicy = "spill" | "block" | "drop"

export interface BufferOptions {
  /** Entries held in memory per sink (default 20,000). */
  readonly capacity?: number
  /** Entries per write (default: the sink's preference, else 2,000). */
  readonly batchSize?: number
  /** How long a writer waits for a batch to fill (default 20 ms). */
  readonly lingerMs?: number
  /** Writes in flight per sink (default: the sink's preference, else 1). */
  readonly concurrency?: number
  readonly onFull?: FullPolicy
  /** Root of the spill journals, one sub-directory per sink (default `.jsonflow/audit-journal`). */
  readonly journalDir?: string
  /** Backoff between retries of a failed write (default 50 ms doubling up to 2 s). */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number }
  /** A write taking longer counts as failed and is retried (default 30 s): a hung connection marks the sink down. */
  readonly writeTimeoutMs?: number
  /** How long shutdown keeps writing before it spills the rest (default 10 s). */
  readonly shutdownTimeoutMs?: number
}

/** Counters of one sink's buffer. `dropped` stays 0 unless the policy is `drop`. */
export interface Counters {
  readonly sink: string
  /** Entries in memory now (queued or being written). */
  readonly buffered: number
  /** Entries ever sent to the journal (full buffer, or left over at shutdown). */
  readonly spilled: number
  /** Entries written to the sink (journal replays included). */
  readonly written: number
  readonly dropped: number
  /** Entries written from journal files. */
  readonly replayed: number
  /** Failed write attempts (each retried). */
  readonly failures: number
  /** Entries the sink rejected as malformed, kept in `dead-letter.jsonl`. */
  readonly deadLettered: number
  /** Whether the last write failed. */
  readonly sinkDown: boolean
}

/** One sink's buffer. */
export interface Channel {
  readonly sink: Sink
  readonly offer: (entry: Entry) => void
  readonly counters: () => Counters
  readonly hasRoom: () => boolean
  /** Waits until the buffer is below capacity. */
  readonly awaitRoom: Effect.Effect<void>
  /** Waits until everything offered so far, spilled entries included, is written (it waits while the sink is down). */
  readonly flush: Effect.Effect<void>
}

const DEFAULTS = {
  capacity: 20_000,
  batchSize: 2_000,
  lingerMs: 20,
  concurrency: 1,
  onFull: "spill",
  journalDir: ".jsonflow/audit-journal",
  initialMs: 50,
  maxMs: 2_000,
  shutdownTimeoutMs: 10_000,
  writeTimeoutMs: 30_000
} as const

/**
 * Opens a buffer in front of `sink`; its writers run until the scope closes, which flushes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Buffer, Redaction } from "@jsonflow/audit"
 * declare const sink: import("@jsonflow/audit").Sink.Sink
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const channel = yield* Buffer.make(sink, Redaction.make(), { capacity: 10_000, onFull: "spill" })
 *   // channel.offer(entry) from a FlowEvents subscriber
 * }))
 * ```
 */
export const make = (
  sink: Sink,
  redactor: Redactor,
  options: BufferOptions = {}
): Effect.Effect<Channel, never, Scope.Scope> =>
  Effect.gen(function* () {
    const capacity = Math.max(1, options.capacity ?? DEFAULTS.capacity)
    const batchSize = Math.max(1, options.batchSize ?? sink.batchSize ?? DEFAULTS.batchSize)
    const lingerMs = options.lingerMs ?? DEFAULTS.lingerMs
    const policy = options.onFull ?? DEFAULTS.onFull
    const initialMs = options.retry?.initialMs ?? DEFAULTS.initialMs
    const maxMs = options.retry?.maxMs ?? DEFAULTS.maxMs
    const writeTimeoutMs = options.writeTimeoutMs ?? DEFAULTS.writeTimeoutMs
    const journal = Journal.open(
      `${options.journalDir ?? DEFAULTS.journalDir}/${sink.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`,
      redactor.entry
    )

    let queue: Array<Entry> = []
    let head = 0
    const size = () => queue.length - head
    const inFlight = new Set<ReadonlyArray<Entry>>()
    let inFlightCount = 0
    // Capacity bounds what is held in memory: queued plus being written.
    const load = () => queue.length - head + inFlightCount
    let closing = false
    let closed = false
    let sinkDown = false
    let replaying = false
    const stats = { spilled: 0, written: 0, dropped: 0, replayed: 0, failures: 0, deadLettered: 0 }

    let workWaiters: Array<() => void> = []
    const roomWaiters: Array<() => void> = []
    const idleWaiters: Array<() => void> = []
    const wake = () => {
      if (workWaiters.length === 0) return
      const waiters = workWaiters
      workWaiters = []
      for (const resume of waiters) resume()
    }
    const notify = (waiters: Array<() => void>) => {
      for (const resume of waiters.splice(0)) resume()
    }

    const offer = (entry: Entry) => {
      if (closed) {
        // After shutdown nothing reads the queue: straight to disk.
        stats.spilled++
        journal.addSync([redactor.entry(entry)])
        return
      }
      if (load() >= capacity && policy !== "block") {
        if (policy === "drop") stats.dropped++
        else {
          stats.spilled++
          journal.add(entry)
        }
        return
      }
      queue.push(entry)
      wake()
    }

    const take = (n: number): Array<Entry> => {
      const end = Math.min(queue.length, head + n)
      const batch = queue.slice(head, end)
      head = end
      if (head === queue.length) {
        queue = []
        head = 0
      } else if (head > 4_096 && head * 2 > queue.length) {
        queue = queue.slice(head)
        head = 0
      }
      return batch
    }

    const waitFor = (register: (resume: () => void) => void) =>
      Effect.callback<void>((resume) => {
        register(() => resume(Effect.void))
      })

    // Retries a retryable failure forever (the sink is down); bisects a non-retryable one down to the bad entry.
    const writeBatch = (batch: ReadonlyArray<Entry>): Effect.Effect<void> =>
      Effect.gen(function* () {
        let delay = initialMs
        while (true) {
          const failure = yield* sink.write(batch).pipe(
            Effect.timeoutOrElse({
              duration: writeTimeoutMs,
              orElse: () =>
                Effect.fail(
                  new SinkError({ sink: sink.name, reason: `no answer in ${writeTimeoutMs} ms`, retryable: true })
                )
            }),
            Effect.as(undefined),
            Effect.catch((error: SinkError) => Effect.succeed(error)),
            Effect.catchDefect((defect) =>
              Effect.succeed({ retryable: false, reason: String(defect) } as Pick<SinkError, "retryable" | "reason">)
            )
          )
          if (failure === undefined) {
            sinkDown = false
            stats.written += batch.length
            return
          }
          stats.failures++
          if (!failure.retryable) {
            if (batch.length === 1) {
              journal.deadLetter(batch)
              stats.deadLettered++
              return
            }
            const half = Math.ceil(batch.length / 2)
            yield* writeBatch(batch.slice(0, half))
            yield* writeBatch(batch.slice(half))
            return
          }
          sinkDown = true
          yield* Effect.sleep(delay)
          delay = Math.min(maxMs, delay * 2)
        }
      })

    const replayJournal = Effect.gen(function* () {
      replaying = true
      const files = yield* Effect.promise(() => journal.claim())
      for (const file of files) {
        const entries = journal.read(file)
        for (let i = 0; i < entries.length; i += batchSize) {
          const batch = entries.slice(i, i + batchSize)
          inFlight.add(batch)
          yield* writeBatch(batch)
          inFlight.delete(batch)
          stats.replayed += batch.length
        }
        journal.remove(file)
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          replaying = false
        })
      )
    )

    const writer = Effect.gen(function* () {
      while (true) {
        if (size() === 0) {
          if (inFlightCount === 0) notify(idleWaiters)
          yield* waitFor((resume) => {
            if (size() > 0) resume()
            else workWaiters.push(resume)
          })
        }
        if (size() < batchSize && lingerMs > 0 && !closing) yield* Effect.sleep(lingerMs)
        const raw = take(batchSize)
        if (raw.length === 0) continue
        inFlightCount += raw.length
        const batch = raw.map(redactor.entry)
        inFlight.add(batch)
        yield* writeBatch(batch)
        inFlight.delete(batch)
        inFlightCount -= raw.length
        if (roomWaiters.length > 0 && load() < capacity) notify(roomWaiters)
        // The sink works: the time to bring back what was spilled while it did not.
        if (!replaying && !closing && journal.hasWork()) yield* replayJournal
      }
    })

    // Journal files of earlier processes (and of this one's outages) are replayed by a fiber of their own.
    const replayer = Effect.gen(function* () {
      while (true) {
        if (!replaying && !sinkDown && journal.hasWork()) yield* replayJournal
        yield* Effect.sleep(Math.max(maxMs, 500))
      }
    })

    const concurrency = Math.max(1, options.concurrency ?? sink.concurrency ?? DEFAULTS.concurrency)
    const fibers: Array<Fiber.Fiber<never>> = []
    for (let i = 0; i < concurrency; i++) fibers.push(yield* Effect.forkDetach(writer))
    fibers.push(yield* Effect.forkDetach(replayer))

    const idle = () => size() === 0 && inFlightCount === 0
    const settled = () => idle() && !replaying

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        wake()
        // Shutdown waits for the queue and for a journal replay under way (a replay left halfway is not lost:
        // its claimed file is taken over by the next process, but it would be written twice).
        yield* Effect.gen(function* () {
          while (!settled()) {
            yield* waitFor((resume) => {
              if (idle()) resume()
              else idleWaiters.push(resume)
            })
            if (replaying) yield* Effect.sleep(5)
          }
        }).pipe(Effect.timeoutOption(options.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs))
        yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
        closed = true
        // Whatever could not be written goes to disk; it is replayed at the next start.
        const left: Array<Entry> = []
        for (const batch of inFlight) left.push(...batch)
        const rest = take(size()).map(redactor.entry)
        stats.spilled += left.length + rest.length
        yield* Effect.promise(() => journal.settle())
        journal.addSync(left)
        journal.addSync(rest)
        notify(roomWaiters)
        notify(idleWaiters)
      })
    )

    const counters = (): Counters => ({
      sink: sink.name,
      buffered: size() + inFlightCount,
      ...stats,
      sinkDown
    })

    return {
      sink,
      offer,
      counters,
      hasRoom: () => load() < capacity,
      awaitRoom: Effect.suspend(() =>
        load() < capacity || closed
          ? Effect.void
          : waitFor((resume) => {
              if (load() < capacity) resume()
              else roomWaiters.push(resume)
            })
      ),
      flush: Effect.gen(function* () {
        while (true) {
          if (idle() && !replaying && journal.pendingCount() === 0 && (!journal.hasWork() || closed)) return
          if (idle() && !sinkDown && !replaying && journal.hasWork()) {
            yield* Effect.promise(() => journal.settle())
            yield* Effect.sleep(5)
            if (!replaying && journal.hasWork()) yield* replayJournal
            continue
          }
          yield* Effect.sleep(5)
        }
      })
    } satisfies Channel
  })
