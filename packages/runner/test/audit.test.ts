import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Config as AuditConfig, Postgres, Query, Redaction } from "@jsonflow/audit"
import { Runner, RunnerError } from "@jsonflow/runner"
import * as RunnerAudit from "@jsonflow/runner/audit"
import { Effect } from "effect"
import { Redis } from "ioredis"
import postgres from "postgres"
import { describe, expect, it } from "vitest"
import { bin, describeWith, httpFlow, post, postgresUrl, redisUrl, repoRoot, tempDir } from "./support.ts"

const hello = () =>
  httpFlow("hello", "POST", "/hello", [{ type: "map", config: { fields: { greeting: { value: "hi" }, n: "n" } } }])

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describeWith(
  ["redis", "postgres"],
  "audit.sink redis: the runner appends, `jsonflow audit-worker` writes PostgreSQL",
  () => {
    it("every execution reaches the PostgreSQL store named by the runner's config, through the real worker", async () => {
      const id = randomUUID().replace(/-/g, "").slice(0, 10)
      const schema = `jf_audit_${id}`
      const stream = `jsonflow-test:${id}:audit`
      const files = tempDir({ "hello.flow.json": hello() })
      const redis = new Redis(redisUrl)
      const sql = postgres(postgresUrl, { onnotice: () => {} })
      let worker: ReturnType<typeof spawn> | undefined
      try {
        const runner = await Runner.start({
          flows: [files.dir],
          log: () => {},
          env: {},
          config: {
            server: { port: 0, host: "127.0.0.1" },
            flows: { watch: false },
            audit: { sink: "redis", redis: redisUrl, stream, url: `${postgresUrl}?schema=${schema}` }
          }
        })
        const config = runner.config
        const ids: Array<string> = []
        try {
          for (let n = 0; n < 3; n++) {
            const r = await post(`${runner.url}/hello`, { n })
            expect(r).toMatchObject({ status: 200, body: { greeting: "hi", n } })
            ids.push(r.headers.get("x-execution-id")!)
          }
        } finally {
          await runner.stop() // flushes into the stream
        }
        expect(await redis.xlen(stream)).toBeGreaterThan(0)
        // What the CLI reads from the same configuration: the bus and the store.
        const bus = RunnerAudit.bus(config)!
        const target = RunnerAudit.storeTarget(config, { env: {} })
        expect(bus).toEqual({ url: redisUrl, stream })
        expect(target).toMatchObject({ _tag: "Postgres", schema })

        let stderr = ""
        worker = spawn(
          process.execPath,
          [
            bin,
            "audit-worker",
            "--redis",
            bus.url,
            "--stream",
            bus.stream,
            "--audit",
            `${postgresUrl}?schema=${schema}`
          ],
          { cwd: repoRoot, env: { ...process.env, JSONFLOW_AUDIT: "" } }
        )
        worker.stderr!.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        const exited = new Promise<number | null>((resolve) => worker!.once("exit", resolve))
        const store = AuditConfig.storeLayer(target!)
        const listed = () =>
          Effect.runPromise(Query.executions({ flowId: "hello" }).pipe(Effect.provide(store))).catch(() => [])
        await waitFor(
          `the worker to write the 3 executions (worker said: ${stderr})`,
          async () => (await listed()).length === 3
        )
        expect(new Set((await listed()).map((e) => e.executionId))).toEqual(new Set(ids))
        expect((await listed()).every((e) => e.status === "succeeded")).toBe(true)
        worker.kill("SIGTERM")
        expect(await exited).toBe(0)
        // Acknowledged entries are deleted from the stream.
        await waitFor("the stream to be emptied", async () => (await redis.xlen(stream)) === 0)
      } finally {
        worker?.kill("SIGKILL")
        await redis.del(stream).catch(() => 0)
        redis.disconnect()
        await sql.unsafe(`drop schema if exists ${schema} cascade`)
        await sql.end()
        files.cleanup()
      }
    }, 60_000)
  }
)

describeWith(["postgres"], "audit.retentionDays (PostgreSQL)", () => {
  it("the runner's store deletes executions older than the retention", async () => {
    const schema = `jf_audit_${randomUUID().replace(/-/g, "").slice(0, 10)}`
    const sql = postgres(postgresUrl, { onnotice: () => {} })
    const url = `${postgresUrl}?schema=${schema}`
    const old = Date.now() - 3 * 86_400_000
    const event = (executionId: string, at: number) => ({ executionId, flowId: "old", flowVersion: "1", at })
    try {
      // An execution from three days ago, and one from now.
      await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(Postgres.open({ url: postgresUrl, schema }), (store) =>
            store.write(
              ["then", "now"].flatMap((id) => {
                const at = id === "then" ? old : Date.now()
                return [
                  { _tag: "ExecutionStarted", eventId: `${id}:0`, seq: 0, trigger: "manual", ...event(id, at) },
                  {
                    _tag: "ExecutionFinished",
                    eventId: `${id}:1`,
                    seq: 1,
                    status: "succeeded",
                    durationMs: 1,
                    steps: 1,
                    ...event(id, at + 1)
                  }
                ] as const
              })
            )
          )
        )
      )
      const runner = await Runner.start({
        log: () => {},
        env: {},
        config: { server: { port: 0, host: "127.0.0.1" }, audit: { sink: "postgres", url, retentionDays: 1 } }
      })
      try {
        const remaining = async () =>
          (await sql.unsafe(`select execution_id from ${schema}.audit_executions order by 1`)).map(
            (r) => r.execution_id
          )
        await waitFor("the old execution to be pruned", async () => (await remaining()).length === 1)
        expect(await remaining()).toEqual(["now"])
      } finally {
        await runner.stop()
      }
    } finally {
      await sql.unsafe(`drop schema if exists ${schema} cascade`)
      await sql.end()
    }
  }, 30_000)
})

describe("audit.redaction", () => {
  const key1 = Redaction.generateKey()
  const key2 = Redaction.generateKey()

  it("encrypts configured paths and keys under the configured key id; the keys come from JSONFLOW_AUDIT_KEYS", async () => {
    const files = tempDir({ "hello.flow.json": hello() })
    const audit = join(files.dir, "audit.jsonl")
    const env = { JSONFLOW_AUDIT_KEYS: `k1:${key1},k2:${key2}` }
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env,
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        audit: {
          sink: "jsonl",
          path: audit,
          snapshots: "full",
          redaction: { paths: ["input.customer.nationalId"], keys: ["loyaltyCode"], mode: "encrypt", keyId: "k2" }
        }
      }
    })
    try {
      const r = await post(`${runner.url}/hello`, {
        n: 1,
        customer: { nationalId: "NX-9931-77" },
        loyaltyCode: "LC-4242"
      })
      expect(r.status).toBe(200)
    } finally {
      await runner.stop()
    }
    const text = readFileSync(audit, "utf8")
    expect(text).not.toContain("NX-9931-77")
    expect(text).not.toContain("LC-4242")
    const started = lines(audit).find((e) => e._tag === "ExecutionStarted")!
    const input = started.input as { customer: { nationalId: { kid: string } }; loyaltyCode: { kid: string } }
    expect(input.customer.nationalId.kid).toBe("k2")
    expect(input.loyaltyCode.kid).toBe("k2")
    // Whoever holds the keys (replay) reads them back; the config file never held them.
    const keyring = RunnerAudit.keyring(runner.config, env)!
    expect(keyring.current).toBe("k2")
    expect(Redaction.reveal(started.input, keyring)).toMatchObject({
      customer: { nationalId: "NX-9931-77" },
      loyaltyCode: "LC-4242"
    })
    files.cleanup()
  })

  it("encrypt without keys, or with a key id the keys lack, fails the start naming JSONFLOW_AUDIT_KEYS", async () => {
    const attempt = (env: Record<string, string>, keyId?: string) =>
      Runner.start({
        log: () => {},
        env,
        config: {
          server: { port: 0, host: "127.0.0.1" },
          audit: { sink: "console", redaction: { mode: "encrypt", ...(keyId === undefined ? {} : { keyId }) } }
        }
      }).then(
        async (r) => {
          await r.stop()
          return undefined
        },
        (e: unknown) => e
      )
    const missing = await attempt({})
    expect(missing).toBeInstanceOf(RunnerError.ConfigError)
    expect((missing as Error).message).toContain("/audit/redaction/mode (from JSONFLOW_AUDIT_KEYS)")
    const unknown = await attempt({ JSONFLOW_AUDIT_KEYS: `k1:${key1}` }, "k9")
    expect((unknown as Error).message).toContain('no key "k9" in JSONFLOW_AUDIT_KEYS')
    expect((unknown as Error).message).not.toContain(key1)
  })
})

describe("audit.buffer with a sink that is down (Redis on a closed port)", () => {
  // Port 1 on loopback: nothing listens, connections are refused at once.
  const down = "redis://127.0.0.1:1"
  const run = async (onFull: "spill" | "block") => {
    const files = tempDir({ "hello.flow.json": hello() })
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env: {},
      config: {
        server: { port: 0, host: "127.0.0.1", shutdownTimeoutMs: 200 },
        flows: { watch: false },
        limits: { timeoutMs: 500 },
        audit: {
          sink: "redis",
          redis: down,
          buffer: { capacity: 12, onFull, journalDir: join(files.dir, "journal"), flushTimeoutMs: 200 }
        }
      }
    })
    try {
      const statuses: Array<number> = []
      for (let n = 0; n < 8; n++) statuses.push((await post(`${runner.url}/hello`, { n })).status)
      // The gauge flips on the first failed write, which follows the buffer's linger: poll, do not race it.
      let metrics = await (await fetch(`${runner.url}/metrics`)).text()
      for (let tries = 0; tries < 50 && gauge(metrics, "jsonflow_audit_sink_down") !== 1; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        metrics = await (await fetch(`${runner.url}/metrics`)).text()
      }
      return { statuses, metrics }
    } finally {
      await runner.stop()
      files.cleanup()
    }
  }
  const gauge = (metrics: string, name: string) =>
    Number(new RegExp(`^${name}\\{sink="redis"\\} (\\d+)`, "m").exec(metrics)?.[1] ?? Number.NaN)

  it("spill (default): executions never wait; what does not fit goes to the journal, nothing is dropped", async () => {
    const { statuses, metrics } = await run("spill")
    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(gauge(metrics, "jsonflow_audit_spilled")).toBeGreaterThan(0)
    expect(gauge(metrics, "jsonflow_audit_dropped")).toBe(0)
    expect(gauge(metrics, "jsonflow_audit_sink_down")).toBe(1)
  })

  it("block: once the buffer is full, new executions wait for room (here: past their time limit, 504)", async () => {
    const { statuses, metrics } = await run("block")
    expect(statuses[0]).toBe(200)
    expect(statuses).toContain(504)
    // Nothing was spilled or dropped: the executions waited instead.
    expect(gauge(metrics, "jsonflow_audit_spilled")).toBe(0)
    expect(gauge(metrics, "jsonflow_audit_dropped")).toBe(0)
  })
})
