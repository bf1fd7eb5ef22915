import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { Runner } from "@jsonflow/runner"
import { main } from "@jsonflow/runner/cli"
import postgres from "postgres"
import { afterAll, expect, it } from "vitest"
import { describeWith, httpFlow, post, postgresUrl, tempDir } from "./support.ts"

const cli = async (args: ReadonlyArray<string>) => {
  let stdout = ""
  let stderr = ""
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: process.cwd() })
  return { code, stdout, stderr }
}

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error("timed out")
}

describeWith(["postgres"], "PostgreSQL config DB", () => {
  const schema = `jf_test_${randomUUID().replace(/-/g, "").slice(0, 12)}`
  const sql = postgres(postgresUrl, { onnotice: () => {} })
  const flow = (version: string, greeting: string) =>
    httpFlow("greeting", "GET", "/greeting", [{ type: "map", config: { fields: { greeting: { value: greeting } } } }], {
      version
    })
  const files = tempDir({
    "v1.flow.json": flow("1", "hello"),
    "v2.flow.json": flow("2", "bonjour"),
    "bad.flow.json": { ...flow("3", "x"), nodes: { n0: { type: "nope" }, reply: { type: "respond", config: {} } } }
  })
  const db = ["--db", postgresUrl, "--schema", schema]
  afterAll(async () => {
    await sql.unsafe(`drop schema if exists ${schema} cascade`)
    await sql.end()
    files.cleanup()
  })

  it("jsonflow flows push|list|versions|rollback, and a runner reloading on NOTIFY", async () => {
    const pushed = await cli(["flows", "push", join(files.dir, "v1.flow.json"), ...db, "--by", "test"])
    expect(pushed).toMatchObject({ code: 0 })
    expect(pushed.stdout).toContain("pushed greeting (flow version 1) as version 1")

    const runner = await Runner.start({
      log: () => {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        audit: { sink: "none" },
        admin: { token: "config-db-admin-token-0123" },
        configDb: { url: postgresUrl, schema }
      }
    })
    const versions = async () =>
      (await (
        await fetch(`${runner.url}/admin/flows/greeting/versions`, {
          headers: { authorization: "Bearer config-db-admin-token-0123" }
        })
      ).json()) as Array<{ version: number; flowVersion: string; active: boolean; pushedBy: string | null }>
    try {
      const greeting = async () =>
        ((await (await fetch(`${runner.url}/greeting`)).json()) as { greeting: string }).greeting
      expect(await greeting()).toBe("hello")

      expect((await cli(["flows", "push", join(files.dir, "v2.flow.json"), ...db])).code).toBe(0)
      await waitFor(async () => (await greeting()) === "bonjour")

      const refused = await cli(["flows", "push", join(files.dir, "bad.flow.json"), ...db])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('unknown node type "nope"')

      const list = await cli(["flows", "list", ...db])
      expect(list.stdout).toMatch(/greeting\tversion 2\t\(flow version 2\)/)
      const listed = await cli(["flows", "versions", "greeting", ...db])
      expect(listed.stdout.split("\n")[0]).toMatch(/^\* 2/)
      // The admin API lists the same stored versions, newest first, with the active one marked.
      expect(await versions()).toMatchObject([
        { version: 2, flowVersion: "2", active: true, pushedBy: null },
        { version: 1, flowVersion: "1", active: false, pushedBy: "test" }
      ])

      const rolledBack = await cli(["flows", "rollback", "greeting", ...db])
      expect(rolledBack.stdout).toContain("greeting now runs version 1")
      await waitFor(async () => (await greeting()) === "hello")
      expect((await versions()).map((v) => [v.version, v.active])).toEqual([
        [2, false],
        [1, true]
      ])

      expect((await cli(["flows", "rollback", "greeting", "--to", "2", ...db])).code).toBe(0)
      await waitFor(async () => (await greeting()) === "bonjour")
      const none = await cli(["flows", "rollback", "nope", ...db])
      expect(none).toMatchObject({ code: 1 })
      expect(none.stderr).toContain('flow "nope" is not in the config DB')
      expect((await post(`${runner.url}/greeting`, {})).status).toBe(405)
    } finally {
      await runner.stop()
    }
  })
})
