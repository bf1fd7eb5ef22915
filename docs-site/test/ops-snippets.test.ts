// The operator guides (sandbox, audit, replay, runner) show these snippets and commands: they do what the
// pages say. The commands run in-process through the CLI's `main`, with a throwaway embedded audit store.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Config } from "@jsonflow/runner"
import { main } from "@jsonflow/runner/cli"
import { afterAll, describe, expect, it } from "vitest"

const snippet = (name: string) => fileURLToPath(new URL(`../snippets/${name}`, import.meta.url))
const doubleFlow = fileURLToPath(new URL("../../examples/flows/double.flow.json", import.meta.url))
const work = mkdtempSync(join(tmpdir(), "jsonflow-docs-ops-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const cli = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  let stdout = ""
  let stderr = ""
  const code = await main(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd: work,
    env: { PATH: process.env.PATH, ...env }
  })
  return { code, stdout, stderr }
}

describe("operator guide snippets", () => {
  it("jsonflow script runs the transform and shows that the host is out of reach", async () => {
    const input = JSON.stringify({
      id: "o-1",
      items: [
        { sku: "a", qty: 2, price: 9.5 },
        { sku: "b", qty: 1, price: 40 }
      ]
    })
    const { code, stdout } = await cli([
      "script",
      snippet("ops-transform.ts"),
      snippet("ops-escape.js"),
      "--input",
      input
    ])
    expect(code).toBe(0)
    const [priced, reach] = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
    expect(priced).toMatchObject({
      ok: true,
      output: { id: "o-1", total: 59, lines: 2 },
      logs: [{ level: "log", message: "pricing o-1 in ops-transform.ts" }]
    })
    expect(Object.values(reach.output)).toEqual(Array(6).fill("undefined"))
  })

  it("a js/ts node over the sandbox's ceiling is refused when the flow is validated", async () => {
    expect((await cli(["validate", snippet("ops-sandbox.flow.json")])).code).toBe(0)
    const greedy = join(work, "greedy.flow.json")
    writeFileSync(
      greedy,
      readFileSync(snippet("ops-sandbox.flow.json"), "utf8").replace('"timeoutMs": 200', '"timeoutMs": 120000')
    )
    const refused = await cli(["validate", greedy])
    expect(refused.code).toBe(1)
    expect(refused.stdout + refused.stderr).toContain(
      "/nodes/price/config/timeoutMs: timeoutMs is over the sandbox's ceiling of 60000 ms"
    )
  })

  it("the runner configuration of the runner guide is valid", () => {
    const { config } = Config.load({ file: snippet("ops-runner.json"), env: {} })
    expect(config.audit.sink).toBe("postgres")
    expect(config.limits.flows["import-orders"]?.enqueue).toBe(true)
    expect(config.sandbox.maxLimits.timeoutMs).toBe(10_000)
  })

  it("jsonflow run records an execution that replay runs again from a node", async () => {
    const audit = join(work, "audit")
    const env = { JSONFLOW_AUDIT_SNAPSHOTS: "full" }
    const ran = await cli(["run", doubleFlow, "--input", '{"value":21}', "--audit", audit], env)
    expect(ran.code, ran.stderr).toBe(0)
    const listed = await cli(["executions", "list", "--json", "--audit", audit])
    const [original] = JSON.parse(listed.stdout) as ReadonlyArray<{ executionId: string; snapshots?: string }>
    expect(original).toBeDefined()
    const replayed = await cli(["replay", original!.executionId, "--from", "compute", "--json", "--audit", audit], env)
    expect(replayed.code, replayed.stderr).toBe(0)
    expect(JSON.parse(replayed.stdout)).toMatchObject({
      replayOf: original!.executionId,
      reply: { status: 200, body: { result: 42 } }
    })
    const noFailure = await cli(["replay", original!.executionId, "--from", "failed", "--audit", audit], env)
    expect(noFailure.code).toBe(1)
    expect(noFailure.stderr).toContain("it has no failed node")
  })
})
