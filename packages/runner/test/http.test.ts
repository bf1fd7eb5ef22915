import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Runner } from "@jsonflow/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Flows from "./fixtures/flows.ts"
import { httpFlow, post, tempDir } from "./support.ts"

const token = "test-admin-token-0123456789"
const files = tempDir({
  "double.flow.json": httpFlow(
    "double",
    "POST",
    "/double",
    [{ type: "map", config: { fields: { result: { expr: "value * 2" } } } }],
    {
      input: { type: "object", properties: { value: { type: "number" } }, required: ["value"] }
    }
  ),
  "notes.md": "not a flow"
})
let runner: Runner.RunningRunner
let url: string

beforeAll(async () => {
  runner = await Runner.start({
    flows: [
      files.dir,
      Flows.echo,
      Flows.typed,
      Flows.boom,
      Flows.crashes,
      Flows.slow,
      Flows.gated,
      Flows.limited,
      Flows.manual
    ],
    log: () => {},
    config: {
      server: { port: 0, host: "127.0.0.1", bodyLimitBytes: 1024 },
      audit: { sink: "none" },
      admin: { token },
      limits: {
        flows: {
          slow: { timeoutMs: 150 },
          gated: { maxConcurrent: 1, maxQueued: 0 },
          limited: { rate: { perSecond: 0.5, burst: 2 } }
        }
      }
    }
  })
  url = runner.url!
})
afterAll(async () => {
  await runner?.stop()
  files.cleanup()
})

describe("HTTP trigger", () => {
  it("runs a canonical JSON flow and answers its reply", async () => {
    const r = await post(`${url}/double`, { value: 21 })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ result: 42 })
    expect(r.headers.get("x-execution-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("gives the flow path params, query, client address and the respond node's status and headers", async () => {
    const r = await post(`${url}/echo/a%20b?q=1`, { hello: "world" })
    expect(r.status).toBe(201)
    expect(r.headers.get("x-flow")).toBe("echo")
    expect(r.body).toEqual({ id: "a b", body: { hello: "world" }, q: "1", ip: "127.0.0.1" })
  })

  it("400 with the problem's path when the input does not fit the flow's input schema (JSON and builder)", async () => {
    const json = await post(`${url}/double`, { value: "x" })
    expect(json.status).toBe(400)
    expect(json.body).toMatchObject({ error: { _tag: "InputInvalid", path: "/value", flowId: "double" } })
    const built = await post(`${url}/typed`, { value: true })
    expect(built.status).toBe(400)
    expect(built.body).toMatchObject({ error: { _tag: "InputInvalid", path: "/value" } })
  })

  it("400 for a body that is not JSON, 413 above the size limit, 415 for an unknown type", async () => {
    expect((await post(`${url}/double`, "{nope")).body).toMatchObject({ error: { _tag: "BodyInvalid" } })
    const big = await post(`${url}/double`, { value: 1, pad: "x".repeat(2_000) })
    expect(big.status).toBe(413)
    expect(big.body).toMatchObject({ error: { _tag: "BodyTooLarge" } })
    const r = await fetch(`${url}/double`, { method: "POST", body: "abc", headers: { "content-type": "image/png" } })
    expect(r.status).toBe(415)
  })

  it("404 for no route, 405 with Allow for a wrong method", async () => {
    const missing = await fetch(`${url}/nothing`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { _tag: "RouteNotFound" } })
    const wrong = await fetch(`${url}/double`, { method: "PUT" })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("POST")
  })

  it("500 with a typed error body naming the node for a flow error; no stack, no defect text", async () => {
    const r = await post(`${url}/boom`, {})
    expect(r.status).toBe(500)
    expect(r.body).toMatchObject({
      error: { _tag: "NodeFailed", nodeId: "explode", cause: { _tag: "Boom", message: "it broke" }, flowId: "boom" }
    })
    expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/)
    const crash = await fetch(`${url}/crash`)
    expect(crash.status).toBe(500)
    const text = await crash.text()
    expect(text).not.toContain("secret internal detail")
  })

  it("504 when the flow runs past its time limit", async () => {
    const r = await post(`${url}/slow`, {})
    expect(r.status).toBe(504)
    expect(r.body).toMatchObject({ error: { _tag: "FlowTimeout", flowId: "slow" } })
  })

  it("429 when the flow's concurrency is used up (shed, not queued)", async () => {
    const [a, b] = await Promise.all([post(`${url}/gated`, {}), post(`${url}/gated`, {})])
    expect([a.status, b.status].sort()).toEqual([200, 429])
    const shed = a.status === 429 ? a : b
    expect(shed.body).toMatchObject({ error: { _tag: "Shed", reason: "concurrency" } })
    expect(shed.headers.get("retry-after")).toBe("1")
  })

  it("429 with Retry-After past the flow's token bucket", async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/limited`)).status)
    expect(statuses).toEqual([200, 200, 429, 429])
    const r = await fetch(`${url}/limited`)
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
  })
})

describe("operations", () => {
  it("health, ready and Prometheus metrics", async () => {
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok" })
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toContain('jsonflow_executions_total{flow="double",trigger="http",status="succeeded"}')
    expect(metrics).toMatch(/jsonflow_execution_duration_seconds_bucket\{flow="double",le="\+Inf"\} \d+/)
    expect(metrics).toMatch(/jsonflow_node_duration_seconds_count\{flow="double",type="map"\} \d+/)
    expect(metrics).toContain('jsonflow_http_requests_total{flow="double",method="POST",status="400"}')
    expect(metrics).toContain('jsonflow_shed_total{flow="gated",reason="concurrency"} 1')
    expect(metrics).toContain("process_resident_memory_bytes")
  })

  it("admin API: 401 without the token; flows, trigger, executions, reload with it", async () => {
    expect((await fetch(`${url}/admin/flows`)).status).toBe(401)
    const auth = { authorization: `Bearer ${token}` }
    const flows = (await (await fetch(`${url}/admin/flows`, { headers: auth })).json()) as Array<{ id: string }>
    expect(flows.map((f) => f.id).sort()).toEqual(
      ["boom", "crashes", "double", "echo", "gated", "limited", "manual", "slow", "typed"].sort()
    )
    const run = await post(`${url}/admin/flows/manual/trigger`, { n: 3 }, auth)
    expect(run.status).toBe(200)
    expect(run.body).toMatchObject({ output: { n: 3 } })
    const bad = await post(`${url}/admin/flows/manual/trigger`, { n: "x" }, auth)
    expect(bad.status).toBe(400)
    const executions = (await (await fetch(`${url}/admin/executions?flow=manual`, { headers: auth })).json()) as Array<{
      status: string
    }>
    expect(executions[0]?.status).toBe("failed")
    // Without a config DB, a flow's versions are the one loaded now.
    const versions = await (await fetch(`${url}/admin/flows/double/versions`, { headers: auth })).json()
    expect(versions).toEqual([
      { flowId: "double", flowVersion: "1", active: true, source: `${files.dir}/double.flow.json` }
    ])
    expect((await fetch(`${url}/admin/flows/nope/versions`, { headers: auth })).status).toBe(404)
    const reload = await post(`${url}/admin/reload`, {}, auth)
    expect(reload.body).toMatchObject({ flows: 9, failures: [] })
  })
})

describe("programmatic trigger", () => {
  it("runs a flow without a trigger route and rejects with typed errors", async () => {
    expect((await runner.trigger("manual", { n: 2 })).output).toEqual({ n: 2 })
    await expect(runner.trigger("manual", { n: "2" })).rejects.toMatchObject({ _tag: "InputInvalid", path: "/n" })
    await expect(runner.trigger("nope", {})).rejects.toMatchObject({ _tag: "FlowNotFound" })
    await expect(runner.trigger("boom", {})).rejects.toMatchObject({ _tag: "NodeFailed", nodeId: "explode" })
  })
})

describe("mounting into an existing server", () => {
  it("answers under the prefix and leaves the rest to the server's own handler", async () => {
    const server: Server = createServer((_req, res) => res.end("app"))
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const mounted = await Runner.start({
      flows: [Flows.echo],
      server,
      log: () => {},
      config: { server: { prefix: "/flows" }, audit: { sink: "none" } }
    })
    try {
      expect(mounted.url).toBe(base)
      expect((await post(`${base}/flows/echo/7`, {})).body).toMatchObject({ id: "7" })
      expect(await (await fetch(`${base}/other`)).text()).toBe("app")
    } finally {
      await mounted.stop()
    }
    expect(await (await fetch(`${base}/flows/echo/7`, { method: "POST" })).text()).toBe("app")
    await new Promise<void>((r) => server.close(() => r()))
  })
})
