import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Runner } from "@jsonflow/runner"
import { expect, it } from "vitest"
import { httpFlow, post, tempDir } from "./support.ts"

it("exports a span per execution and per node over OTLP/HTTP", async () => {
  const spans: Array<{ name: string; parentSpanId?: string; traceId: string }> = []
  const collector = createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => {
      body += c.toString()
    })
    req.on("end", () => {
      const parsed = JSON.parse(body) as {
        resourceSpans: Array<{
          scopeSpans: Array<{ spans: Array<{ name: string; parentSpanId?: string; traceId: string }> }>
        }>
      }
      for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans)
      res.end("{}")
    })
  })
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r))
  const files = tempDir({
    "double.flow.json": httpFlow("double", "POST", "/double", [
      { type: "map", config: { fields: { result: "value" } } }
    ])
  })
  try {
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      config: {
        server: { port: 0, host: "127.0.0.1" },
        audit: { sink: "none" },
        tracing: { otlpUrl: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces` }
      }
    })
    expect((await post(`${runner.url}/double`, { value: 2 })).status).toBe(200)
    await runner.stop() // flushes the exporter
    const names = spans.map((s) => s.name).sort()
    expect(names).toEqual(["flow double", "node n0", "node reply"])
    const root = spans.find((s) => s.name === "flow double")!
    expect(spans.filter((s) => s.name.startsWith("node")).every((s) => s.traceId === root.traceId)).toBe(true)
  } finally {
    collector.close()
    files.cleanup()
  }
})
