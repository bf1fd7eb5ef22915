import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { connect } from "node:net"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Flow } from "@jsonflow/core"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type MeterServer, startMeterServer } from "./meter-server.ts"
import { createSchema, importReadings, pipelineLayer } from "./pipeline.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const databaseUrl = process.env.JSONFLOW_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const isCI = process.env.CI === "true" || process.env.CI === "1"

// PostgreSQL is needed: without it the suite is skipped with the reason, except under CI where that fails.
const problem = await new Promise<string>((resolve) => {
  const url = new URL(databaseUrl)
  const socket = connect({ host: url.hostname, port: Number(url.port || 5432) })
  const done = (reason: string) => {
    socket.destroy()
    resolve(reason)
  }
  socket.setTimeout(1_000, () => done(`${url.host} did not answer`))
  socket.once("connect", () => done(""))
  socket.once("error", (e: NodeJS.ErrnoException) => done(`${url.host} is unreachable (${e.code ?? e.message})`))
})
/** `describe` when PostgreSQL answers; otherwise a visible skip, or under CI a failing test naming the problem. */
const suite = (name: string, body: () => void) => {
  if (problem === "") return describe(name, body)
  if (isCI) return describe(name, () => it(`needs PostgreSQL: ${problem}`, () => expect.fail(`CI=true and ${problem}`)))
  return describe.skip(`${name} (skipped: PostgreSQL: ${problem})`, body)
}

const exampleSchemas = async () => {
  const sql = postgres(databaseUrl, { max: 1 })
  try {
    const rows = await sql<Array<{ name: string }>>`
      select schema_name as name from information_schema.schemata where schema_name like 'grpc\\_example\\_%'`
    return rows.map((r) => r.name)
  } finally {
    await sql.end()
  }
}

suite("gRPC to PostgreSQL example", () => {
  it("main.ts streams a day of readings into its own schema, and drops the schema", async () => {
    const before = await exampleSchemas()
    const main = fileURLToPath(new URL("./main.ts", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, [main], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      timeout: 20_000
    })
    expect(stdout.trim().split("\n")).toEqual([
      "streamed 96 readings, ran 96 inserts",
      "table grpc_example_<run>.readings: 96 rows, 80.400 kWh",
      'first: {"meter_id":"m-1","seq":1,"kwh":0.525,"taken_ms":"1767226500000"}',
      'last:  {"meter_id":"m-1","seq":96,"kwh":0.4,"taken_ms":"1767312000000"}'
    ])
    expect(await exampleSchemas()).toEqual(before)
  })

  describe("the flow", () => {
    const schema = `grpc_example_${randomUUID().slice(0, 8)}`
    let meters: MeterServer
    let db: Awaited<ReturnType<typeof createSchema>>
    let flow: Flow.PromiseFlow<typeof importReadings.input.Type, unknown>
    beforeAll(async () => {
      meters = await startMeterServer()
      db = await createSchema(databaseUrl, schema)
      flow = Flow.toPromise(importReadings, pipelineLayer({ grpcAddress: meters.address, databaseUrl, schema }))
    })
    afterAll(async () => {
      await flow?.dispose()
      await db?.drop()
      await meters?.close()
    })

    it("stores every streamed message exactly once: the rows equal the messages", async () => {
      const result = await flow.run({ meter_id: "m-7", count: 300 })
      expect(result.output).toHaveLength(300)
      await flow.run({ meter_id: "m-8", count: 5 })
      const sent = meters.sent()
      expect(sent).toHaveLength(305)
      const byKey = (a: { meter_id: string; seq: number }, b: { meter_id: string; seq: number }) =>
        a.meter_id.localeCompare(b.meter_id) || a.seq - b.seq
      expect(await db.rows()).toEqual([...sent].sort(byKey))
    })

    it("a stream that breaks midway fails the execution before the for-each: nothing is inserted", async () => {
      const before = (await db.rows()).length
      const sentBefore = meters.sent().length
      const failure = await flow.run({ meter_id: "m-9", count: 50, fail_after: 20 }).then(
        () => undefined,
        (error: unknown) => error
      )
      expect(failure).toMatchObject({
        _tag: "NodeFailed",
        nodeId: "readings",
        error: { _tag: "GrpcError", details: { code: "UNAVAILABLE" } }
      })
      expect(meters.sent().length - sentBefore).toBe(20)
      expect((await db.rows()).length).toBe(before)
    })

    it("a run repeated after a success changes nothing (the inserts are idempotent)", async () => {
      const before = await db.rows()
      await flow.run({ meter_id: "m-8", count: 5 })
      expect(await db.rows()).toEqual(before)
    })
  })
})
