import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Runner } from "@jsonflow/runner"
import { afterEach, describe, expect, it } from "vitest"
import { crmLayer, customerApi } from "./bridge.ts"
import { startCrm } from "./crm-service.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

/** The CRM and a runner serving the bridge, both stopped after each test. */
const started: Array<() => Promise<void>> = []
const bridge = async () => {
  const crm = await startCrm()
  started.push(() => crm.close())
  const runner = await Runner.start({
    flows: [customerApi],
    layers: crmLayer(crm.endpoint),
    config: { server: { host: "127.0.0.1", port: 0 }, audit: { sink: "none" } },
    log: () => {}
  })
  started.push(() => runner.stop())
  const get = async (path: string) => {
    const response = await fetch(`${runner.url}${path}`)
    return { status: response.status, headers: response.headers, body: (await response.json()) as unknown }
  }
  return { crm, get }
}
afterEach(async () => {
  for (const stop of started.splice(0).reverse()) await stop()
})

describe("SOAP-to-REST example", () => {
  it("main.ts prints the REST answers of every path", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, [main], { cwd: root, timeout: 20_000 })
    expect(stdout.trim().split("\n")).toEqual([
      'GET /customers/C-1 -> 200 {"id":"C-1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD","balance":1250.5}',
      'GET /customers/C-9 -> 404 {"error":{"code":"CustomerNotFound","message":"no customer C-9","id":"C-9"}}',
      'GET /customers/bob -> 400 {"error":{"code":"InvalidRequest","message":"customerId must look like C-123, got \\"bob\\""}}',
      'GET /customers/C-1 -> 502 {"error":{"code":"CrmUnavailable","message":"the customer service is not answering; try again later","cause":"SoapFault","attempts":2}}',
      "SOAP calls received: 5"
    ])
  })

  it("maps the SOAP answer to the REST shape", async () => {
    const { crm, get } = await bridge()
    const answer = await get("/customers/C-2")
    expect(answer.status).toBe(200)
    expect(answer.headers.get("content-type")).toContain("application/json")
    expect(answer.body).toEqual({
      id: "C-2",
      name: "Grace Hopper",
      email: "grace@example.com",
      tier: "SILVER",
      balance: 0
    })
    expect(crm.calls()).toBe(1)
  })

  it("Client faults become 404 (detail NOT_FOUND) and 400, each after one call: they are not retried", async () => {
    const { crm, get } = await bridge()
    expect(await get("/customers/C-404")).toMatchObject({
      status: 404,
      body: { error: { code: "CustomerNotFound", message: "no customer C-404", id: "C-404" } }
    })
    expect(crm.calls()).toBe(1)
    const rejected = await get("/customers/c1")
    expect(rejected.status).toBe(400)
    expect(rejected.body).toEqual({
      error: { code: "InvalidRequest", message: 'customerId must look like C-123, got "c1"' }
    })
    expect(crm.calls()).toBe(2)
  })

  it("a Server fault is retried once, then answers 502 with Retry-After; the bridge recovers with the CRM", async () => {
    const { crm, get } = await bridge()
    crm.setMaintenance(true)
    const failed = await get("/customers/C-1")
    expect(failed.status).toBe(502)
    expect(failed.headers.get("retry-after")).toBe("30")
    expect(failed.body).toMatchObject({ error: { code: "CrmUnavailable", cause: "SoapFault", attempts: 2 } })
    expect(crm.calls()).toBe(2)
    crm.setMaintenance(false)
    expect(await get("/customers/C-1")).toMatchObject({ status: 200, body: { id: "C-1", tier: "GOLD" } })
  })

  it("a CRM that is down (connection refused) is a 502 too, not a 500", async () => {
    const { crm, get } = await bridge()
    await crm.close()
    const failed = await get("/customers/C-1")
    expect(failed.status).toBe(502)
    expect(failed.body).toMatchObject({ error: { code: "CrmUnavailable", cause: "SoapConnectionError", attempts: 2 } })
  })
})
