import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Shop, startShop } from "./service.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

const request = async (shop: Shop, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${shop.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  })
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown }
}

const cart = {
  items: [
    { sku: "tea-1", qty: 2 },
    { sku: "mug-2", qty: 1 }
  ]
}

describe("embedding example", () => {
  it("main.ts answers on the shop's routes and the flow routes, then exits by itself", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url))
    // A handle left open (server, socket, timer, runtime) keeps the process alive: the timeout kills it and fails.
    const { stdout } = await promisify(execFile)(process.execPath, [main], { cwd: root, timeout: 15_000 })
    expect(stdout.trim().split("\n")).toEqual([
      'GET /status -> 200 {"service":"shop","orders":0}',
      'POST /flows/quote -> 200 {"lines":[{"sku":"tea-1","qty":2,"cents":900},{"sku":"mug-2","qty":1,"cents":1200}],"totalCents":2100}',
      'POST /flows/quote -> 422 {"error":{"code":"UnknownSku","message":"no price for SKU \\"cake-9\\"","sku":"cake-9"}}',
      'POST /checkout -> 201 {"order":1,"totalCents":2100}',
      'GET /status -> 200 {"service":"shop","orders":1}',
      "stopped"
    ])
  })

  describe("the mounted runner", () => {
    let shop: Shop
    beforeAll(async () => {
      shop = await startShop({ port: 0 })
    })
    afterAll(() => shop.close())

    it("runs flows under its prefix and hands everything else to the shop", async () => {
      const quoted = await request(shop, "POST", "/flows/quote", cart)
      expect(quoted.status).toBe(200)
      expect(quoted.body).toMatchObject({ totalCents: 2 * 450 + 1200 })
      expect(quoted.headers.get("x-execution-id")).toMatch(/.+/)
      // Not a flow route: the shop's own 404, not the runner's.
      expect(await request(shop, "GET", "/flows/nothing")).toMatchObject({
        status: 404,
        body: { error: "the shop has no GET /flows/nothing" }
      })
      expect(await request(shop, "GET", "/orders")).toMatchObject({ status: 404 })
    })

    it("checks the flow input against the flow's Schema (400 with a JSON Pointer)", async () => {
      const invalid = await request(shop, "POST", "/flows/quote", { items: [{ sku: "tea-1", qty: 0 }] })
      expect(invalid.status).toBe(400)
      expect(invalid.body).toMatchObject({ error: { _tag: "InputInvalid", flowId: "quote", path: "/items/0/qty" } })
    })

    it("the direct call (Flow.toPromise) and the flow route share the price list", async () => {
      const before = (await request(shop, "GET", "/status")).body as { orders: number }
      const checkout = await request(shop, "POST", "/checkout", { items: [{ sku: "mug-2", qty: 3 }] })
      expect(checkout).toMatchObject({ status: 201, body: { order: before.orders + 1, totalCents: 3600 } })
      const unknown = await request(shop, "POST", "/checkout", { items: [{ sku: "cake-9", qty: 1 }] })
      expect(unknown.status).toBe(400)
      expect(unknown.body).toMatchObject({ error: expect.stringContaining("cake-9") })
    })
  })

  it("close() stops the runner and the server: the port refuses connections", async () => {
    const shop = await startShop({ port: 0 })
    expect((await request(shop, "GET", "/status")).status).toBe(200)
    await shop.close()
    await expect(fetch(`${shop.url}/status`)).rejects.toThrow()
  })
})
