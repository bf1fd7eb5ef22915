/**
 * "A user runs a flow, sees it in `jsonflow executions list`, opens its timeline, replays it from a node",
 * with the runner's defaults (embedded store in `.jsonflow/audit`, full snapshots): the real `jsonflow serve`
 * on a directory with an HTTP flow that sets variables from the request, a `curl`-like call, then the
 * commands as separate processes while the runner is up. The replay from the middle node restores the
 * variables set upstream and the request (its credential headers were never stored: the replay says it
 * leaves them out), gives the original's output and is recorded as a new execution linked to the original;
 * the current version replays from `--flow <dir>`; an execution recorded with `metadata` snapshots is refused
 * with the setting to change.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, it } from "vitest"
import { executionIdOf, jsonflow, type Started, start } from "./cli-support.ts"

const dir = mkdtempSync(join(tmpdir(), "jsonflow-replay-e2e-"))
let served: Started | undefined
afterAll(async () => {
  await served?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const edge = (from: string, to: string) => ({ from: { node: from, port: "out" }, to: { node: to, port: "in" } })

/** POST /orders/:region: variables from the request, a price, a label that reads both, the reply. */
const flowFile = (version: string, suffix: string) => ({
  dsl: 1,
  id: "orders",
  version,
  trigger: { type: "http", method: "POST", path: "/orders/:region" },
  nodes: {
    tag: {
      type: "setVariables",
      config: { values: { region: "$trigger.params.region", tenant: "$trigger.headers.x-tenant" } }
    },
    price: {
      type: "map",
      config: { fields: { total: { expr: "qty * unit" }, region: "$vars.region", source: "$trigger.query.source" } }
    },
    label: {
      type: "map",
      config: {
        fields: {
          total: "total",
          line: { expr: `$vars.tenant & '/' & region & '/' & $string(total) & '${suffix}'` },
          source: "source"
        }
      }
    },
    reply: { type: "respond", config: { status: 200 } }
  },
  edges: [edge("$input", "tag"), edge("tag", "price"), edge("price", "label"), edge("label", "reply")]
})

interface Row {
  readonly executionId: string
  readonly flowId: string
  readonly flowVersion: string
  readonly status: string
  readonly replayOf?: string
}

it("serve, call, executions list, show, replay from the middle node and on the current version", async () => {
  const flows = join(dir, "flows")
  mkdirSync(flows)
  writeFileSync(join(flows, "orders.flow.json"), JSON.stringify(flowFile("1", "")))
  served = await start(`jsonflow serve ${flows}`, {
    cwd: dir,
    env: { PORT: "0" },
    ready: /\n {2}npx jsonflow executions list[^\n]*\n/,
    timeoutMs: 90_000
  })
  const url = /JSON-Flow runner on (http:\/\/127\.0\.0\.1:\d+)/.exec(served.stdout())?.[1]
  expect(url, served.stdout()).toBeDefined()
  // The default store, where the banner says.
  expect(served.stdout()).toContain("Executions are recorded in .jsonflow/audit")

  const response = await fetch(`${url}/orders/eu?source=web`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tenant": "acme", authorization: "Bearer s3cr3t-t0ken-value" },
    body: JSON.stringify({ qty: 3, unit: 7 })
  })
  expect(response.status).toBe(200)
  const answer = (await response.json()) as Record<string, unknown>
  expect(answer).toEqual({ total: 21, line: "acme/eu/21", source: "web" })
  const id = response.headers.get("x-execution-id")

  const cwd = dir
  const listed = await jsonflow(["executions", "list", "--json"], { cwd })
  expect(listed.stderr).toBe("")
  const rows = JSON.parse(listed.stdout) as ReadonlyArray<Row>
  const original = rows.find((r) => r.flowId === "orders")
  expect(original?.status).toBe("succeeded")
  expect(original?.executionId).toBe(id)
  const originalId = original!.executionId

  // The timeline: the four nodes with their durations; as JSON, the recorded values; as HTML, a page.
  const shown = await jsonflow(["executions", "show", originalId], { cwd })
  expect(shown.code).toBe(0)
  for (const node of ["tag", "price", "label", "reply"]) expect(shown.stdout).toMatch(new RegExp(`\\b${node}\\b`))
  expect(shown.stdout).not.toContain("values not recorded")
  const trace = JSON.parse((await jsonflow(["executions", "show", originalId, "--json"], { cwd })).stdout) as {
    readonly execution: { readonly output: unknown }
    readonly nodes: ReadonlyArray<{ readonly nodeId: string }>
  }
  expect(trace.nodes.map((n) => n.nodeId)).toEqual(["tag", "price", "label", "reply"])
  expect(JSON.stringify(trace)).not.toContain("s3cr3t-t0ken-value")
  const html = join(dir, "timeline.html")
  expect((await jsonflow(["executions", "show", originalId, "--html", html], { cwd })).code).toBe(0)
  expect(existsSync(html) && readFileSync(html, "utf8")).toContain("price")

  // From the middle node: `price` reads a variable `tag` set and the request's query; `label` the other.
  const replayed = await jsonflow(["replay", originalId, "--from", "price", "--json"], { cwd })
  expect(replayed.stderr).toBe(
    "jsonflow replay: note: the authorization header was masked by the audit and is left out\n"
  )
  expect(replayed.code).toBe(0)
  const again = JSON.parse(replayed.stdout) as {
    executionId: string
    replayOf: string
    output: unknown
    reply: { body: unknown }
  }
  expect(again.reply.body).toEqual(answer)
  expect(again.output).toEqual(trace.execution.output)
  expect(again.replayOf).toBe(originalId)
  const replayTrace = JSON.parse((await jsonflow(["executions", "show", again.executionId, "--json"], { cwd })).stdout)
  expect(replayTrace.execution.replayOf).toBe(originalId)
  expect(replayTrace.nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(["price", "label", "reply"])

  // The current version, read from a directory as `serve` reads one.
  const next = join(dir, "next")
  mkdirSync(next)
  writeFileSync(join(next, "orders.flow.json"), JSON.stringify(flowFile("2", "/v2")))
  const current = await jsonflow(
    ["replay", originalId, "--from", "price", "--version", "current", "--flow", next, "--json"],
    {
      cwd
    }
  )
  expect(current.code, current.stderr).toBe(0)
  expect(JSON.parse(current.stdout).reply.body).toEqual({ ...answer, line: "acme/eu/21/v2" })

  // Both replays are new executions linked to the original, each on its version.
  const after = JSON.parse((await jsonflow(["executions", "list", "--json"], { cwd })).stdout) as ReadonlyArray<Row>
  const replays = after.filter((r) => r.replayOf === originalId)
  expect(replays.map((r) => [r.executionId, r.flowVersion, r.status]).sort()).toEqual(
    [
      [again.executionId, "1", "succeeded"],
      [JSON.parse(current.stdout).executionId, "2", "succeeded"]
    ].sort()
  )

  // The opt-out: an execution recorded with metadata snapshots is refused, naming the setting.
  writeFileSync(join(dir, "double.flow.json"), JSON.stringify({ ...flowFile("1", ""), id: "meta" }))
  const run = await jsonflow(["run", "double.flow.json", "--input", '{"qty":1,"unit":2}'], {
    cwd,
    env: { JSONFLOW_AUDIT_SNAPSHOTS: "metadata" }
  })
  expect(run.code, run.stderr).toBe(0)
  const refused = await jsonflow(["replay", executionIdOf(run.stderr), "--from", "price"], { cwd })
  expect(refused.code).toBe(1)
  expect(refused.stderr).toContain("it was recorded with metadata snapshots")
  expect(refused.stderr).toContain("JSONFLOW_AUDIT_SNAPSHOTS=full")
}, 180_000)
