/**
 * The store's queries, idempotent and order-independent writes, and retention, on PostgreSQL; and
 * credentials resolved through the audit layer never reaching a record.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Jsonl, Postgres, type Record } from "@jsonflow/audit"
import { Credentials, Flow, type FlowEvents, Node } from "@jsonflow/core"
import { Effect, Layer, Redacted, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { freshSchema, missingServices, PG_URL, titled } from "./services.ts"

const missing = missingServices("postgres")
const DAY = 86_400_000

const base = (executionId: string, flowId: string, seq: number, at: number) => ({
  eventId: `${executionId}:${seq}`,
  seq,
  executionId,
  flowId,
  flowVersion: "1",
  at
})
const execution = (
  id: string,
  flowId: string,
  at: number,
  end?: { readonly status: "succeeded" | "failed"; readonly error?: string }
): Array<FlowEvents.FlowEvent> => [
  { _tag: "ExecutionStarted", ...base(id, flowId, 0, at), trigger: "manual", input: { id } },
  { _tag: "NodeStarted", ...base(id, flowId, 1, at + 1), nodeId: "call", nodeType: "http", attempt: 1 },
  ...(end === undefined
    ? []
    : [
        {
          _tag: "ExecutionFinished" as const,
          ...base(id, flowId, 2, at + 5),
          durationMs: 5,
          status: end.status,
          steps: 1,
          ...(end.error === undefined ? {} : { error: { _tag: "HttpTimeout", message: end.error, retryable: true } })
        }
      ])
]

describe.skipIf(missing !== undefined)(titled("PostgreSQL store", missing), () => {
  const { schema, drop } = freshSchema()
  afterAll(drop)

  it("answers the queries, merges out-of-order and repeated writes, and prunes by age", async () => {
    const now = Date.now()
    const old = execution("x-old", "a", now - 10 * DAY, { status: "succeeded" })
    const failed = execution("x-failed", "b", now - 3_600_000, { status: "failed", error: "Timeout talking to ERP" })
    const running = execution("x-running", "a", now)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* Postgres.open({ url: PG_URL, schema })
          // The end of an execution arrives before its start, and a batch is written twice.
          yield* store.write([failed[2]!] as ReadonlyArray<Record.Entry>)
          yield* store.write([...old, ...failed.slice(0, 2), ...running])
          yield* store.write([...old, ...failed, ...running])
          expect(yield* store.count()).toEqual({ executions: 3, events: 8 })

          const ids = (rows: ReadonlyArray<Record.ExecutionRecord>) => rows.map((r) => r.executionId)
          expect(ids(yield* store.listExecutions())).toEqual(["x-running", "x-failed", "x-old"])
          expect(ids(yield* store.listExecutions({ flowId: "a" }))).toEqual(["x-running", "x-old"])
          expect(ids(yield* store.listExecutions({ status: "failed" }))).toEqual(["x-failed"])
          expect(ids(yield* store.listExecutions({ errorText: "erp" }))).toEqual(["x-failed"])
          expect(ids(yield* store.listExecutions({ errorText: "100%_" }))).toEqual([])
          expect(ids(yield* store.listExecutions({ since: now - 2 * 3_600_000 }))).toEqual(["x-running", "x-failed"])
          expect(ids(yield* store.listExecutions({ until: now - DAY }))).toEqual(["x-old"])
          expect(ids(yield* store.listExecutions({ limit: 1 }))).toEqual(["x-running"])

          const trace = yield* store.trace("x-failed")
          expect(trace!.execution.status).toBe("failed")
          expect(trace!.execution.startedAt).toBe(now - 3_600_000)
          expect(trace!.execution.input).toEqual({ id: "x-failed" })
          const stop = yield* store.whereStopped("x-running")
          expect(stop!.inFlight.map((n) => n.nodeId)).toEqual(["call"])

          expect(yield* store.prune(now - 5 * DAY)).toBe(1)
          expect(yield* store.count()).toEqual({ executions: 2, events: 5 })
          expect(yield* store.trace("x-old")).toBeUndefined()
        })
      )
    )
  })
})

describe("credentials resolved through the audit layer", () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-credentials-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("never reach a record, even when a node echoes them", async () => {
    const connect = Node.define({
      type: "test.connect",
      input: Schema.Unknown,
      output: Schema.String,
      run: () =>
        Effect.map(
          Effect.orDie(Credentials.field("erp", "password")),
          (password) => `connected to erp with ${Redacted.value(password)}`
        )
    })
    const flow = Flow.make({ id: "erp-sync" }).andThen("connect", connect, {}).build()
    const path = join(dir, "audit.jsonl")
    const layer = Audit.layer({ sinks: [Jsonl.sink({ path })], buffer: { journalDir: join(dir, "journal") } }).pipe(
      Layer.provide(Credentials.layerRecord({ erp: { password: "erp-secret-pass-42" } }))
    )
    const output = await Effect.runPromise(
      Effect.gen(function* () {
        const compiled = yield* Flow.compile(flow)
        const result = yield* compiled.run({})
        yield* Audit.Audit.use((a) => a.flush)
        return result.output
      }).pipe(Effect.provide(layer))
    )
    expect(output).toBe("connected to erp with erp-secret-pass-42")
    const text = readFileSync(path, "utf8")
    expect(text).not.toContain("erp-secret-pass-42")
    expect(text).toContain("connected to erp with [REDACTED:secret]")
  })
})
