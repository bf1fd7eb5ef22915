// Two runner replicas consume one BullMQ queue; 24 jobs are enqueued with the BullMQ API; the PostgreSQL
// audit shows every job ran exactly once. Each run uses its own queue, Redis key prefix and audit schema,
// and removes them at the end. Run: node examples/queue-replicas/main.ts
// Services: REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { auditedExecutions, cleanup, type Deployment, type Replica, startReplica } from "./replicas.ts"

const JOBS = 24
const run = randomUUID().slice(0, 8)
const deployment: Deployment = {
  flows: fileURLToPath(new URL("./flows", import.meta.url)),
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  redisPrefix: `queue-example-${run}`,
  queue: `invoices-${run}`,
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  auditSchema: `queue_example_${run}`
}
const waitFor = async (what: string, check: () => Promise<boolean>) => {
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (await check()) return
  }
  throw new Error(`timed out waiting for ${what}`)
}

const redis = new Redis(deployment.redisUrl, { maxRetriesPerRequest: 1 })
// The runner's BullMQ queues live under `<redis.prefix>:bull`; a producer only needs the same three settings.
const queue = new Queue(deployment.queue, {
  connection: { url: deployment.redisUrl },
  prefix: `${deployment.redisPrefix}:bull`
})
const replicas: Array<Replica> = []
try {
  replicas.push(...(await Promise.all([startReplica("a", deployment), startReplica("b", deployment)])))
  console.log(`2 replicas consume queue invoices-<run>`)

  // A job is { flowId, input }; the job id becomes the execution id (and adding an id twice is a no-op).
  const ids = Array.from({ length: JOBS }, (_, i) => `inv-${String(i + 1).padStart(3, "0")}`)
  await queue.addBulk(
    ids.map((invoiceId, i) => ({
      name: "send-invoice",
      data: { flowId: "send-invoice", input: { invoiceId, customer: `customer-${i % 5}`, amountCents: 1000 + i } },
      opts: { jobId: invoiceId, attempts: 3, backoff: { type: "exponential", delay: 1_000 } }
    }))
  )
  console.log(`enqueued ${JOBS} jobs`)
  await waitFor("the jobs to complete", async () => (await queue.getCompletedCount()) === JOBS)
  const [a, b] = await Promise.all(replicas.map((r) => r.succeeded("send-invoice")))
  console.log(`completed: replica a ran ${a}, replica b ran ${b}`)

  // Audit events are written off the request path, in batches: wait for the last ones, then read.
  await waitFor("the audit", async () => (await auditedExecutions(deployment, "send-invoice")).length >= JOBS)
  for (const replica of replicas.splice(0)) await replica.stop() // graceful: flushes its audit
  const executions = await auditedExecutions(deployment, "send-invoice")
  const once = new Set(executions.map((e) => e.executionId))
  const exact = executions.length === JOBS && ids.every((id) => once.has(id))
  console.log(
    `audit: ${executions.length} executions, ${executions.filter((e) => e.status === "succeeded").length} succeeded, ` +
      `one per job: ${exact ? "yes" : "NO"}`
  )
} finally {
  await Promise.all(replicas.map((r) => r.stop()))
  await queue.close()
  await cleanup(deployment, redis)
  await redis.quit()
}
