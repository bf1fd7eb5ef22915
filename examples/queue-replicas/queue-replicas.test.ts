import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { connect } from "node:net"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import postgres from "postgres"
import { describe, expect, it } from "vitest"
import { auditedExecutions, cleanup, type Deployment, type Replica, startReplica } from "./replicas.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const redisUrl = process.env.JSONFLOW_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const databaseUrl = process.env.JSONFLOW_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const isCI = process.env.CI === "true" || process.env.CI === "1"

const probe = (url: string, defaultPort: number) =>
  new Promise<string>((resolve) => {
    const parsed = new URL(url)
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port || defaultPort) })
    const done = (reason: string) => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(1_000, () => done(`${parsed.host} did not answer`))
    socket.once("connect", () => done(""))
    socket.once("error", (e: NodeJS.ErrnoException) => done(`${parsed.host} is unreachable (${e.code ?? e.message})`))
  })
const problems = (await Promise.all([probe(redisUrl, 6379), probe(databaseUrl, 5432)]))
  .map((p, i) => (p === "" ? "" : `${i === 0 ? "Redis" : "PostgreSQL"}: ${p}`))
  .filter((p) => p !== "")
  .join("; ")

/** `describe` when Redis and PostgreSQL answer; otherwise a visible skip, or under CI a failing test. */
const suite = (name: string, body: () => void) => {
  if (problems === "") return describe(name, body)
  if (isCI) return describe(name, () => it(`needs ${problems}`, () => expect.fail(`CI=true and ${problems}`)))
  return describe.skip(`${name} (skipped: ${problems})`, body)
}

const waitFor = async (what: string, check: () => Promise<boolean>) => {
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (await check()) return
  }
  throw new Error(`timed out waiting for ${what}`)
}

const leftovers = async (redis: Redis, deployment: Pick<Deployment, "redisPrefix" | "auditSchema">) => {
  const [, keys] = await redis.scan("0", "MATCH", `${deployment.redisPrefix}:*`, "COUNT", 10_000)
  const sql = postgres(databaseUrl, { max: 1 })
  try {
    const schemas =
      await sql`select 1 from information_schema.schemata where schema_name like ${deployment.auditSchema}`
    return { keys: keys.length, schemas: schemas.length }
  } finally {
    await sql.end()
  }
}

suite("queue replicas example", () => {
  it("main.ts: two replicas share the jobs, each job runs once, and the run cleans up after itself", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, [main], {
      cwd: root,
      env: { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
      timeout: 25_000
    })
    const lines = stdout.trim().split("\n")
    expect(lines).toHaveLength(4)
    expect(lines[0]).toBe("2 replicas consume queue invoices-<run>")
    expect(lines[1]).toBe("enqueued 24 jobs")
    const split = /^completed: replica a ran (\d+), replica b ran (\d+)$/.exec(lines[2] ?? "")
    expect(split, lines[2]).not.toBeNull()
    const [a, b] = [Number(split![1]), Number(split![2])]
    expect(a + b).toBe(24)
    expect(a).toBeGreaterThan(0)
    expect(b).toBeGreaterThan(0)
    expect(lines[3]).toBe("audit: 24 executions, 24 succeeded, one per job: yes")
    const redis = new Redis(redisUrl)
    try {
      expect(await leftovers(redis, { redisPrefix: "queue-example-*", auditSchema: "queue\\_example\\_%" })).toEqual({
        keys: 0,
        schemas: 0
      })
    } finally {
      await redis.quit()
    }
  })

  it("jobs enqueued before any replica runs wait on the queue; each runs once, a bad one fails once", async () => {
    const run = randomUUID().slice(0, 8)
    const deployment: Deployment = {
      flows: fileURLToPath(new URL("./flows", import.meta.url)),
      redisUrl,
      redisPrefix: `queue-example-test-${run}`,
      queue: `invoices-test-${run}`,
      databaseUrl,
      auditSchema: `queue_example_test_${run}`
    }
    const redis = new Redis(redisUrl)
    const queue = new Queue(deployment.queue, {
      connection: { url: redisUrl },
      prefix: `${deployment.redisPrefix}:bull`
    })
    const replicas: Array<Replica> = []
    try {
      const good = Array.from({ length: 30 }, (_, i) => ({
        invoiceId: `t-${i}`,
        customer: `c-${i % 3}`,
        amountCents: 500 + i
      }))
      await queue.addBulk([
        ...good.map((input) => ({
          name: "send-invoice",
          data: { flowId: "send-invoice", input },
          opts: { jobId: input.invoiceId, attempts: 3 }
        })),
        {
          name: "send-invoice",
          data: { flowId: "send-invoice", input: { invoiceId: "t-bad", customer: "c-0", amountCents: 0 } },
          opts: { jobId: "t-bad", attempts: 3 }
        }
      ])
      // Adding a job id again is a no-op: a producer may retry its enqueue safely.
      await queue.add("send-invoice", { flowId: "send-invoice", input: good[0] }, { jobId: good[0]!.invoiceId })
      expect(await queue.getWaitingCount()).toBe(31)

      replicas.push(...(await Promise.all([startReplica("a", deployment), startReplica("b", deployment)])))
      await waitFor(
        "the jobs",
        async () => (await queue.getCompletedCount()) === 30 && (await queue.getFailedCount()) === 1
      )
      const counts = await Promise.all(replicas.map((r) => r.succeeded("send-invoice")))
      expect(counts[0]! + counts[1]!).toBe(30)

      // Each good job's result is its own input's invoice.
      for (const input of good) {
        const job = await queue.getJob(input.invoiceId)
        expect(job?.returnvalue).toEqual({
          executionId: input.invoiceId,
          output: { invoiceId: input.invoiceId, customer: input.customer, status: "sent" }
        })
      }
      // Bad input cannot be fixed by a retry: the job failed at its first attempt.
      const bad = await queue.getJob("t-bad")
      expect(bad?.attemptsMade).toBe(1)
      expect(bad?.failedReason).toContain("InputInvalid")

      await waitFor("the audit", async () => (await auditedExecutions(deployment, "send-invoice")).length >= 30)
      for (const replica of replicas.splice(0)) expect(await replica.stop()).toBe(0)
      // The audit: one execution per job, named by the job id, none twice (a second run would be `<id>.2`).
      const executions = await auditedExecutions(deployment, "send-invoice")
      const ids = executions.map((e) => e.executionId)
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids.filter((id) => id !== "t-bad").sort()).toEqual(good.map((g) => g.invoiceId).sort())
      expect(executions.filter((e) => e.executionId !== "t-bad").every((e) => e.status === "succeeded")).toBe(true)
      expect(executions.every((e) => e.trigger === "queue")).toBe(true)
    } finally {
      await Promise.all(replicas.map((r) => r.stop()))
      await queue.close()
      await cleanup(deployment, redis)
      expect(await leftovers(redis, deployment)).toEqual({ keys: 0, schemas: 0 })
      await redis.quit()
    }
  })
})
