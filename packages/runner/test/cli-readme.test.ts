/**
 * The README's main command, end to end, as a new user runs it: `npm start`'s command line (`jsonflow
 * serve examples/flows`, with a temporary audit store and a free port), the banner, the `curl` line it
 * prints, the list command it prints while the runner is up (read through the running runner), a
 * `jsonflow run` and replays (of it, and of the curl'd call from its reply node) recorded through it too,
 * SIGTERM (graceful stop, exit 0), and the list again from the store the runner closed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, it } from "vitest"
import { executionIdOf, jsonflow, type Started, sh, start } from "./cli-support.ts"
import { repoRoot } from "./support.ts"

const dir = mkdtempSync(join(tmpdir(), "jsonflow-readme-"))
let served: Started | undefined
afterAll(async () => {
  await served?.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface Row {
  readonly executionId: string
  readonly flowId: string
  readonly status: string
}

it("npm start, curl, jsonflow executions list (live), SIGTERM, list again", async () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: { start: string } }
  const env = { JSONFLOW_AUDIT_PATH: join(dir, "audit"), PORT: "0" }
  served = await start(pkg.scripts.start, {
    cwd: repoRoot,
    env,
    ready: /\n {2}npx jsonflow executions list[^\n]*\n/,
    timeoutMs: 90_000
  })
  const banner = served.stdout()
  const url = /JSON-Flow runner on (http:\/\/127\.0\.0\.1:\d+) {2}\(2 flows\)\n/.exec(banner)?.[1]
  expect(url, banner).toBeDefined()
  expect(banner).toContain(`  GET    ${url}/hello/:name  (greet)\n`)
  expect(banner).toContain(`  POST   ${url}/double  (double)\n`)
  expect(banner).toContain(`Executions are recorded in ${join(dir, "audit")}; list them`)

  // The printed curl line, run as printed.
  const curl = /\nTry:\n {2}(curl [^\n]+)\n/.exec(banner)![1]!
  const answer = await sh(curl, { cwd: repoRoot, env })
  expect(answer.code).toBe(0)
  expect(answer.stdout).toContain("world")
  expect(() => JSON.parse(answer.stdout)).not.toThrow()

  // The printed list command, while the runner is up: the call is there.
  const list = /\n {2}(npx jsonflow executions list[^\n]*)\n/.exec(banner)![1]!
  const live = await sh(list, { cwd: repoRoot, env })
  expect(live.stderr).toBe("")
  expect(live.code).toBe(0)
  expect(live.stdout).toMatch(/greet@\S+\s+succeeded/)

  // A one-off run records through the running runner as well (full snapshots by default, so that it can
  // be replayed), and so does a replay of it.
  const run = await jsonflow(["run", "examples/flows/double.flow.json", "--input", '{"value":21}'], {
    cwd: repoRoot,
    env
  })
  expect(run.code).toBe(0)
  expect(JSON.parse(run.stdout).body).toEqual({ result: 42 })
  const runId = executionIdOf(run.stderr)
  const replayed = await jsonflow(["replay", runId, "--from", "compute", "--json"], { cwd: repoRoot, env })
  expect(replayed.stderr).toBe("")
  expect(JSON.parse(replayed.stdout).reply.body).toEqual({ result: 42 })
  const rows = JSON.parse((await sh(`${list} --json`, { cwd: repoRoot, env })).stdout) as ReadonlyArray<Row>
  expect(rows.map((r) => [r.flowId, r.status]).sort()).toEqual([
    ["double", "succeeded"],
    ["double", "succeeded"],
    ["greet", "succeeded"]
  ])
  expect(rows.map((r) => r.executionId)).toContain(JSON.parse(replayed.stdout).executionId)
  expect(rows.map((r) => r.executionId)).toContain(runId)
  const shown = await jsonflow(["executions", "show", runId, "--json"], { cwd: repoRoot, env })
  expect((JSON.parse(shown.stdout) as { nodes: ReadonlyArray<{ nodeId: string }> }).nodes.map((n) => n.nodeId)).toEqual(
    ["compute", "reply"]
  )

  // The curl'd call, from its reply node: a flow built in TypeScript replays with its module's node types
  // (`--flow` names what `npm start` serves), with the recorded request.
  const greetId = rows.find((r) => r.flowId === "greet")!.executionId
  const greeted = await jsonflow(["replay", greetId, "--from", "reply", "--flow", "examples/flows", "--json"], {
    cwd: repoRoot,
    env
  })
  expect(greeted.stderr).toBe("")
  expect(JSON.parse(greeted.stdout).reply.body).toEqual(JSON.parse(answer.stdout))

  // Ctrl-C: a graceful stop, then the same executions from the store the runner closed.
  expect(await served.stop()).toBe(0)
  expect(served.stderr()).toContain("shutting down")
  const after = JSON.parse((await sh(`${list} --json`, { cwd: repoRoot, env })).stdout) as ReadonlyArray<Row>
  expect(after.map((r) => r.executionId).sort()).toEqual(
    [...rows.map((r) => r.executionId), JSON.parse(greeted.stdout).executionId].sort()
  )
}, 240_000)
