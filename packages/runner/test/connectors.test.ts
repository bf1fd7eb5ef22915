import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { Runner, RunnerError } from "@jsonflow/runner"
import { describe, expect, it } from "vitest"
import { describeWith, httpFlow, post, postgresUrl, tempDir } from "./support.ts"

// A JSON flow using a connector the runner serves only when configured.
const doubled = () =>
  httpFlow("doubled", "POST", "/doubled", [
    { type: "sql.query", config: { sql: "select (:value)::int * 2 as doubled, current_user as who" } }
  ])

describeWith(["postgres"], "connectors section: JSON flows use sql.query with a named credential", () => {
  it("resolves the credential from JSONFLOW_CREDENTIAL_* and answers from PostgreSQL; the audit never has the URL", async () => {
    const files = tempDir({ "doubled.flow.json": doubled() })
    const audit = join(files.dir, "audit.jsonl")
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env: { JSONFLOW_CREDENTIAL_ORDERS_DB_URL: postgresUrl },
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        audit: { sink: "jsonl", path: audit, snapshots: "full" },
        connectors: { sql: { credential: "orders-db", max: 2 } }
      }
    })
    try {
      const r = await post(`${runner.url}/doubled`, { value: 21 })
      expect(r.status).toBe(200)
      expect(r.body).toEqual([{ doubled: 42, who: new URL(postgresUrl).username }])
    } finally {
      await runner.stop()
    }
    const text = readFileSync(audit, "utf8")
    expect(text).toContain('"doubled":42')
    expect(text).not.toContain(postgresUrl)
    files.cleanup()
  })

  it("reads a credential from the config file's credentials section ({ file } here)", async () => {
    const files = tempDir({ "doubled.flow.json": doubled(), "db-url": `${postgresUrl}\n` })
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env: {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        audit: { sink: "none" },
        connectors: { sql: { credential: "orders-db" } },
        credentials: { "orders-db": { url: { file: join(files.dir, "db-url") } } }
      }
    })
    try {
      expect((await post(`${runner.url}/doubled`, { value: 5 })).body).toMatchObject([{ doubled: 10 }])
    } finally {
      await runner.stop()
      files.cleanup()
    }
  })
})

describe("connectors section: bad settings fail the start with their place", () => {
  const start = (config: Record<string, unknown>, env: Record<string, string> = {}) =>
    Runner.start({
      log: () => {},
      env,
      config: { server: { port: 0, host: "127.0.0.1" }, audit: { sink: "none" }, ...config }
    }).then(
      async (r) => {
        await r.stop()
        return undefined
      },
      (error: unknown) => error
    )

  it("a connector setting out of range is a ConfigError at /connectors/sql/max", async () => {
    const error = await start({ connectors: { sql: { credential: "orders-db", max: 0 } } })
    expect(error).toBeInstanceOf(RunnerError.ConfigError)
    expect((error as Error).message).toContain("/connectors/sql/max")
  })

  it("JSON flows' HTTP cannot be unguarded", async () => {
    const error = await start({ connectors: { http: { ssrfGuard: false } } })
    expect(error).toBeInstanceOf(RunnerError.ConfigError)
    expect((error as Error).message).toContain("/connectors/http/ssrfGuard")
  })

  it("a credential that is configured nowhere names itself, never a value", async () => {
    const error = await start({ connectors: { sql: { credential: "missing-db" } } })
    expect(error).toBeInstanceOf(RunnerError.StartError)
    expect((error as Error).message).toContain('credential "missing-db" is not configured')
  })

  it("connectors.http stays SSRF-guarded: an internal address is refused unless ssrf.allow lists it", async () => {
    const echo = createServer((_req, res) => res.end('{"pong":true}'))
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve))
    const target = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/ping`
    const files = tempDir({
      "probe.flow.json": httpFlow("probe", "POST", "/probe", [
        { type: "http.request", config: { url: target, response: "json" } },
        { type: "map", config: { fields: { pong: "body.pong" } } }
      ])
    })
    const probe = async (ssrf: Record<string, unknown>) => {
      const runner = await Runner.start({
        flows: [files.dir],
        log: () => {},
        config: {
          server: { port: 0, host: "127.0.0.1" },
          flows: { watch: false },
          audit: { sink: "none" },
          connectors: { http: { connectionsPerOrigin: 4 } },
          ...ssrf
        }
      })
      try {
        return await post(`${runner.url}/probe`, {})
      } finally {
        await runner.stop()
      }
    }
    try {
      const denied = await probe({})
      expect(denied.status).toBe(500)
      expect(denied.body).toMatchObject({ error: { cause: { _tag: "HttpTargetDenied" } } })
      expect(await probe({ ssrf: { allow: ["127.0.0.1"] } })).toMatchObject({ status: 200, body: { pong: true } })
    } finally {
      files.cleanup()
      await new Promise<void>((resolve) => echo.close(() => resolve()))
    }
  })
})
