import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Runner } from "@jsonflow/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { httpFlow, post, tempDir } from "./support.ts"

const versioned = (version: string, delayMs = 0) =>
  httpFlow(
    "hello",
    "POST",
    "/hello",
    [
      ...(delayMs > 0 ? [{ type: "delay", config: { ms: delayMs } }] : []),
      { type: "map", config: { fields: { version: { value: version } } } }
    ],
    { version }
  )

describe("hot reload", () => {
  const files = tempDir({ "hello.flow.json": versioned("1") })
  let runner: Runner.RunningRunner
  beforeAll(async () => {
    runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      config: { server: { port: 0, host: "127.0.0.1" }, audit: { sink: "none" } }
    })
  })
  afterAll(async () => {
    await runner?.stop()
    files.cleanup()
  })

  it("a changed file is served after the watcher reloads, with zero failed requests under load", async () => {
    const statuses = new Map<number, number>()
    const versions = new Set<string>()
    let stop = false
    const client = async () => {
      while (!stop) {
        const r = await post(`${runner.url}/hello`, {})
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        versions.add((r.body as { version: string }).version)
      }
    }
    const clients = Array.from({ length: 8 }, client)
    await new Promise((r) => setTimeout(r, 300))
    for (let v = 2; v <= 4; v++) {
      writeFileSync(join(files.dir, "hello.flow.json"), JSON.stringify(versioned(String(v))))
      await new Promise((r) => setTimeout(r, 400))
    }
    stop = true
    await Promise.all(clients)
    expect([...statuses.keys()]).toEqual([200])
    expect(statuses.get(200)).toBeGreaterThan(100)
    expect(versions.has("1")).toBe(true)
    expect(versions.has("4")).toBe(true)
    expect(runner.flows()[0]?.version).toBe("4")
  })

  it("an execution in flight finishes on the version it started with", async () => {
    writeFileSync(join(files.dir, "hello.flow.json"), JSON.stringify(versioned("slow-1", 600)))
    await runner.reload()
    const inFlight = post(`${runner.url}/hello`, {})
    await new Promise((r) => setTimeout(r, 100))
    writeFileSync(join(files.dir, "hello.flow.json"), JSON.stringify(versioned("fast-2")))
    const report = await runner.reload()
    expect(report.changed).toEqual(["hello"])
    expect((await post(`${runner.url}/hello`, {})).body).toEqual({ version: "fast-2" })
    expect((await inFlight).body).toEqual({ version: "slow-1" })
  })

  it("a broken edit keeps the previous version serving and reports the problem", async () => {
    writeFileSync(
      join(files.dir, "hello.flow.json"),
      JSON.stringify({ ...versioned("3"), nodes: { n0: { type: "nope" } } })
    )
    const report = await runner.reload()
    expect(report.failures[0]?.message).toContain('unknown node type "nope"')
    expect((await post(`${runner.url}/hello`, {})).body).toEqual({ version: "fast-2" })
  })
})
