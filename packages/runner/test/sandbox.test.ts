import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Runner } from "@jsonflow/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { httpFlow, post, tempDir } from "./support.ts"

// Busy for longer than any limit below, without a construct the static checks call an obvious infinite loop.
const SPIN = "export default () => { const end = Date.now() + 20000; while (Date.now() < end) {} return 1 }"
const js = (source: string, extra: Record<string, unknown> = {}) => ({ type: "js", config: { source, ...extra } })

describe("the runner's sandbox section", () => {
  const files = tempDir({
    "ok.flow.json": httpFlow("ok", "POST", "/ok", [js("export default (i) => ({ n: i.n + 1 })")]),
    "spin.flow.json": httpFlow("spin", "POST", "/spin", [js(SPIN)]),
    "within.flow.json": httpFlow("within", "POST", "/within", [js(SPIN, { timeoutMs: 350 })])
  })
  let runner: Runner.RunningRunner
  const metrics = async () => (await fetch(`${runner.url}/metrics`)).text()
  beforeAll(async () => {
    runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        audit: { sink: "none" },
        sandbox: { limits: { timeoutMs: 200 }, maxLimits: { timeoutMs: 400 }, processes: 2, maxRssMb: 512 }
      }
    })
  })
  afterAll(async () => {
    await runner?.stop()
    files.cleanup()
  })

  it("/metrics shows the sandbox before it starts: configured, none alive, no calls", async () => {
    const text = await metrics()
    expect(text).toContain('jsonflow_sandbox_processes{state="configured"} 2')
    expect(text).toContain('jsonflow_sandbox_processes{state="alive"} 0')
    expect(text).toContain("jsonflow_sandbox_calls_in_flight 0")
    expect(text).not.toMatch(/jsonflow_sandbox_calls_total\{/)
  })

  it("calls get the configured default limit; a node may ask for more up to the ceiling", async () => {
    expect(await post(`${runner.url}/ok`, { n: 1 })).toMatchObject({ status: 200, body: { n: 2 } })
    const spin = await post(`${runner.url}/spin`, {})
    expect(spin.status).toBe(500)
    expect(spin.body).toMatchObject({ error: { _tag: "NodeFailed", cause: { _tag: "ScriptTimeout" } } })
    expect((spin.body as { error: { message: string } }).error.message).toContain("ran past its 200 ms time limit")
    const within = await post(`${runner.url}/within`, {})
    expect((within.body as { error: { message: string } }).error.message).toContain("ran past its 350 ms time limit")
  })

  it("/metrics counts the calls by outcome and the live process", async () => {
    const text = await metrics()
    expect(text).toContain('jsonflow_sandbox_processes{state="alive"} 2')
    expect(text).toContain('jsonflow_sandbox_calls_total{outcome="ok"} 1')
    expect(text).toContain('jsonflow_sandbox_calls_total{outcome="ScriptTimeout"} 2')
    expect(text).toMatch(/jsonflow_sandbox_isolates_recycled_total \d+/)
    expect(text).toMatch(/jsonflow_sandbox_process_restarts_total \d+/)
  })

  it("a flow asking for more than the ceiling, or using a blocked construct, does not load", async () => {
    writeFileSync(
      join(files.dir, "greedy.flow.json"),
      JSON.stringify(httpFlow("greedy", "POST", "/greedy", [js(SPIN, { timeoutMs: 5000 })]))
    )
    writeFileSync(
      join(files.dir, "evil.flow.json"),
      JSON.stringify(httpFlow("evil", "POST", "/evil", [js('export default () => ({ n: (0, eval)("1 + 1") })')]))
    )
    const report = await runner.reload()
    const messages = report.failures.map((f) => `${f.source}: ${f.message}`).join("\n")
    expect(messages).toContain("greedy.flow.json")
    expect(messages).toContain("over the sandbox's ceiling of 400")
    expect(messages).toContain("evil.flow.json")
    expect(messages).toMatch(/eval/)
    expect((await post(`${runner.url}/greedy`, {})).status).toBe(404)
  })
})

describe("sandbox.staticChecks", () => {
  it('"report" loads and runs a script the default policy blocks', async () => {
    const files = tempDir({
      "evil.flow.json": httpFlow("evil", "POST", "/evil", [js('export default () => ({ n: (0, eval)("1 + 1") })')])
    })
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        flows: { watch: false },
        audit: { sink: "none" },
        sandbox: { staticChecks: "report" }
      }
    })
    try {
      const r = await post(`${runner.url}/evil`, {})
      // Loaded and run: static checks are defense in depth; the isolate's own evaluator is still contained.
      expect(r).toMatchObject({ status: 200, body: { n: 2 } })
    } finally {
      await runner.stop()
      files.cleanup()
    }
  })
})
