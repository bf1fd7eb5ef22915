/**
 * Which real services the tests can use. Without one (a laptop), the tests that need it are skipped with the
 * reason in their name; with `CI=true`, a missing service fails the run instead.
 *
 * @module services
 */

import { randomBytes } from "node:crypto"
import { connect } from "node:net"
import postgres from "postgres"

export const PG_URL = process.env.JSONFLOW_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"
export const REDIS_URL = process.env.JSONFLOW_TEST_REDIS ?? "redis://127.0.0.1:6379"

const reachable = (url: string, fallbackPort: number) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname || "127.0.0.1", port: Number(port || fallbackPort) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

const status = {
  postgres: await reachable(PG_URL, 5432),
  redis: await reachable(REDIS_URL, 6379)
}

/**
 * `undefined` when the services are up, else the reason to skip; throws under `CI=true`.
 *
 * @example
 * ```ts
 * const missing = missingServices("postgres", "redis")
 * describe.skipIf(missing !== undefined)(`worker${missing ? ` (skipped: ${missing})` : ""}`, () => {})
 * ```
 */
export const missingServices = (...names: ReadonlyArray<"postgres" | "redis">): string | undefined => {
  const down = names.filter((name) => !status[name])
  if (down.length === 0) return undefined
  const reason = down.map((name) => `${name} not reachable at ${name === "postgres" ? PG_URL : REDIS_URL}`).join(", ")
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`)
  console.warn(`skipping: ${reason}`)
  return reason
}

/** A title that says why a block is skipped. */
export const titled = (title: string, missing: string | undefined) =>
  missing === undefined ? title : `${title} (skipped: ${missing})`

/** A fresh schema name, and a function dropping it. */
export const freshSchema = (prefix = "audit_test") => {
  const schema = `${prefix}_${randomBytes(4).toString("hex")}`
  return {
    schema,
    drop: async () => {
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} })
      await sql.unsafe(`drop schema if exists "${schema}" cascade`)
      await sql.end()
    }
  }
}

/** Runs a query against the test database (inspection only). */
export const pgQuery = async (text: string, params: ReadonlyArray<string | number> = []) => {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} })
  try {
    return await sql.unsafe(text, [...params])
  } finally {
    await sql.end()
  }
}
