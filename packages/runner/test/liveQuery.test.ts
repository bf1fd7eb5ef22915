import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { Remote } from "@jsonflow/audit"
import { Runner } from "@jsonflow/runner"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { httpFlow, post, repoRoot, tempDir } from "./support.ts"

const token = "live-query-admin-token-0123"

describe("querying the audit while the runner holds the embedded store", () => {
  const files = tempDir({
    "hello.flow.json": httpFlow("hello", "POST", "/hello", [{ type: "map", config: { fields: { n: "n" } } }])
  })
  const dataDir = join(files.dir, "audit")
  let runner: Runner.RunningRunner
  const ids: Array<string> = []
  beforeAll(async () => {
    runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env: {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        admin: { token },
        audit: { sink: "embedded", path: dataDir }
      }
    })
    for (let n = 0; n < 3; n++) ids.push((await post(`${runner.url}/hello`, { n })).headers.get("x-execution-id")!)
  }, 60_000)
  afterAll(async () => {
    await runner?.stop()
    files.cleanup()
  })

  const listedBy = (store: ReturnType<typeof Remote.client>) =>
    Effect.runPromise(store.listExecutions({ flowId: "hello" })).then((list) => list.map((e) => e.executionId))
  const eventually = async (read: () => Promise<ReadonlyArray<string>>) => {
    const end = Date.now() + 15_000
    let last: ReadonlyArray<string> = []
    while (Date.now() < end) {
      last = await read()
      if (ids.every((id) => last.includes(id))) return last
      await new Promise((r) => setTimeout(r, 100))
    }
    return last
  }

  it("the admin API serves the store's query protocol behind the token", async () => {
    expect((await fetch(`${runner.url}/admin/audit/executions`)).status).toBe(401)
    const remote = Remote.client({ url: `${runner.url}/admin/audit`, token })
    expect(new Set(await eventually(() => listedBy(remote)))).toEqual(new Set(ids))
    const trace = await Effect.runPromise(remote.trace(ids[0]!))
    expect(trace?.execution).toMatchObject({ executionId: ids[0], flowId: "hello", status: "succeeded" })
    // Read only: writes through the admin API are refused.
    const write = await fetch(`${runner.url}/admin/audit/entries`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "[]"
    })
    expect(write.status).toBe(403)
  })

  it("the store's lock names the runner and its socket; another process reads through it", async () => {
    const lock = JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")) as { pid: number; socket?: string }
    expect(lock.pid).toBe(process.pid)
    expect(typeof lock.socket).toBe("string")
    // A separate process (what `jsonflow executions list` is) opens the same directory.
    const script = `
      import { Config, Query } from "@jsonflow/audit"
      import { Effect } from "effect"
      const list = await Effect.runPromise(
        Query.executions({ flowId: "hello" }).pipe(Effect.provide(Config.storeLayer(Config.target(${JSON.stringify(dataDir)}, process.cwd()))))
      )
      console.log(JSON.stringify(list.map((e) => e.executionId)))`
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: repoRoot
    })
    expect(new Set(JSON.parse(stdout) as Array<string>)).toEqual(new Set(ids))
  }, 30_000)
})

describe("the admin audit route without a queryable store", () => {
  it("answers 404 AuditStoreOff for the jsonl sink", async () => {
    const files = tempDir()
    const runner = await Runner.start({
      log: () => {},
      env: {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        admin: { token },
        audit: { sink: "jsonl", path: join(files.dir, "audit.jsonl") }
      }
    })
    try {
      const r = await fetch(`${runner.url}/admin/audit/executions`, { headers: { authorization: `Bearer ${token}` } })
      expect(r.status).toBe(404)
      expect(await r.json()).toMatchObject({ error: { _tag: "AuditStoreOff" } })
    } finally {
      await runner.stop()
      files.cleanup()
    }
  })
})
