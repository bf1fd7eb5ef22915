/**
 * The audit worker crashes mid-batch (killed with SIGKILL: once after writing a batch but before
 * acknowledging it, once right after reading one); a second worker takes over the pending entries and
 * finishes. Nothing is lost and nothing is duplicated in the tables.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Audit, RedisBus } from "@jsonflow/audit"
import { Flow } from "@jsonflow/core"
import { ManagedRuntime, Schema } from "effect"
import { Redis } from "ioredis"
import { afterAll, describe, expect, it } from "vitest"
import { step } from "./flows.ts"
import { freshSchema, missingServices, PG_URL, pgQuery, REDIS_URL, titled } from "./services.ts"

const missing = missingServices("postgres", "redis")
const fixture = fileURLToPath(new URL("./fixtures/worker.ts", import.meta.url))
const cli = fileURLToPath(new URL("../../runner/bin/jsonflow.js", import.meta.url))

const chain = Flow.make({ id: "chain", input: Schema.Struct({ n: Schema.Number }) })
  .andThen("a", step, {})
  .andThen("b", step, {})
  .andThen("c", step, {})
  .build()

interface Spawned {
  readonly child: ChildProcess
  readonly output: () => string
  readonly waitFor: (text: string, timeoutMs?: number) => Promise<void>
  readonly exited: Promise<number | null>
}

describe.skipIf(missing !== undefined)(titled("audit worker crash", missing), () => {
  const { schema, drop } = freshSchema()
  const stream = `jsonflow:audit:test:${schema}`
  const dir = mkdtempSync(join(tmpdir(), "audit-worker-"))
  const children: Array<ChildProcess> = []

  // The crashing workers run a fixture with a stall hook; the survivor is the real `jsonflow audit-worker`.
  const worker = (consumer: string, stall: "none" | "ack" | "read"): Spawned => {
    const args =
      stall === "none"
        ? [
            cli,
            "audit-worker",
            "--audit",
            `${PG_URL}?schema=${schema}`,
            "--redis",
            REDIS_URL,
            "--stream",
            stream,
            "--consumer",
            consumer,
            "--count",
            "2",
            "--claim-idle-ms",
            "500"
          ]
        : [fixture]
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        PG_URL,
        REDIS_URL,
        SCHEMA: schema,
        STREAM: stream,
        CONSUMER: consumer,
        STALL: stall,
        CLAIM_IDLE_MS: "500"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    return {
      child,
      output: () => out,
      exited,
      waitFor: async (text, timeoutMs = 20_000) => {
        const started = Date.now()
        while (!out.includes(text)) {
          if (Date.now() - started > timeoutMs) throw new Error(`worker ${consumer} never printed ${text}: ${out}`)
          if (child.exitCode !== null) throw new Error(`worker ${consumer} exited: ${out}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    }
  }

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await drop()
    const redis = new Redis(REDIS_URL)
    await redis.del(stream, `${stream}:dead`)
    await redis.quit()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a second worker takes over a killed worker's batch; every event is stored once", async () => {
    // The runner side: 300 executions onto the bus, in several stream entries.
    const runtime = ManagedRuntime.make(
      Audit.layer({
        sinks: [RedisBus.sink({ url: REDIS_URL, stream, chunk: 100 })],
        buffer: { journalDir: join(dir, "journal"), lingerMs: 2, batchSize: 200 }
      })
    )
    const compiled = await runtime.runPromise(Flow.compile(chain))
    const ids: Array<string> = []
    for (let i = 0; i < 300; i++) {
      ids.push((await runtime.runPromise(compiled.run({ n: i }))).executionId)
      if (i % 50 === 0) await new Promise((r) => setImmediate(r))
    }
    await runtime.runPromise(Audit.Audit.use((a) => a.flush))
    await runtime.dispose()
    const redis = new Redis(REDIS_URL)
    expect(await redis.xlen(stream)).toBeGreaterThanOrEqual(12)

    // Killed after its first batch is committed, before the acknowledgement.
    const first = worker("crash-after-write", "ack")
    await first.waitFor("WROTE")
    first.child.kill("SIGKILL")
    await first.exited
    // Killed right after reading its first batch.
    const second = worker("crash-after-read", "read")
    await second.waitFor("READ")
    second.child.kill("SIGKILL")
    await second.exited
    const pending = (await redis.xpending(stream, "jsonflow-audit")) as [number, ...Array<unknown>]
    expect(pending[0]).toBeGreaterThan(0)

    // The survivor takes over both dead workers' entries and drains the stream.
    const survivor = worker("survivor", "none")
    const expected = ids.flatMap((id) => Array.from({ length: 8 }, (_, seq) => `${id}:${seq}`))
    const started = Date.now()
    let stored: Array<string> = []
    while (Date.now() - started < 30_000) {
      const rows = await pgQuery(`select execution_id || ':' || seq as id from "${schema}".audit_events`)
      stored = rows.map((r) => String(r.id))
      const left = (await redis.xpending(stream, "jsonflow-audit")) as [number, ...Array<unknown>]
      if (stored.length >= expected.length && left[0] === 0 && (await redis.xlen(stream)) === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    survivor.child.kill("SIGTERM")
    expect(await survivor.exited).toBe(0)
    await redis.quit()

    expect(survivor.output()).toContain("(taken over)")
    expect(stored.length).toBe(expected.length)
    expect(new Set(stored)).toEqual(new Set(expected))
    const done = await pgQuery(`select count(*)::int as n from "${schema}".audit_executions where status = 'succeeded'`)
    expect(done[0]!.n).toBe(300)
  }, 90_000)
})
