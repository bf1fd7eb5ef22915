/**
 * Text search in errors (`--error`): a trigram index serves `ilike '%text%'` on PostgreSQL and in the
 * embedded store (PGlite ships pg_trgm); where the extension is missing, the migration skips the index and
 * the search still answers, by scanning.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm"
import { Embedded, Postgres, Store } from "@jsonflow/audit"
import type { FlowEvents } from "@jsonflow/core"
import { Effect } from "effect"
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { freshSchema, missingServices, PG_URL, titled } from "./services.ts"

const missing = missingServices("postgres")
const dir = mkdtempSync(join(tmpdir(), "audit-search-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The predicate of `Store.listExecutions({ errorText })`.
const SEARCH = `select execution_id from audit_executions where error_text ilike '%' || $1::text || '%'`

const failures = (count: number): Array<FlowEvents.FlowEvent> =>
  Array.from({ length: count }, (_, i) => ({
    _tag: "ExecutionFinished" as const,
    eventId: `e${i}:1`,
    seq: 1,
    executionId: `e${i}`,
    flowId: "orders",
    flowVersion: "1",
    at: 1_700_000_000_000 + i,
    durationMs: 2,
    status: "failed" as const,
    steps: 1,
    error: {
      _tag: "HttpError",
      message: i === 7 ? "ERP answered 503 Service Unavailable" : `timeout ${i}`,
      retryable: true
    }
  }))

const pgliteDriver = (db: PGlite): Store.SqlDriver => ({
  name: "pglite",
  query: async (text, params = []) => (await db.query<Record<string, unknown>>(text, [...params])).rows,
  transaction: async (statements) => {
    await db.transaction(async (tx) => {
      for (const s of statements) await tx.query(s.text, [...s.params])
    })
  },
  close: () => db.close()
})

const planOf = async (
  query: (text: string, params?: Array<string>) => Promise<ReadonlyArray<Record<string, unknown>>>
) => {
  await query("set enable_seqscan = off")
  const rows = await query(`explain ${SEARCH}`, ["unavailable"])
  return rows.map((r) => String(Object.values(r)[0])).join("\n")
}

describe("the embedded store", () => {
  it("creates the trigram index, which serves the search", async () => {
    const dataDir = join(dir, "embedded")
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* Embedded.openStore({ dataDir })
          yield* store.write(failures(50))
          expect((yield* store.listExecutions({ errorText: "service UNAVAILABLE" })).map((r) => r.executionId)).toEqual(
            ["e7"]
          )
        })
      )
    )
    // The store's thread is closed: look at its database directly.
    const db = await PGlite.create(dataDir, { extensions: { pg_trgm } })
    try {
      const plan = await planOf(async (text, params) => (await db.query<Record<string, unknown>>(text, params)).rows)
      expect(plan).toContain("audit_executions_error_trgm")
    } finally {
      await db.close()
    }
  }, 30_000)

  it("without pg_trgm, skips the index and still finds the text", async () => {
    const db = await PGlite.create()
    const driver = pgliteDriver(db)
    try {
      await Effect.runPromise(Store.migrate(driver))
      const indexes = await driver.query("select indexname from pg_indexes where tablename = 'audit_executions'")
      expect(indexes.map((r) => r.indexname)).not.toContain("audit_executions_error_trgm")
      const versions = await driver.query("select version from audit_schema_version order by version")
      expect(versions.map((r) => r.version)).toEqual([1, 2, 3])
      const store = Store.make(driver)
      await Effect.runPromise(store.write(failures(10)))
      const found = await Effect.runPromise(store.listExecutions({ errorText: "503 service" }))
      expect(found.map((r) => r.executionId)).toEqual(["e7"])
    } finally {
      await db.close()
    }
  }, 30_000)
})

describe.skipIf(missing !== undefined)(titled("PostgreSQL", missing), () => {
  const { schema, drop } = freshSchema("audit_search")
  afterAll(drop)

  it("creates the trigram index, which serves the search", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* Postgres.open({ url: PG_URL, schema })
          yield* store.write(failures(50))
          expect((yield* store.listExecutions({ errorText: "Service Unavailable" })).map((r) => r.executionId)).toEqual(
            ["e7"]
          )
        })
      )
    )
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} })
    try {
      await sql.unsafe(`set search_path = "${schema}", public`)
      const plan = await planOf((text, params) => sql.unsafe(text, params ?? []))
      expect(plan).toContain("audit_executions_error_trgm")
    } finally {
      await sql.end()
    }
  })
})
