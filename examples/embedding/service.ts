/**
 * An existing Node service (a plain `node:http` server with its own routes) that adopts JSON-Flow in two
 * ways: the runner is mounted under `/flows` with the promise API (`Runner.start({ server })`), and the
 * shop's own checkout route calls a builder flow directly (`Flow.toPromise`). `close()` takes both down.
 *
 * @module service
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Flow } from "@jsonflow/core"
import { Runner } from "@jsonflow/runner"
import { Schema } from "effect"
import { Cart, priceListLayer, pricing, quote } from "./pricing.ts"

/** The running shop. */
export interface Shop {
  readonly url: string
  /** Stops the runner (graceful drain), disposes the direct flow's layer, then closes the server. */
  readonly close: () => Promise<void>
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString("utf8"))
}

const decodeCart = Schema.decodeUnknownSync(Cart)

/**
 * Starts the shop on `port` (0 picks a free one) on the loopback interface.
 *
 * @example
 * ```ts
 * const shop = await startShop({ port: 3000 })
 * // GET /status and POST /checkout are the shop's; POST /flows/quote is a flow
 * await shop.close()
 * ```
 */
export const startShop = async (options: { readonly port: number }): Promise<Shop> => {
  const PriceListLive = priceListLayer({ "tea-1": 450, "mug-2": 1200 })

  // A flow called from the shop's own code: build its layer once, run it per request, dispose at the end.
  const price = Flow.toPromise(pricing, PriceListLive)
  let orders = 0

  // The shop's own routes, unchanged by the runner: it only answers what is under its prefix.
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/status") return send(res, 200, { service: "shop", orders })
    if (req.method === "POST" && req.url === "/checkout") {
      readJson(req)
        .then((body) => price.run(decodeCart(body)))
        .then(
          ({ output }) => send(res, 201, { order: ++orders, totalCents: output.totalCents }),
          (error: unknown) => send(res, 400, { error: error instanceof Error ? error.message : String(error) })
        )
      return
    }
    send(res, 404, { error: `the shop has no ${req.method} ${req.url}` })
  })
  await new Promise<void>((resolve) => server.listen(options.port, "127.0.0.1", resolve))

  // The runner in the same server: flow routes under /flows, the price list as the flows' service.
  const runner = await Runner.start({
    flows: [quote],
    layers: PriceListLive,
    server,
    config: { server: { prefix: "/flows" }, audit: { sink: "none" }, logs: { level: "warn" } }
  })

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await runner.stop()
      await price.dispose()
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeIdleConnections()
      })
    }
  }
}
