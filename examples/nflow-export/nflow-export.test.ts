import { execFile, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Runner } from "@jsonflow/runner"
import { afterAll, describe, expect, it } from "vitest"
import { samples, send } from "./requests.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const here = fileURLToPath(new URL("./", import.meta.url))
const jsonflow = join(root, "packages/runner/bin/jsonflow.js")
const run = promisify(execFile)

/**
 * What nflow-runtime answers to each sample (see shared/docs/nflow-format.md): the `json` box replies its
 * `http_code` with the whole payload, query values are merged into the payload (as strings), `_end` replies
 * 200 `{}`, `c.JSON` is the first reply and a `next` naming no output ends the flow, a throwing script
 * answers 500 `{message, actor}`.
 */
const expected: ReadonlyArray<{ readonly status: number; readonly body: unknown }> = [
  { status: 201, body: { region: "eu", items: 2, total: 21 } },
  { status: 200, body: {} },
  { status: 201, body: { region: "us", items: 1, total: 9, dry_run: "false" } },
  { status: 400, body: { error: "an order needs at least one item" } },
  {
    status: 500,
    body: {
      message: expect.stringContaining("item 0 has no price"),
      actor: { id: "8b2d47a0-1e6f-4f3a-b5c9-2d7e9a0c4b02" }
    }
  }
]

const answersOf = async (base: string) => {
  const answers: Array<{ status: number; body: unknown }> = []
  for (const sample of samples) {
    const { status, body } = await send(base, sample)
    answers.push({ status, body: JSON.parse(body) })
  }
  return answers
}

/** `jsonflow serve <args>` as a child process, resolved once its banner names the URL. */
const serve = (args: ReadonlyArray<string>) =>
  new Promise<{ url: string; stop: () => Promise<number | null> }>((resolve, reject) => {
    const child = spawn(process.execPath, [jsonflow, "serve", ...args, "--port", "0", "--host", "127.0.0.1"], {
      cwd: root,
      env: { ...process.env, JSONFLOW_AUDIT_SINK: "none", JSONFLOW_LOGS_LEVEL: "error" }
    })
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    let out = ""
    let err = ""
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /runner on (http:\/\/\S+)/.exec(out)
      if (match)
        resolve({
          url: match[1]!,
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
    })
    void exited.then((code) => reject(new Error(`jsonflow serve exited with ${code}\n${out}\n${err}`)))
  })

describe("nFlow export example", () => {
  const out = mkdtempSync(join(tmpdir(), "jsonflow-nflow-example-"))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it("main.ts serves the export and prints nflow-runtime's answers", async () => {
    const { stdout } = await run(process.execPath, [join(here, "main.ts")], { cwd: root, timeout: 20_000 })
    const lines = stdout.trim().split("\n")
    expect(lines.slice(0, 5)).toEqual([
      "loaded orders-post-orders-region from examples/nflow-export/flows/orders-app.json",
      'POST /orders/eu -> 201 {"region":"eu","items":2,"total":21}',
      "POST /orders/eu?dry_run=true -> 200 {}",
      'POST /orders/us?dry_run=false -> 201 {"dry_run":"false","region":"us","items":1,"total":9}',
      'POST /orders/eu -> 400 {"error":"an order needs at least one item"}'
    ])
    expect(lines[5]).toMatch(
      /^POST \/orders\/eu -> 500 \{"message":".*item 0 has no price.*","actor":\{"id":"8b2d47a0-/
    )
    expect(lines).toHaveLength(6)
  })

  it("`jsonflow serve examples/nflow-export/flows` answers real HTTP requests as nflow-runtime would", async () => {
    const served = await serve(["examples/nflow-export/flows", "--no-watch"])
    try {
      expect(await answersOf(served.url)).toEqual(expected)
      // The orphan box of the export (no connections) is not part of the flow; the route is the starter's.
      expect((await send(served.url, { what: "", method: "POST", path: "/orders" })).status).toBe(404)
    } finally {
      expect(await served.stop()).toBe(0)
    }
  })

  it("`jsonflow import-nflow` writes the canonical file kept in canonical/, which serves the same answers", async () => {
    const { stdout } = await run(
      process.execPath,
      [jsonflow, "import-nflow", "examples/nflow-export/flows/orders-app.json", "--out", out],
      { cwd: root }
    )
    expect(stdout).toContain("orders-post-orders-region.flow.json (POST /orders/:region)")
    expect(readdirSync(out)).toEqual(["orders-post-orders-region.flow.json"])
    const fresh = JSON.parse(readFileSync(join(out, "orders-post-orders-region.flow.json"), "utf8")) as unknown
    const kept = JSON.parse(
      readFileSync(join(here, "canonical/orders-post-orders-region.flow.json"), "utf8")
    ) as unknown
    // canonical/ is this command's output (formatted); re-run the README's import command when this fails.
    expect(kept).toEqual(fresh)
    await run(process.execPath, [jsonflow, "validate", join(here, "canonical/orders-post-orders-region.flow.json")], {
      cwd: root
    })

    const runner = await Runner.start({
      flows: [join(here, "canonical")],
      config: { server: { host: "127.0.0.1", port: 0 }, flows: { watch: false }, audit: { sink: "none" } },
      log: () => {}
    })
    try {
      expect(runner.flows().map((f) => [f.id, f.trigger])).toEqual([
        ["orders-post-orders-region", { type: "http", method: "POST", path: "/orders/:region" }]
      ])
      expect(await answersOf(runner.url!)).toEqual(expected)
    } finally {
      await runner.stop()
    }
  })
})
