import { randomUUID } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { afterAll, beforeAll, expect, it } from "vitest"
import { connectionOf } from "../src/triggers/queue.ts"
import { describeWith, dropRedisKeys, httpFlow, post, redisUrl, type Served, serve, tempDir } from "./support.ts"

interface Event {
  readonly _tag: string
  readonly executionId: string
  readonly status?: string
  readonly flowId: string
  readonly at: number
}
const events = (file: string, tag: string): Array<Event> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Event)
        .filter((e) => e._tag === tag)
    : []
const finished = (file: string) => events(file, "ExecutionFinished")
const started = (file: string) => events(file, "ExecutionStarted")

const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const BACKOFF_MS = 300

describeWith(["redis"], "queue trigger: replicas sharing one BullMQ queue", () => {
  const prefix = `jsonflow-test-${randomUUID().slice(0, 8)}`
  const token = "queue-test-admin-token-0123"
  const longQueue = `long-${prefix}`
  const files = tempDir({
    "work.flow.json": httpFlow("work", "POST", "/work", [
      { type: "delay", config: { ms: 50 } },
      { type: "map", config: { fields: { n: "n" } } }
    ]),
    "long.flow.json": {
      dsl: 1,
      id: "long",
      version: "1",
      trigger: { type: "queue", queue: longQueue },
      nodes: { wait: { type: "delay", config: { ms: 4_000 } } },
      edges: [{ from: { node: "$input", port: "out" }, to: { node: "wait", port: "in" } }]
    },
    "fails.flow.json": {
      dsl: 1,
      id: "fails",
      version: "1",
      trigger: { type: "queue", queue: `fails-${prefix}` },
      nodes: { no: { type: "fail", config: { code: "REJECTED", message: "never works", retryable: false } } },
      edges: [{ from: { node: "$input", port: "out" }, to: { node: "no", port: "in" } }]
    },
    "flaky.flow.json": httpFlow("flaky", "POST", "/flaky", [
      { type: "fail", config: { code: "UPSTREAM_DOWN", message: "try again later", retryable: true } }
    ]),
    "runner.json": { limits: { flows: { work: { enqueue: true }, flaky: { enqueue: true } } } }
  })
  const processes: Array<Served> = []
  const redis = new Redis(redisUrl, { lazyConnect: true })
  const envFor = (name: string) => ({
    JSONFLOW_REDIS_URL: redisUrl,
    JSONFLOW_REDIS_PREFIX: prefix,
    JSONFLOW_QUEUE_LOCK_DURATION_MS: "1500",
    JSONFLOW_QUEUE_CONCURRENCY: "4",
    // Small, so the retry test sees three attempts within a second or two.
    JSONFLOW_QUEUE_BACKOFF_MS: String(BACKOFF_MS),
    JSONFLOW_AUDIT_SINK: "jsonl",
    JSONFLOW_AUDIT_PATH: join(files.dir, `audit-${name}.jsonl`),
    JSONFLOW_ADMIN_TOKEN: token,
    JSONFLOW_FLOWS_WATCH: "false"
  })
  const start = async (name: string) => {
    const served = await serve(
      ["serve", files.dir, "--port", "0", "--host", "127.0.0.1", "--config", join(files.dir, "runner.json")],
      envFor(name)
    )
    processes.push(served)
    return served
  }
  const stopAll = async () => {
    for (const p of processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill("SIGTERM")
        await p.exited
      }
    }
  }

  beforeAll(async () => {
    await redis.connect()
  })
  afterAll(async () => {
    await stopAll()
    await dropRedisKeys(redis, prefix)
    files.cleanup()
  })

  it("N jobs enqueued over HTTP (202) run exactly once across two runner processes", async () => {
    const [a, b] = await Promise.all([start("a"), start("b")])
    const n = 24
    const ids: Array<string> = []
    for (let i = 0; i < n; i++) {
      const r = await post(`${i % 2 === 0 ? a.url : b.url}/work`, { n: i })
      expect(r.status).toBe(202)
      const body = r.body as { executionId: string; status: string }
      expect(body.status).toBe("queued")
      ids.push(body.executionId)
    }
    const auditA = join(files.dir, "audit-a.jsonl")
    const auditB = join(files.dir, "audit-b.jsonl")
    // The audit is written off the request path, in batches: wait until every execution is there.
    await waitFor("every execution in the audit", () => {
      const seen = new Set([...finished(auditA), ...finished(auditB)].map((e) => e.executionId))
      return ids.every((id) => seen.has(id))
    })
    await stopAll() // flushes both audits
    const all = [...finished(auditA), ...finished(auditB)].filter((e) => e.flowId === "work")
    expect(all).toHaveLength(n)
    expect(new Set(all.map((e) => e.executionId))).toEqual(new Set(ids))
    expect(all.every((e) => e.status === "succeeded")).toBe(true)
    // Both replicas took part.
    expect(finished(auditA).length).toBeGreaterThan(0)
    expect(finished(auditB).length).toBeGreaterThan(0)
  })

  it("two replicas run; the one holding a job is killed: the other completes it", async () => {
    const replicas = await Promise.all([start("k1"), start("k2")])
    const audits = ["k1", "k2"].map((name) => join(files.dir, `audit-${name}.jsonl`))
    const queue = new Queue(longQueue, { connection: connectionOf(redisUrl), prefix: `${prefix}:bull` })
    try {
      const jobId = `job-${randomUUID()}`
      await queue.add("long", { flowId: "long", input: { x: 1 }, enqueuedAt: Date.now() }, { jobId, attempts: 3 })
      // The replica that took the job has recorded the start of its first attempt (execution id = job id).
      let holder = -1
      await waitFor("the job to start on a replica", () => {
        holder = audits.findIndex((file) => started(file).some((e) => e.executionId === jobId))
        return holder >= 0
      })
      const other = 1 - holder
      replicas[holder]!.child.kill("SIGKILL")
      await replicas[holder]!.exited
      // The other replica, running all along, sees the lock expire and runs the job again.
      await waitFor(
        "the job to complete on the other replica",
        async () => (await (await queue.getJob(jobId))?.isCompleted()) === true,
        25_000
      )
      expect((await queue.getJob(jobId))?.returnvalue).toMatchObject({ executionId: `${jobId}.2` })
      await stopAll()
      expect(
        finished(audits[other]!)
          .filter((e) => e.flowId === "long")
          .map((e) => [e.executionId, e.status])
      ).toEqual([[`${jobId}.2`, "succeeded"]])
      // The killed replica started the first attempt and never finished it.
      expect(finished(audits[holder]!).some((e) => e.flowId === "long")).toBe(false)
    } finally {
      await queue.close()
    }
  }, 60_000)

  it("a retryable failure is attempted 3 times with exponential backoff, then shown as dead", async () => {
    const runner = await start("retry")
    const auth = { authorization: `Bearer ${token}` }
    const r = await post(`${runner.url}/flaky`, {})
    expect(r.status).toBe(202)
    const jobId = (r.body as { executionId: string }).executionId
    const queueName = "flow.flaky"
    const dead = async () =>
      (await (await fetch(`${runner.url}/admin/queues/${queueName}/dead`, { headers: auth })).json()) as Array<{
        jobId: string
        attemptsMade: number
        failedReason: string
      }>
    await waitFor("the job to fail for good", async () => (await dead()).some((j) => j.jobId === jobId))
    const entry = (await dead()).find((j) => j.jobId === jobId)
    expect(entry).toMatchObject({ attemptsMade: 3 })
    expect(entry!.failedReason).toContain("try again later")
    await stopAll()
    const runs = started(join(files.dir, "audit-retry.jsonl")).filter((e) => e.flowId === "flaky")
    expect(runs.map((e) => e.executionId)).toEqual([jobId, `${jobId}.2`, `${jobId}.3`])
    // BullMQ never runs a retry before its delay: base, then twice the base.
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(BACKOFF_MS)
    expect(runs[2]!.at - runs[1]!.at).toBeGreaterThanOrEqual(2 * BACKOFF_MS)
  }, 30_000)

  it("a non-retryable failure fails at the first attempt; the dead-letter view retries it", async () => {
    const runner = await start("dead")
    const failing = new Queue(`fails-${prefix}`, { connection: connectionOf(redisUrl), prefix: `${prefix}:bull` })
    const auth = { authorization: `Bearer ${token}` }
    try {
      await failing.add(
        "fails",
        { flowId: "fails", input: {}, enqueuedAt: Date.now() },
        { jobId: "dead-1", attempts: 3 }
      )
      await waitFor("the job to fail", async () => (await failing.getFailedCount()) === 1)
      const dead = (await (
        await fetch(`${runner.url}/admin/queues/fails-${prefix}/dead`, { headers: auth })
      ).json()) as Array<{ jobId: string; attemptsMade: number; failedReason: string }>
      expect(dead).toHaveLength(1)
      // Not retryable: failed at the first attempt instead of using all three.
      expect(dead[0]).toMatchObject({ jobId: "dead-1", attemptsMade: 1 })
      expect(dead[0]!.failedReason).toContain("never works")
      const retry = await fetch(`${runner.url}/admin/queues/fails-${prefix}/dead/dead-1/retry`, {
        method: "POST",
        headers: auth
      })
      expect(retry.status).toBe(202)
      await waitFor(
        "the retried job to fail again",
        async () => (await (await failing.getJob("dead-1"))?.attemptsMade) === 2
      )
    } finally {
      await failing.close()
    }
    await stopAll()
    expect(finished(join(files.dir, "audit-dead.jsonl")).filter((e) => e.flowId === "fails").length).toBe(2)
  }, 30_000)
})
