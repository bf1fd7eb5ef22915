/**
 * Idempotent triggers end to end: two `jsonflow serve` processes sharing one Redis (the key store and the
 * queues), each writing its own audit; duplicates sent to both must give one execution, counted in the
 * audit records. Plus the queue trigger's dedupe through `runner.enqueue` on two runners.
 */
import { randomUUID } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { afterAll, beforeAll, expect, it } from "vitest"
import { Runner } from "../src/index.ts"
import { connectionOf } from "../src/triggers/queue.ts"
import { describeWith, dropRedisKeys, httpFlow, post, redisUrl, type Served, serve, tempDir } from "./support.ts"

interface Event {
  readonly _tag: string
  readonly executionId: string
  readonly flowId: string
}
const startedIn = (files: ReadonlyArray<string>, flowId: string): Array<string> =>
  files.flatMap((file) =>
    existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => JSON.parse(line) as Event)
          .filter((e) => e._tag === "ExecutionStarted" && e.flowId === flowId)
          .map((e) => e.executionId)
      : []
  )

const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const replyFlow = (id: string, path: string, idempotency: Record<string, unknown>, delayMs: number) => ({
  ...httpFlow(id, "POST", path, [{ type: "delay", config: { ms: delayMs } }]),
  trigger: { type: "http", method: "POST", path, idempotency },
  nodes: {
    n0: { type: "delay", config: { ms: delayMs } },
    reply: { type: "respond", config: { status: 201, headers: { "x-flow": id } } }
  }
})

describeWith(["redis"], "idempotent triggers across two runner processes", () => {
  const prefix = `jsonflow-test-${randomUUID().slice(0, 8)}`
  const files = tempDir({
    "pay.flow.json": replyFlow("pay", "/pay", {}, 400),
    "reserve.flow.json": replyFlow(
      "reserve",
      "/reserve",
      { header: "X-Request-Id", inFlight: "reject", required: true },
      700
    ),
    "charge.flow.json": {
      ...httpFlow("charge", "POST", "/charge", [
        { type: "fail", config: { code: "UPSTREAM_DOWN", message: "try again", retryable: true } }
      ]),
      trigger: { type: "http", method: "POST", path: "/charge", idempotency: {} }
    },
    "ingest.flow.json": {
      ...httpFlow("ingest", "POST", "/ingest", [{ type: "delay", config: { ms: 50 } }]),
      trigger: { type: "http", method: "POST", path: "/ingest", idempotency: {} }
    },
    "runner.json": { limits: { flows: { ingest: { enqueue: true } } } }
  })
  const audits = ["a", "b"].map((name) => join(files.dir, `audit-${name}.jsonl`))
  const processes: Array<Served> = []
  const redis = new Redis(redisUrl, { lazyConnect: true })
  let a: Served
  let b: Served

  const stopAll = async () => {
    for (const p of processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill("SIGTERM")
        await p.exited
      }
    }
  }
  // The audit is written in batches off the request path: wait for the executions, then for a quiet spell
  // in which no further one appears.
  const executions = async (flowId: string, atLeast: number) => {
    await waitFor(
      `${atLeast} execution(s) of ${flowId} in the audit`,
      () => startedIn(audits, flowId).length >= atLeast
    )
    await new Promise((r) => setTimeout(r, 300))
    return startedIn(audits, flowId)
  }

  beforeAll(async () => {
    await redis.connect()
    const start = (name: string) =>
      serve(["serve", files.dir, "--port", "0", "--host", "127.0.0.1", "--config", join(files.dir, "runner.json")], {
        JSONFLOW_REDIS_URL: redisUrl,
        JSONFLOW_REDIS_PREFIX: prefix,
        JSONFLOW_AUDIT_SINK: "jsonl",
        JSONFLOW_AUDIT_PATH: join(files.dir, `audit-${name}.jsonl`),
        JSONFLOW_FLOWS_WATCH: "false"
      })
    ;[a, b] = await Promise.all([start("a"), start("b")])
    processes.push(a, b)
  }, 30_000)
  afterAll(async () => {
    await stopAll()
    await dropRedisKeys(redis, prefix)
    files.cleanup()
  })

  it("10 concurrent duplicates over both replicas run once; all get the first reply; repeats replay it", async () => {
    const key = randomUUID()
    const order = { sku: "book", qty: 2 }
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(`${i % 2 === 0 ? a.url : b.url}/pay`, order, { "idempotency-key": key })
      )
    )
    const ids = new Set(replies.map((r) => r.headers.get("x-execution-id")))
    expect(ids.size).toBe(1)
    for (const r of replies) {
      expect(r.status).toBe(201)
      expect(r.headers.get("x-flow")).toBe("pay")
      expect(r.body).toEqual(order)
    }
    // Exactly one ran; the nine others waited for it and got its stored reply.
    expect(replies.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(9)
    const [executionId] = [...ids]

    // After completion, on either replica: the stored reply, nothing started.
    const again = await post(`${b.url}/pay`, order, { "idempotency-key": key })
    expect(again).toMatchObject({ status: 201, body: order })
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(again.headers.get("x-execution-id")).toBe(executionId)
    // The same key with another body: 422, a typed error naming the first execution.
    const other = await post(`${a.url}/pay`, { sku: "book", qty: 3 }, { "idempotency-key": key })
    expect(other.status).toBe(422)
    expect(other.body).toMatchObject({
      error: { _tag: "IdempotencyKeyReused", flowId: "pay", header: "idempotency-key", executionId }
    })
    // Another key runs again; no key at all runs as usual.
    const fresh = await post(`${a.url}/pay`, order, { "idempotency-key": randomUUID() })
    expect(fresh.status).toBe(201)
    expect(fresh.headers.get("idempotent-replayed")).toBeNull()
    expect(fresh.headers.get("x-execution-id")).not.toBe(executionId)

    const ran = await executions("pay", 2)
    expect(ran.sort()).toEqual([executionId, fresh.headers.get("x-execution-id")].sort())
  })

  it("inFlight reject: a repeat while the first runs gets 409; after it, the replay; no key: 400", async () => {
    const key = randomUUID()
    const first = post(`${a.url}/reserve`, { seat: 7 }, { "x-request-id": key })
    await new Promise((r) => setTimeout(r, 200))
    const during = await post(`${b.url}/reserve`, { seat: 7 }, { "x-request-id": key })
    expect(during.status).toBe(409)
    expect(during.headers.get("retry-after")).toBe("1")
    expect(during.body).toMatchObject({ error: { _tag: "IdempotencyKeyInFlight", flowId: "reserve" } })
    const done = await first
    expect(done.status).toBe(201)
    const after = await post(`${b.url}/reserve`, { seat: 7 }, { "x-request-id": key })
    expect(after.status).toBe(201)
    expect(after.headers.get("idempotent-replayed")).toBe("true")
    expect(after.headers.get("x-execution-id")).toBe(done.headers.get("x-execution-id"))

    const missing = await post(`${a.url}/reserve`, { seat: 7 })
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({
      error: { _tag: "IdempotencyKeyInvalid", header: "x-request-id", problem: "missing" }
    })
    expect(await executions("reserve", 1)).toEqual([done.headers.get("x-execution-id")])
  })

  it("a 5xx is not stored: the retry with the same key runs again", async () => {
    const key = randomUUID()
    const first = await post(`${a.url}/charge`, { amount: 5 }, { "idempotency-key": key })
    expect(first.status).toBe(500)
    expect(first.body).toMatchObject({ error: { _tag: "NodeFailed" } })
    const retry = await post(`${b.url}/charge`, { amount: 5 }, { "idempotency-key": key })
    expect(retry.status).toBe(500)
    expect(retry.headers.get("idempotent-replayed")).toBeNull()
    expect(retry.headers.get("x-execution-id")).not.toBe(first.headers.get("x-execution-id"))
    expect(await executions("charge", 2)).toHaveLength(2)
  })

  it("an enqueueing route: duplicates over both replicas get 202 with the same execution id; one job runs", async () => {
    const key = randomUUID()
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        post(`${i % 2 === 0 ? a.url : b.url}/ingest`, { event: "paid" }, { "idempotency-key": key })
      )
    )
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(202))
    const ids = new Set(replies.map((r) => (r.body as { executionId: string }).executionId))
    expect(ids.size).toBe(1)
    expect(await executions("ingest", 1)).toEqual([...ids])
  })
})

describeWith(["redis"], "queue trigger dedupe", () => {
  const prefix = `jsonflow-test-${randomUUID().slice(0, 8)}`
  const queueName = `orders-${prefix}`
  const files = tempDir({
    "orders.flow.json": {
      dsl: 1,
      id: "orders",
      version: "1",
      trigger: { type: "queue", queue: queueName, dedupe: { key: "/order/id" } },
      nodes: { wait: { type: "delay", config: { ms: 50 } } },
      edges: [{ from: { node: "$input", port: "out" }, to: { node: "wait", port: "in" } }]
    }
  })
  const redis = new Redis(redisUrl, { lazyConnect: true })
  afterAll(async () => {
    await dropRedisKeys(redis, prefix)
    files.cleanup()
  })

  it("duplicate enqueues on two runners add one job and answer its execution id", async () => {
    await redis.connect()
    const runners = await Promise.all(
      [0, 1].map(() =>
        Runner.start({
          flows: [files.dir],
          log: () => {},
          env: {},
          triggers: { http: false, cron: false },
          config: { flows: { watch: false }, redis: { url: redisUrl, prefix }, audit: { sink: "none" } }
        })
      )
    )
    const queue = new Queue(queueName, { connection: connectionOf(redisUrl), prefix: `${prefix}:bull` })
    try {
      const ids = await Promise.all(
        Array.from({ length: 10 }, (_, i) => runners[i % 2]!.enqueue("orders", { order: { id: 42 }, n: i }))
      )
      expect(new Set(ids).size).toBe(1)
      // A number and its string are one key; another key is another job.
      expect(await runners[0]!.enqueue("orders", { order: { id: "42" } })).toBe(ids[0])
      const other = await runners[1]!.enqueue("orders", { order: { id: 43 } })
      expect(other).not.toBe(ids[0])
      await waitFor("both jobs to complete", async () => (await queue.getJobCounts("completed")).completed === 2)
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed")
      expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 2 })
      expect((await queue.getJob(ids[0]!))?.data).toMatchObject({ flowId: "orders", input: { order: { id: 42 } } })
      // No key: a typed error naming the pointer, and nothing is added.
      await expect(runners[0]!.enqueue("orders", { order: {} })).rejects.toMatchObject({
        _tag: "DedupeKeyMissing",
        flowId: "orders",
        pointer: "/order/id",
        problem: "absent"
      })
      expect((await queue.getJobCounts("waiting", "completed")).completed).toBe(2)
    } finally {
      await queue.close()
      await Promise.all(runners.map((r) => r.stop()))
    }
  }, 20_000)
})
