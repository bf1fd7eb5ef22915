import { readFileSync } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { expect, it } from "vitest"
import { httpFlow, serve, tempDir } from "./support.ts"

const postRaw = (url: string, body: string) =>
  new Promise<{ status: number; body: string; executionId: string }>((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = ""
      res.on("data", (c: Buffer) => {
        text += c.toString()
      })
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: text, executionId: String(res.headers["x-execution-id"]) })
      )
    })
    req.on("error", reject)
    req.end(body)
  })

it("SIGTERM: stops accepting, lets in-flight requests finish, flushes the audit, exits 0", async () => {
  const files = tempDir({
    "slow.flow.json": httpFlow("slow", "POST", "/slow", [
      { type: "delay", config: { ms: 800 } },
      { type: "map", config: { fields: { done: { value: true } } } }
    ])
  })
  let kill = () => {}
  try {
    const audit = join(files.dir, "audit.jsonl")
    const served = await serve(["serve", files.dir, "--port", "0", "--host", "127.0.0.1", "--no-watch"], {
      JSONFLOW_AUDIT_SINK: "jsonl",
      JSONFLOW_AUDIT_PATH: audit
    })
    kill = () => served.child.kill("SIGKILL")
    const inFlight = Array.from({ length: 5 }, () => postRaw(`${served.url}/slow`, "{}"))
    await new Promise((r) => setTimeout(r, 200))
    served.child.kill("SIGTERM")
    await new Promise((r) => setTimeout(r, 100))
    // New connections are refused while the old requests finish.
    await expect(postRaw(`${served.url}/slow`, "{}")).rejects.toMatchObject({ code: "ECONNREFUSED" })
    const results = await Promise.all(inFlight)
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(results.every((r) => JSON.parse(r.body).done === true)).toBe(true)
    expect(await served.exited).toBe(0)
    expect(served.stderr()).toContain("SIGTERM, shutting down")
    // The executions that finished during the drain are in the audit once the process is gone.
    const ids = results.map((r) => r.executionId)
    const finished = readFileSync(audit, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as { _tag: string; executionId: string; status?: string })
      .filter((e) => e._tag === "ExecutionFinished")
    expect(finished).toHaveLength(5)
    expect(new Set(finished.map((e) => e.executionId))).toEqual(new Set(ids))
    expect(finished.every((e) => e.status === "succeeded")).toBe(true)
  } finally {
    kill()
    files.cleanup()
  }
})
