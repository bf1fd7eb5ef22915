/**
 * PostgreSQL fixtures for the SQL connector tests: a schema of its own per test (dropped afterwards), a
 * unique `application_name` per client so `pg_stat_activity` shows exactly that client's connections, and
 * an admin connection to look.
 *
 * @module database
 */
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import postgres from "postgres"
import { postgresUrl } from "../services.ts"

export interface TestDatabase {
  /** A fresh schema name (created). */
  readonly schema: string
  /** An application_name unique to this test. */
  readonly appName: string
  /** The admin connection (its own application_name). */
  readonly admin: postgres.Sql
  /** Connections the client under test has open, by state (`active`, `idle`, ...). */
  readonly connections: () => Promise<ReadonlyArray<{ readonly state: string; readonly query: string }>>
  /** Waits (up to 5 s) until `check` holds on the client's connections. */
  readonly until: (
    check: (connections: ReadonlyArray<{ readonly state: string; readonly query: string }>) => boolean
  ) => Promise<boolean>
}

/** A schema and an admin connection for the current scope; both go away when it closes. */
export const testDatabase = Effect.acquireRelease(
  Effect.promise(async (): Promise<TestDatabase> => {
    const id = randomUUID().replaceAll("-", "").slice(0, 12)
    const schema = `jf_sql_${id}`
    const appName = `jf_test_${id}`
    const admin = postgres(postgresUrl, {
      max: 2,
      onnotice: () => {},
      connection: { application_name: "jf_test_admin" }
    })
    await admin.unsafe(`create schema ${schema}`)
    const connections = async () =>
      (await admin`select state, query from pg_stat_activity where application_name = ${appName}`).map((r) => ({
        state: String(r.state),
        query: String(r.query)
      }))
    const until = async (check: (c: Awaited<ReturnType<typeof connections>>) => boolean) => {
      for (let i = 0; i < 100; i++) {
        if (check(await connections())) return true
        await new Promise((r) => setTimeout(r, 50))
      }
      return false
    }
    return { schema, appName, admin, connections, until }
  }),
  ({ schema, admin }) =>
    Effect.promise(async () => {
      await admin.unsafe(`drop schema if exists ${schema} cascade`)
      await admin.end({ timeout: 5 })
    })
)
