// The reference use case for real: a seeded PostgreSQL table, both flows, and a loopback receiver that
// records what it got. Needs the local PostgreSQL (skipped with the reason without it; fails under CI=true).
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import postgres from "postgres"
import { afterAll, beforeAll, expect, it } from "vitest"
import * as Services from "../../packages/connectors/test/services.ts"
import { runReference } from "./reference.ts"

const pg = await Services.postgres()
const main = fileURLToPath(new URL("./main.ts", import.meta.url))
const root = fileURLToPath(new URL("../../", import.meta.url))

const expected = [
  { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" },
  { externalId: 4, contact: { name: "Di" }, total: 120, currency: "EUR" }
]

Services.describeWith(pg, "reference use case (examples/reference-use-case)", () => {
  const saved = process.env.JSONFLOW_CREDENTIAL_ORDERS_DB_URL
  const admin = postgres(Services.postgresUrl, { max: 1, onnotice: () => {} })
  beforeAll(() => {
    process.env.JSONFLOW_CREDENTIAL_ORDERS_DB_URL = Services.postgresUrl
  })
  afterAll(async () => {
    if (saved === undefined) delete process.env.JSONFLOW_CREDENTIAL_ORDERS_DB_URL
    else process.env.JSONFLOW_CREDENTIAL_ORDERS_DB_URL = saved
    await admin.end({ timeout: 5 })
  })

  it("the builder flow and the JSON flow are the same IR and POST the same paid orders of 100 or more", async () => {
    const report = await runReference()
    expect(report.sameIr).toBe(true)
    for (const run of [report.builder, report.json]) {
      expect(run.status).toBe(201)
      expect(run.received).toEqual([
        { method: "POST", path: "/api/contacts", contentType: "application/json", body: expected }
      ])
    }
    const left = await admin`select 1 from information_schema.schemata where schema_name = ${report.schema}`
    expect(left.length, "the example dropped its schema").toBe(0)
    // A backend leaves pg_stat_activity a moment after its client hung up: poll briefly.
    let open = -1
    for (let i = 0; i < 50 && open !== 0; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100))
      open = (await admin`select 1 from pg_stat_activity where application_name like 'jsonflow-reference%'`).length
    }
    expect(open, "every pool the example opened is closed").toBe(0)
  })

  it("runs with `node` and prints what the receiver got", async () => {
    const env = { ...process.env, JSONFLOW_CREDENTIAL_ORDERS_DB_URL: Services.postgresUrl }
    const { stdout } = await promisify(execFile)(process.execPath, [main], { cwd: root, env })
    const lines = stdout.trim().split("\n")
    const posted = `  POST /api/contacts (application/json) ${JSON.stringify(expected)}`
    expect(lines.filter((l) => l.startsWith("  POST"))).toEqual([posted, posted])
    expect(lines).toContain("same IR from flow.ts and flow.json: yes")
    expect(lines).toContain("same POSTs: yes")
  })
})
