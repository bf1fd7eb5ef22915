/**
 * The README's "Designer JSON, nFlow exports and user code" commands, read from the README itself and run as
 * a new user runs them (each `npx jsonflow …` line of its shell block, with `$F` as the block sets it), so the
 * README cannot drift from what the CLI does. `serve` is covered by the runner's own tests.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cli } from "./cli-support.ts"
import { repoRoot, tempDir } from "./support.ts"

const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
const section = readme.slice(readme.indexOf("## Designer JSON"))
const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ""
const file = /^F=(\S+)$/m.exec(block)?.[1] ?? ""

/** The arguments of a README line: `npx jsonflow run $F --input '{…}'   # comment` → ["run", file, "--input", "{…}"]. */
const argsOf = (line: string): ReadonlyArray<string> => {
  const words = line.replace(/\s+#.*$/, "").match(/'[^']*'|\S+/g) ?? []
  return words.slice(2).map((w) => (w === "$F" ? join(repoRoot, file) : w.replace(/^'(.*)'$/, "$1")))
}
const lines = block.split("\n").filter((l) => l.startsWith("npx jsonflow ") && !l.startsWith("npx jsonflow serve"))
const line = (command: string) => {
  const found = lines.find((l) => l.startsWith(`npx jsonflow ${command} `))
  if (found === undefined) throw new Error(`the README block has no "npx jsonflow ${command}" line`)
  return argsOf(found)
}

const cwd = tempDir()
afterAll(() => cwd.cleanup())
const env = { JSONFLOW_AUDIT_SINK: "none" }

describe("README: designer JSON and nFlow exports", () => {
  it("names an export that exists and the four commands", () => {
    expect(existsSync(join(repoRoot, file))).toBe(true)
    expect(lines.map((l) => l.split(" ")[2])).toEqual(["validate", "import-nflow", "run", "graph"])
  })

  it("validate says ok", async () => {
    const ran = await cli(line("validate"), { cwd: cwd.dir, env })
    expect([ran.code, ran.stdout]).toEqual([0, `ok ${join(repoRoot, file)}\n`])
  })

  it("import-nflow writes one canonical flow per starter into --out", async () => {
    const ran = await cli(line("import-nflow"), { cwd: cwd.dir, env })
    expect(ran.code).toBe(0)
    const written = readdirSync(join(cwd.dir, "my-flows"))
    expect(written).toEqual(["orders-post-orders-region.flow.json"])
    expect(ran.stdout).toContain("(POST /orders/:region)")
    const canonical = JSON.parse(readFileSync(join(cwd.dir, "my-flows", written[0]!), "utf8")) as { dsl: number }
    expect(canonical.dsl).toBe(1)
  })

  it("run answers what the README says", async () => {
    const ran = await cli(line("run"), { cwd: cwd.dir, env })
    expect(ran.code).toBe(0)
    const reply = JSON.parse(ran.stdout) as { status: number; body: Record<string, unknown> }
    expect(reply.status).toBe(201)
    expect(reply.body).toEqual({ region: "eu", items: 1, total: 9 })
    const shown = /# (\{"status":\d+)/.exec(block)?.[1]
    expect(shown).toBe(`{"status":${reply.status}`)
  }, 60_000)

  it("graph prints a Mermaid flowchart with the starter's route", async () => {
    const ran = await cli(line("graph"), { cwd: cwd.dir, env })
    expect(ran.code).toBe(0)
    expect(ran.stdout.startsWith("flowchart LR\n")).toBe(true)
    expect(ran.stdout).toContain("POST /orders/:region")
  })
})
