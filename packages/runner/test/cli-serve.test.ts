/**
 * The banner `jsonflow serve` prints: one line per flow, the operations URLs, a `curl` line that works as
 * printed (run here through `sh`, its answer compared with a programmatic trigger of the same flow), and
 * where executions are recorded with the command that lists them.
 */
import { join } from "node:path"
import { Runner } from "@jsonflow/runner"
import { afterAll, describe, expect, it } from "vitest"
import { type BannerAudit, banner } from "../src/cli/commands/serve.ts"
import { sh } from "./cli-support.ts"
import { repoRoot } from "./support.ts"

const printed = (url: string, prefix: string, flows: Parameters<typeof banner>[2], audit?: BannerAudit) => {
  let out = ""
  banner(url, prefix, flows, { stdout: (t) => (out += t), stderr: (t) => (out += t), cwd: repoRoot }, audit)
  return out
}

const started: Array<{ stop: () => Promise<void> }> = []
afterAll(async () => {
  for (const runner of started) await runner.stop()
})
const startRunner = async (flows: ReadonlyArray<string>, prefix?: string) => {
  const runner = await Runner.start({
    flows,
    env: {},
    config: {
      server: { port: 0, host: "127.0.0.1", ...(prefix === undefined ? {} : { prefix }) },
      flows: { watch: false },
      audit: { sink: "none" },
      logs: { level: "none" }
    }
  })
  started.push(runner)
  return runner
}

const curlOf = (text: string) => {
  const match = /\nTry:\n {2}(curl [^\n]+)\n/.exec(text)
  if (match === null) throw new Error(`no curl line in:\n${text}`)
  return match[1]!
}

describe("jsonflow serve banner", () => {
  it("lists the flows and prints a POST curl line with an example body that works as printed", async () => {
    const runner = await startRunner([join(repoRoot, "examples/flows/double.flow.json")])
    const url = runner.url!
    const text = printed(url, runner.config.server.prefix, runner.flows(), {
      sink: "embedded",
      where: ".jsonflow/audit"
    })
    expect(text).toBe(
      [
        "",
        `JSON-Flow runner on ${url}  (1 flow)`,
        `  POST   ${url}/double  (double)`,
        `  health ${url}/health   ready ${url}/ready   metrics ${url}/metrics`,
        "",
        "Try:",
        `  curl -s -X POST ${url}/double -H 'content-type: application/json' -d '{"value":21}'`,
        "",
        "Executions are recorded in .jsonflow/audit; list them (also while the runner is up) with:",
        "  npx jsonflow executions list",
        "",
        ""
      ].join("\n")
    )
    const curl = await sh(curlOf(text), { cwd: repoRoot })
    expect(curl.code).toBe(0)
    const triggered = await runner.trigger("double", { value: 21 })
    expect(JSON.parse(curl.stdout)).toEqual(triggered.reply?.body)
  })

  it("fills path parameters with readable values from the input schema, under the route prefix", async () => {
    const runner = await startRunner([join(repoRoot, "examples/flows/greet.ts")], "/flows")
    const url = runner.url!
    const text = printed(url, runner.config.server.prefix, runner.flows())
    expect(text).toContain(`  GET    ${url}/flows/hello/:name  (greet)\n`)
    const line = curlOf(text)
    expect(line).toBe(`curl -s ${url}/flows/hello/world`)
    const curl = await sh(line, { cwd: repoRoot })
    expect(curl.code).toBe(0)
    expect(JSON.parse(curl.stdout)).toEqual((await runner.trigger("greet", { name: "world" })).reply?.body)
    expect(text).not.toContain("Executions are")
  })

  it("says where executions go for each sink, with the options the list command needs", () => {
    const flows = [{ id: "double", kind: "json", trigger: { type: "http", method: "POST", path: "/double" } }]
    const url = "http://127.0.0.1:8080"
    expect(
      printed(url, "", flows, { sink: "postgres", where: "postgres://jf@db/app", listArgs: "--config runner.json" })
    ).toContain(
      "Executions are recorded in postgres://jf@db/app; list them (also while the runner is up) with:\n  npx jsonflow executions list --config runner.json\n"
    )
    expect(printed(url, "", flows, { sink: "jsonl", where: "audit.jsonl" })).toContain(
      "Executions are written to audit.jsonl.\n"
    )
    expect(printed(url, "", flows, { sink: "none", where: "nowhere" })).not.toContain("Executions")
  })
})
