/**
 * One set of executions recorded by every sink at once (console, JSON lines, embedded, PostgreSQL, and the
 * Redis bus drained by an audit worker into a second PostgreSQL schema): each sink must hold the same trace,
 * and none may hold any secret of the corpus.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Console, Embedded, Jsonl, Postgres, Record, RedisBus, Store, Worker } from "@jsonflow/audit"
import { Flow } from "@jsonflow/core"
import { Effect, Exit, Fiber, ManagedRuntime, Scope } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SECRETS, secretOrder } from "./corpus.ts"
import { orderFlow } from "./flows.ts"
import { freshSchema, missingServices, PG_URL, pgQuery, REDIS_URL, titled } from "./services.ts"

const missing = missingServices("postgres", "redis")

describe.skipIf(missing !== undefined)(titled("every sink", missing), () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-sinks-"))
  const direct = freshSchema()
  const viaBus = freshSchema()
  const stream = `jsonflow:audit:test:${viaBus.schema}`
  const jsonlPath = join(dir, "audit.jsonl")
  let consoleText = ""
  let busText = ""
  const executions: Array<string> = []
  const traces = new Map<string, Map<string, Record.Trace>>()

  const runtime = ManagedRuntime.make(
    Audit.layer({
      sinks: [
        Console.sink({ write: (text) => (consoleText += text), verbose: true }),
        Jsonl.sink({ path: jsonlPath }),
        Embedded.sink({ dataDir: join(dir, "embedded") }),
        Postgres.sink({ url: PG_URL, schema: direct.schema }),
        RedisBus.sink({ url: REDIS_URL, stream })
      ],
      flows: [orderFlow.ir],
      redaction: { secrets: () => [SECRETS.credential] },
      buffer: { journalDir: join(dir, "journal"), lingerMs: 5 }
    })
  )

  beforeAll(async () => {
    const compiled = await runtime.runPromise(Flow.compile(orderFlow))
    for (const input of [
      { id: "o-small", amount: 50, customer: { email: "bob@example.org" } },
      { id: "o-big", amount: 500, customer: { email: "eve@example.org" } },
      secretOrder
    ]) {
      const exit = await runtime.runPromiseExit(compiled.run(input, { trigger: input }))
      const id = Exit.isSuccess(exit) ? exit.value.executionId : undefined
      if (id !== undefined) executions.push(id)
    }
    // The failing execution's id comes from the store: it failed, so run() gave no result.
    await runtime.runPromise(Audit.Audit.use((a) => a.flush))
    const embedded = await runtime.runPromise(Store.AuditStore.use((s) => s.listExecutions({})))
    for (const e of embedded) if (!executions.includes(e.executionId)) executions.push(e.executionId)

    const redis = new Redis(REDIS_URL)
    busText = JSON.stringify(await redis.xrange(stream, "-", "+"))
    await redis.quit()

    // The audit worker drains the bus into the second schema.
    const scope = await Effect.runPromise(Scope.make())
    const store = await Effect.runPromise(Scope.provide(Postgres.open({ url: PG_URL, schema: viaBus.schema }), scope))
    const worker = Effect.runFork(
      Scope.provide(Worker.run({ store, redis: REDIS_URL, stream, blockMs: 100, consumer: "test-worker" }), scope)
    )
    const started = Date.now()
    while (Date.now() - started < 15_000) {
      const counts = await Effect.runPromise(store.count())
      if (counts.executions === executions.length) {
        const direct = await runtime.runPromise(Store.AuditStore.use((s) => s.count()))
        if (counts.events === direct.events) break
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    await Effect.runPromise(Fiber.interrupt(worker))

    const read = async (name: string, get: (id: string) => Promise<Record.Trace | undefined>) => {
      const byId = new Map<string, Record.Trace>()
      for (const id of executions) {
        const trace = await get(id)
        if (trace !== undefined) byId.set(id, trace)
      }
      traces.set(name, byId)
    }
    const jsonl = Jsonl.read(jsonlPath).events
    await read("jsonl", async (id) => Record.buildTrace(jsonl.filter((e) => e.executionId === id)))
    await read("embedded", (id) => runtime.runPromise(Store.AuditStore.use((s) => s.trace(id))))
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const pg = yield* Postgres.open({ url: PG_URL, schema: direct.schema })
          yield* Effect.promise(() => read("postgres", (id) => Effect.runPromise(pg.trace(id))))
        })
      )
    )
    await read("redis bus + worker", (id) => Effect.runPromise(store.trace(id)))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 60_000)

  afterAll(async () => {
    await runtime.dispose()
    await Promise.all([direct.drop(), viaBus.drop()])
    const redis = new Redis(REDIS_URL)
    await redis.del(stream, `${stream}:dead`)
    await redis.quit()
    rmSync(dir, { recursive: true, force: true })
  })

  it("writes the same trace for the same execution", () => {
    expect(executions).toHaveLength(3)
    const reference = traces.get("jsonl")!
    expect(reference.size).toBe(3)
    const statuses = [...reference.values()].map((t) => t.execution.status).sort()
    expect(statuses).toEqual(["failed", "succeeded", "succeeded"])
    // A retried attempt and a skipped branch are part of the traces.
    const nodes = [...reference.values()].flatMap((t) => t.nodes)
    expect(nodes.some((n) => n.status === "retried")).toBe(true)
    expect(nodes.some((n) => n.status === "skipped")).toBe(true)
    for (const [name, byId] of traces) {
      for (const [id, trace] of reference) {
        const other = byId.get(id)
        expect(other, `${name} has ${id}`).toBeDefined()
        expect(other!.events, `${name}: events of ${id}`).toEqual(trace.events)
        expect(other!.nodes, `${name}: nodes of ${id}`).toEqual(trace.nodes)
        const { input: _i, output: _o, ...record } = other!.execution
        const { input: _ri, output: _ro, ...expected } = trace.execution
        expect(record.status, `${name}: status of ${id}`).toBe(expected.status)
        expect(record.flowId).toBe("orders")
      }
    }
    // The stores keep the execution rows too, the same in each.
    const rows = (name: string) =>
      [...traces.get(name)!.values()].map((t) => t.execution).sort((a, b) => a.executionId.localeCompare(b.executionId))
    expect(rows("postgres")).toEqual(rows("embedded"))
    expect(rows("redis bus + worker")).toEqual(rows("embedded"))
    expect(consoleText).toContain("✗ review")
  })

  it("never lets a secret of the corpus reach any sink", async () => {
    const dump = async (schema: string) =>
      JSON.stringify([
        await pgQuery(`select body::text from "${schema}".audit_events`),
        await pgQuery(`select to_jsonb(x)::text from "${schema}".audit_executions x`)
      ])
    const journal = readdirSync(join(dir, "journal"), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => readFileSync(join(f.parentPath, f.name), "utf8"))
      .join("")
    const outputs: Record<string, string> = {
      console: consoleText,
      jsonl: readFileSync(jsonlPath, "utf8"),
      embedded: JSON.stringify([...traces.get("embedded")!.values()]),
      postgres: await dump(direct.schema),
      "redis stream": busText,
      "postgres via worker": await dump(viaBus.schema),
      journal
    }
    expect(outputs.jsonl).toContain("keep-me")
    expect(outputs.postgres).toContain("[REDACTED")
    for (const [sink, text] of Object.entries(outputs)) {
      const leaked = Object.entries(SECRETS).filter(([, secret]) => text.includes(secret))
      expect(leaked, `secrets in ${sink}`).toEqual([])
    }
  })
})
