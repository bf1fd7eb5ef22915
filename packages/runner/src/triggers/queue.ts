/**
 * The queue trigger on BullMQ (Redis). Every runner replica runs a worker for each queue a loaded flow
 * consumes, so replicas share the work; a job is one execution. Jobs are added with the execution id as
 * job id (adding the same id twice is a no-op), `attempts` with exponential backoff (default 3 attempts,
 * 2 s base), and retention of completed and failed jobs. A job whose runner dies mid-way loses its lock
 * and is taken by another replica after `lockDurationMs`. Failed jobs that exhausted their attempts stay in
 * the failed set: the dead-letter view lists and retries them.
 *
 * Failures that a retry cannot fix (a bad input, a node error marked not retryable) fail the job at once.
 *
 * A queue trigger with `dedupe: { key: "/orderId" }` deduplicates enqueues on that key of the input with
 * BullMQ's `deduplication` (throttle mode: `{ id, ttl: windowMs }`): within the window a second enqueue adds
 * no job and answers the first job's execution id. Chosen over a job id derived from the key because the
 * window is then explicit and independent of job retention (a job id dedupes only while the job is kept,
 * `keepCompleted.count` can evict it early), and execution ids stay unique (a reused job id would give an
 * execution after the window the id of one before it).
 *
 * BullMQ is an optional peer dependency, imported when the first queue is used or worker started: a runner
 * whose flows consume no queue never loads it. Without it, starting a runner with a queue-triggered (or
 * enqueueing) flow fails with the `MissingPackage` message (`npm install bullmq@^6.7.0`).
 *
 * @module queue
 */
import { randomUUID } from "node:crypto"
import { OptionalPackage } from "@jsonflow/core"
import type * as BullMQ from "bullmq"
import { Effect } from "effect"
import type * as Config from "../Config.ts"
import { dedupeOf } from "../idempotency/dedupe.ts"
import type { Executor } from "../internal/executor.ts"
import type { FlowEntry, FlowTable } from "../internal/flowTable.ts"
import type { Logger } from "../ops/logger.ts"

/** Connection settings BullMQ passes to its Redis client. */
export interface RedisConnection {
  readonly host: string
  readonly port: number
  readonly username?: string
  readonly password?: string
  readonly db?: number
  readonly tls?: Record<string, never>
  readonly maxRetriesPerRequest: null
}

/**
 * Parses a `redis://` or `rediss://` URL.
 *
 * @example
 * ```ts
 * connectionOf("redis://:secret@127.0.0.1:6379/2") // { host: "127.0.0.1", port: 6379, password: "secret", db: 2, ... }
 * ```
 */
export const connectionOf = (url: string): RedisConnection => {
  const parsed = new URL(url)
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: null
  }
}

/** What a job carries. */
export interface JobData {
  readonly flowId: string
  readonly input: unknown
  readonly trigger?: unknown
  readonly enqueuedAt: number
}

/** A job in the dead-letter view. */
export interface DeadJob {
  readonly jobId: string
  readonly flowId: string | undefined
  readonly attemptsMade: number
  readonly failedReason: string
  readonly finishedOn: number | undefined
  readonly input: unknown
}

/** Job counts of one queue. */
export type Counts = Readonly<Record<string, number>>

/** The queue service. */
export interface QueueService {
  /**
   * Adds a job for the entry's queue; resolves to the execution id (also the job id): the first job's when a
   * queue trigger's `dedupe` key was enqueued within its window. Rejects with `DedupeKeyMissing` when the
   * input lacks that key.
   */
  readonly enqueue: (entry: FlowEntry, input: unknown, trigger?: unknown, executionId?: string) => Promise<string>
  /** Starts workers for the table's queues and stops those no flow consumes any more. */
  readonly sync: (table: FlowTable) => Promise<void>
  readonly counts: () => Promise<Readonly<Record<string, Counts>>>
  readonly dead: (queue: string, limit?: number) => Promise<ReadonlyArray<DeadJob>>
  readonly retry: (queue: string, jobId: string) => Promise<boolean>
  /** Stops taking jobs; active jobs finish first. */
  readonly closeWorkers: () => Promise<void>
  readonly close: () => Promise<void>
}

/** What {@link executionIdOf} reads of a BullMQ job (our own type: declarations never name bullmq's). */
export interface JobAttempt {
  readonly id?: string | undefined
  readonly attemptsStarted: number
}

/** The execution id of a job's attempt: the job id first, then `<job id>.<attempt>` (audit ids stay unique). */
export const executionIdOf = (job: JobAttempt): string => {
  // `attemptsStarted` counts every start, a restart after a stall included.
  const attempt = Math.max(job.attemptsStarted, 1)
  return attempt <= 1 ? String(job.id) : `${job.id}.${attempt}`
}

/** BullMQ, imported on first use; rejects with `MissingPackage` when it is not installed. */
const loadBullmq = (): Promise<typeof BullMQ> =>
  Effect.runPromise(
    OptionalPackage.load("bullmq", () => import("bullmq"), {
      feature: "the queue trigger",
      install: "npm install bullmq@^6.7.0"
    })
  )

/**
 * Makes the service. Nothing connects (and BullMQ is not imported) until a queue is used or a worker started.
 *
 * @example
 * ```ts
 * const queues = make({ config, executor, table: () => current, logger })
 * await queues.sync(current)
 * const executionId = await queues.enqueue(entry, { orderId: 7 })
 * ```
 */
export const make = (options: {
  readonly redis: { readonly url: string; readonly prefix: string }
  readonly queue: Config.Resolved["queue"]
  readonly executor: Executor
  readonly table: () => FlowTable
  readonly logger: Logger
  /** The dedupe window of queue triggers that set none (`idempotency.windowMs`). */
  readonly dedupeWindowMs?: number
}): QueueService => {
  const connection = connectionOf(options.redis.url)
  const prefix = `${options.redis.prefix}:bull`
  const settings = options.queue
  const queues = new Map<string, BullMQ.Queue>()
  const workers = new Map<string, BullMQ.Worker>()
  // Synchronous once the library is loaded, so two concurrent callers never create the same queue twice.
  const queueIn = ({ Queue }: typeof BullMQ, name: string) => {
    let queue = queues.get(name)
    if (queue === undefined) {
      queue = new Queue(name, { connection, prefix })
      queue.on("error", (error) => options.logger.log("error", "queue error", { queue: name, error: error.message }))
      queues.set(name, queue)
    }
    return queue
  }
  // Loaded on first use, then kept: an enqueue does not go through the import again.
  let library: typeof BullMQ | undefined
  const bullmq = async () => (library ??= await loadBullmq())
  const queueOf = async (name: string) => queues.get(name) ?? queueIn(await bullmq(), name)
  // BullMQ: `age` (seconds) is required in the object form; a count alone is the number form.
  const retention = (r: { readonly ageSeconds?: number; readonly count?: number }) =>
    r.ageSeconds === undefined
      ? (r.count ?? false)
      : { age: r.ageSeconds, ...(r.count === undefined ? {} : { count: r.count }) }
  const process = (library: typeof BullMQ, name: string) => async (job: BullMQ.Job<JobData>) => {
    const entry = options.table().queues.get(name)
    if (entry === undefined) throw new Error(`no loaded flow consumes queue "${name}"`)
    const executionId = executionIdOf(job)
    const outcome = await options.executor.execute(entry, job.data.input, {
      triggerType: "queue",
      executionId,
      trigger: {
        queue: name,
        jobId: String(job.id),
        attempt: job.attemptsStarted,
        enqueuedAt: job.data.enqueuedAt,
        ...(job.data.trigger === undefined ? {} : { request: job.data.trigger })
      },
      timeoutMs: entry.limits.timeoutMs
    })
    if (outcome._tag === "Succeeded") return { executionId, output: outcome.result.output }
    if (outcome._tag === "Failed") {
      const error = outcome.error
      const retryable = error._tag === "NodeFailed" ? error.error.retryable : error._tag === "FlowTimeout"
      const message = `${error._tag}: ${error.message} (execution ${executionId})`
      throw retryable ? new Error(message) : new library.UnrecoverableError(message)
    }
    if (outcome._tag === "Interrupted") throw new Error(`execution ${executionId} was interrupted (shutdown)`)
    throw new Error(
      outcome._tag === "TimedOut"
        ? `execution ${executionId} ran past ${outcome.timeoutMs} ms`
        : `execution ${executionId} failed unexpectedly`
    )
  }
  return {
    enqueue: async (entry, input, trigger, executionId = randomUUID()) => {
      if (entry.queue === undefined) throw new Error(`flow "${entry.id}" has no queue`)
      const declared = entry.ir.trigger
      const dedupe = declared.type === "queue" ? declared.dedupe : undefined
      let deduplication: { readonly id: string; readonly ttl: number } | undefined
      if (dedupe !== undefined) {
        const found = dedupeOf(entry.id, dedupe.key, input)
        if (found._tag === "Missing") throw found.error
        deduplication = { id: found.id, ttl: dedupe.windowMs ?? options.dedupeWindowMs ?? 24 * 3600 * 1000 }
      }
      const data: JobData = {
        flowId: entry.id,
        input,
        ...(trigger === undefined ? {} : { trigger }),
        enqueuedAt: Date.now()
      }
      const job = await (await queueOf(entry.queue)).add(entry.id, data, {
        jobId: executionId,
        attempts: settings.attempts,
        backoff: { type: "exponential", delay: settings.backoffMs },
        removeOnComplete: retention(settings.keepCompleted),
        removeOnFail: retention(settings.keepFailed),
        ...(deduplication === undefined ? {} : { deduplication })
      })
      // Deduplicated: BullMQ answers the id of the job that holds the key.
      return job.id === undefined ? executionId : String(job.id)
    },
    sync: async (table) => {
      const wanted = new Set(table.queues.keys())
      for (const [name, worker] of workers) {
        if (!wanted.has(name)) {
          workers.delete(name)
          await worker.close()
        }
      }
      const starting = [...wanted].filter((name) => !workers.has(name))
      if (starting.length === 0) return
      const loaded = await bullmq()
      for (const name of starting) {
        if (workers.has(name)) continue
        const worker = new loaded.Worker<JobData>(name, process(loaded, name), {
          connection,
          prefix,
          concurrency: settings.concurrency,
          lockDuration: settings.lockDurationMs,
          stalledInterval: Math.max(500, Math.floor(settings.lockDurationMs / 2)),
          maxStalledCount: 2
        })
        worker.on("error", (error) =>
          options.logger.log("error", "queue worker error", { queue: name, error: error.message })
        )
        worker.on("failed", (job, error) => {
          if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
            options.logger.log("warn", "job failed for good (dead-letter)", {
              queue: name,
              jobId: job.id,
              attempts: job.attemptsMade,
              error: error.message
            })
          }
        })
        workers.set(name, worker)
        queueIn(loaded, name)
      }
    },
    counts: async () => {
      const all: Record<string, Counts> = {}
      for (const [name, queue] of queues) {
        all[name] = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed")
      }
      return all
    },
    dead: async (name, limit = 50) => {
      const jobs = await (await queueOf(name)).getFailed(0, limit - 1)
      return jobs.map((job) => {
        const data = job.data as Partial<JobData>
        return {
          jobId: String(job.id),
          flowId: data.flowId,
          attemptsMade: job.attemptsMade,
          failedReason: job.failedReason,
          finishedOn: job.finishedOn,
          input: data.input
        }
      })
    },
    retry: async (name, jobId) => {
      const job = await (await queueOf(name)).getJob(jobId)
      if (job === undefined || job === null) return false
      if (!(await job.isFailed())) return false
      await job.retry("failed")
      return true
    },
    closeWorkers: async () => {
      await Promise.all([...workers.values()].map((w) => w.close()))
      workers.clear()
    },
    close: async () => {
      await Promise.all([...workers.values()].map((w) => w.close()))
      workers.clear()
      await Promise.all([...queues.values()].map((q) => q.close()))
      queues.clear()
    }
  }
}
