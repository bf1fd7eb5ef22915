/**
 * The PostgreSQL sink goes away (a proxy in front of the shared server is cut) while flows run: executions
 * keep their latency (the buffer spills to the journal), and when the database is back every event arrives
 * exactly once.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Postgres } from "@jsonflow/audit"
import { Flow } from "@jsonflow/core"
import { Effect, ManagedRuntime, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { step } from "./flows.ts"
import { freshSchema, missingServices, PG_URL, pgQuery, titled } from "./services.ts"
import * as TcpProxy from "./tcpProxy.ts"

const missing = missingServices("postgres")

const chain = Flow.make({ id: "chain", input: Schema.Struct({ n: Schema.Number }) })
  .andThen("a", step, {})
  .andThen("b", step, {})
  .andThen("c", step, {})
  .build()
// ExecutionStarted, two events per node, ExecutionFinished.
const EVENTS_PER_EXECUTION = 8

const quantile = (values: ReadonlyArray<number>, q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

describe.skipIf(missing !== undefined)(titled("PostgreSQL outage", missing), () => {
  const { schema, drop } = freshSchema()
  const dir = mkdtempSync(join(tmpdir(), "audit-outage-"))
  afterAll(async () => {
    await drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it("keeps executions fast while the database is down, then delivers every event exactly once", async () => {
    const target = new URL(PG_URL)
    const proxy = await TcpProxy.start(Number(target.port || 5432))
    const url = `postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}`
    const runtime = ManagedRuntime.make(
      Audit.layer({
        sinks: [Postgres.sink({ url, schema, connectTimeout: 1, batchSize: 200 })],
        buffer: {
          capacity: 400,
          lingerMs: 5,
          journalDir: join(dir, "journal"),
          retry: { initialMs: 20, maxMs: 200 },
          writeTimeoutMs: 300
        }
      })
    )
    try {
      const compiled = await runtime.runPromise(Flow.compile(chain))
      const ids: Array<string> = []
      const timed = async (count: number, minMs = 0, pace: "immediate" | "timer" = "immediate") => {
        const latencies: Array<number> = []
        const begin = performance.now()
        for (let i = 0; i < count || performance.now() - begin < minMs; i++) {
          const started = performance.now()
          const result = await runtime.runPromise(compiled.run({ n: i }))
          latencies.push(performance.now() - started)
          ids.push(result.executionId)
          // Like requests arriving on a server: each in its own turn of the event loop.
          await new Promise((resolve) => (pace === "timer" ? setTimeout(resolve, 0) : setImmediate(resolve)))
        }
        return latencies
      }
      const audit = await runtime.runPromise(Effect.service(Audit.Audit))
      await timed(300) // warm-up
      const before = await timed(1_000)
      await runtime.runPromise(audit.flush)

      await proxy.cut()
      const during = await timed(1_000, 1_200, "timer")
      const down = audit.counters()[0]!
      expect(down.sinkDown).toBe(true)
      expect(down.spilled).toBeGreaterThan(0)
      expect(down.buffered).toBeLessThanOrEqual(400)
      expect(down.dropped).toBe(0)

      // Executions do not wait for the database: the same latency, within noise, and no stalls.
      const p50 = [quantile(before, 0.5), quantile(during, 0.5)]
      const p99 = [quantile(before, 0.99), quantile(during, 0.99)]
      console.log(
        `latency p50 ${p50.map((v) => v.toFixed(3)).join(" -> ")} ms, p99 ${p99.map((v) => v.toFixed(3)).join(" -> ")} ms`
      )
      // Generous bounds (CI shares two cores with other suites): a sink on the path would cost seconds here,
      // the connect timeout and the write timeout, on every execution.
      expect(p50[1]!).toBeLessThan(p50[0]! * 3 + 1)
      expect(p99[1]!).toBeLessThan(p99[0]! * 3 + 20)
      expect(Math.max(...during)).toBeLessThan(1_000)

      await proxy.restore()
      const restored = performance.now()
      await runtime.runPromise(audit.flush.pipe(Effect.timeout("30 seconds")))
      console.log(
        `caught up ${(performance.now() - restored).toFixed(0)} ms after the database returned`,
        audit.counters()[0]
      )
      const after = audit.counters()[0]!
      expect(after.dropped).toBe(0)
      expect(after.replayed).toBe(after.spilled)

      const rows = await pgQuery(`select execution_id || ':' || seq as id from "${schema}".audit_events`)
      const stored = rows.map((r) => String(r.id))
      const expected = ids.flatMap((id) => Array.from({ length: EVENTS_PER_EXECUTION }, (_, seq) => `${id}:${seq}`))
      expect(stored.length).toBe(expected.length)
      expect(new Set(stored)).toEqual(new Set(expected))
      const executions = await pgQuery(
        `select count(*)::int as n from "${schema}".audit_executions where status = 'succeeded'`
      )
      expect(executions[0]!.n).toBe(ids.length)
      const left = readdirSync(join(dir, "journal"), { recursive: true }).filter((f) => String(f).endsWith(".jsonl"))
      expect(left).toEqual([])
    } finally {
      await runtime.dispose()
      await proxy.close()
    }
  }, 90_000)
})
