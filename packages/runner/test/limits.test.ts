import { connect } from "node:net"
import { Runner } from "@jsonflow/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as ClientIp from "../src/ops/clientIp.ts"
import * as RateLimit from "../src/ops/rateLimit.ts"
import * as Flows from "./fixtures/flows.ts"

describe("client address", () => {
  it("is the socket peer unless the peer is a trusted proxy; X-Forwarded-For is read right to left", () => {
    const untrusting = ClientIp.make([])
    expect(untrusting("10.0.0.5", "1.2.3.4")).toBe("10.0.0.5")
    const clientIp = ClientIp.make(["10.0.0.0/8", "::1"])
    expect(clientIp("10.0.0.5", "203.0.113.9, 10.0.0.7")).toBe("203.0.113.9")
    expect(clientIp("198.51.100.4", "1.2.3.4")).toBe("198.51.100.4")
    expect(clientIp("::ffff:10.1.1.1", "spoofed, 192.0.2.1")).toBe("192.0.2.1")
    expect(clientIp("10.1.1.1", "not-an-ip")).toBe("10.1.1.1")
    expect(() => ClientIp.make(["proxy.local"])).toThrow(/not an IP address/)
  })

  it("token buckets refill at their rate and answer how long to wait", () => {
    const limiter = RateLimit.make()
    const limit = { perSecond: 2, burst: 2 }
    expect(limiter.take("a", limit, 0)).toBe(0)
    expect(limiter.take("a", limit, 0)).toBe(0)
    expect(limiter.take("a", limit, 0)).toBeCloseTo(0.5)
    expect(limiter.take("b", limit, 0)).toBe(0) // another client has its own bucket
    expect(limiter.take("a", limit, 500)).toBe(0) // half a second later: one token back
  })
})

describe("per-client rate limit and body deadline over HTTP", () => {
  let runner: Runner.RunningRunner
  beforeAll(async () => {
    runner = await Runner.start({
      flows: [Flows.echo],
      log: () => {},
      config: {
        server: { port: 0, host: "127.0.0.1", bodyTimeoutMs: 500, trustedProxies: ["127.0.0.1"] },
        audit: { sink: "none" },
        limits: { perClient: { perSecond: 0.1, burst: 2 } }
      }
    })
  })
  afterAll(async () => {
    await runner?.stop()
  })

  it("limits each client separately; behind a trusted proxy the client is the forwarded address", async () => {
    const call = (ip: string) =>
      fetch(`${runner.url}/echo/1`, { method: "POST", body: "{}", headers: { "x-forwarded-for": ip } }).then(
        (r) => r.status
      )
    expect([await call("192.0.2.1"), await call("192.0.2.1"), await call("192.0.2.1")]).toEqual([201, 201, 429])
    expect(await call("192.0.2.2")).toBe(201)
  })

  it("408 when the body does not arrive in time", async () => {
    const status = await new Promise<string>((resolve, reject) => {
      const port = Number(new URL(runner.url!).port)
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(
          "POST /echo/1 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"
        )
      })
      let text = ""
      socket.on("data", (c: Buffer) => {
        text += c.toString()
      })
      socket.on("data", () => {
        if (text.includes("\r\n\r\n")) socket.destroy()
      })
      socket.on("close", () => resolve(text.split("\r\n")[0] ?? ""))
      socket.on("error", reject)
    })
    expect(status).toBe("HTTP/1.1 408 Request Timeout")
  }, 10_000)
})
