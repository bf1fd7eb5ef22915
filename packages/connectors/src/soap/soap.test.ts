import { readFileSync } from "node:fs"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Builtins, Compiler, Credentials, Registry } from "@jsonflow/core"
import { Effect, Fiber, Layer } from "effect"
import * as soap from "soap"
import { runOut } from "../../test/node-context.ts"
import * as Soap from "./index.ts"

const wsdlPath = fileURLToPath(new URL("../../test/fixtures/orders.wsdl", import.meta.url))
const wsdlXml = readFileSync(wsdlPath, "utf8")

interface State {
  wsdlFetches: number
  /** Delay calls whose connection closed before the reply was written. */
  aborted: number
  inFlight: number
  /** TCP connections open on the server right now. */
  open: number
}

interface Fault {
  readonly Fault: {
    readonly faultcode: string
    readonly faultstring: string
    readonly detail?: unknown
    readonly statusCode: number
  }
}

const fault = (faultcode: string, faultstring: string, detail?: unknown): Fault => ({
  // SOAP 1.1 sends faults with HTTP 500.
  Fault: { faultcode, faultstring, ...(detail === undefined ? {} : { detail }), statusCode: 500 }
})

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {}

/** The order service from orders.wsdl, served by `soap.listen` on an ephemeral loopback port. */
const soapServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: http.Server; readonly base: string; readonly state: State }>((resume) => {
    const state: State = { wsdlFetches: 0, aborted: 0, inFlight: 0, open: 0 }
    const server = http.createServer((req, res) => {
      // Paths soap.listen does not own: misbehaving "services".
      if (req.url === "/broken") {
        res.writeHead(200, { "content-type": "text/xml" })
        res.end("<soap:Envelope><soap:Body><unclosed")
      } else if (req.url === "/busy") {
        res.writeHead(503, { "retry-after": "1" })
        res.end()
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    const services = {
      OrderService: {
        OrderPort: {
          GetOrder: async (args: { readonly orderId: number }) => {
            if (args.orderId === 404) throw fault("soap:Client", "Order not found", { orderId: 404 })
            if (args.orderId === 500) throw fault("soap:Server", "Database unavailable")
            return {
              orderId: args.orderId,
              customer: "Ada",
              total: 99.5,
              lines: [
                { sku: "a-1", qty: 2 },
                { sku: "b-2", qty: 1 }
              ]
            }
          },
          Delay: (
            args: { readonly ms: number },
            callback?: (result: unknown) => void,
            _headers?: unknown,
            _req?: http.IncomingMessage,
            res?: http.ServerResponse
          ) => {
            state.inFlight++
            const timer = setTimeout(() => callback?.({ done: true }), args.ms)
            res?.on("close", () => {
              state.inFlight--
              if (!res.writableEnded) {
                state.aborted++
                clearTimeout(timer)
              }
            })
          },
          WhoAmI: (_args: unknown, _callback?: unknown, headers?: unknown, req?: http.IncomingMessage) => {
            const basic = req?.headers.authorization
            if (basic?.startsWith("Basic ")) {
              const [user] = Buffer.from(basic.slice(6), "base64").toString("utf8").split(":")
              return { user: user ?? "", scheme: "basic" }
            }
            const token = record(record(record(headers).Security).UsernameToken)
            if (typeof token.Username === "string") return { user: token.Username, scheme: "wsSecurity" }
            return { user: "anonymous", scheme: "none" }
          }
        }
      }
    }
    server.on("connection", (socket) => {
      state.open++
      socket.on("close", () => state.open--)
    })
    // soap.listen takes over the "request" listeners once the WSDL is parsed: count WSDL fetches after that.
    soap.listen(server, {
      path: "/orders",
      services,
      xml: wsdlXml,
      callback: () => {
        server.prependListener("request", (req: http.IncomingMessage) => {
          if (req.url?.endsWith("?wsdl")) state.wsdlFetches++
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ server, base: `http://127.0.0.1:${port}`, state }))
        })
      }
    })
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const ordersLayer = (base: string, client: Partial<Soap.SoapClientConfig> = {}) =>
  Soap.layer({ clients: { orders: { wsdl: wsdlPath, endpoint: `${base}/orders`, ...client } } })

const waitFor = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (check()) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

/** Once a layer is closed its keep-alive agents are destroyed: the server must see no connection left. */
const noConnectionLeft = (state: State) =>
  waitFor(() => state.open === 0 && state.inFlight === 0, "every connection to the SOAP server to close")

describe("soap.call", () => {
  it.live("calls an operation from a WSDL file through the endpoint override", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      const order = yield* runOut(Soap.call, { orderId: 42 }, { client: "orders", operation: "GetOrder" }).pipe(
        Effect.provide(ordersLayer(base))
      )
      assert.deepStrictEqual(order, {
        orderId: 42,
        customer: "Ada",
        total: 99.5,
        lines: [
          { sku: "a-1", qty: 2 },
          { sku: "b-2", qty: 1 }
        ]
      })
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("fetches a WSDL from a URL once and serves later layers from the cache", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      Soap.clearWsdlCache()
      const layer = Soap.layer({ clients: { orders: { wsdl: `${base}/orders?wsdl`, endpoint: `${base}/orders` } } })
      for (const orderId of [1, 2]) {
        const order = yield* runOut(Soap.call, { orderId }, { client: "orders", operation: "GetOrder" }).pipe(
          Effect.provide(layer)
        )
        assert.strictEqual(record(order).orderId, orderId)
      }
      assert.strictEqual(state.wsdlFetches, 1)
      const operations = yield* Soap.SoapClients.use((s) => Effect.succeed(s.operations("orders"))).pipe(
        Effect.provide(layer)
      )
      assert.deepStrictEqual(operations, [
        "OrderService.OrderPort.GetOrder",
        "OrderService.OrderPort.Delay",
        "OrderService.OrderPort.WhoAmI"
      ])
    }).pipe(Effect.scoped)
  )

  it.live("SOAP faults become SoapFault with code, string and detail", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      const get = (orderId: number, idempotent?: boolean) =>
        Effect.flip(
          runOut(
            Soap.call,
            { orderId },
            {
              client: "orders",
              operation: "OrderService.OrderPort.GetOrder",
              ...(idempotent === undefined ? {} : { idempotent })
            }
          ).pipe(Effect.provide(ordersLayer(base)))
        )
      const notFound = yield* get(404)
      assert.strictEqual(notFound._tag, "SoapFault")
      if (notFound._tag === "SoapFault") {
        assert.strictEqual(notFound.faultCode, "soap:Client")
        assert.strictEqual(notFound.faultString, "Order not found")
        assert.include(notFound.detail ?? "", "404")
        assert.strictEqual(notFound.httpStatus, 500)
      }
      assert.isFalse(notFound.retryable)
      assert.strictEqual(
        notFound.message,
        "SOAP fault from orders.OrderService.OrderPort.GetOrder: soap:Client: Order not found"
      )

      const serverFault = yield* get(500)
      assert.strictEqual(serverFault._tag, "SoapFault")
      assert.isFalse(serverFault.retryable, "a server fault may follow a side effect")
      assert.isTrue((yield* get(500, true)).retryable, "unless the operation is idempotent")
      assert.isFalse((yield* get(404, true)).retryable, "a client fault never is")
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("basic auth and WS-Security username tokens, from credentials by name", () =>
    Effect.gen(function* () {
      const { base } = yield* soapServer
      const credentials = Credentials.layerRecord({ erp: { username: "erp-user", password: "s3cret" } })
      const whoAmI = (auth: Soap.SoapAuth) =>
        runOut(Soap.call, {}, { client: "orders", operation: "WhoAmI" }).pipe(
          Effect.provide(ordersLayer(base, { auth }).pipe(Layer.provide(credentials)))
        )
      assert.deepStrictEqual(yield* whoAmI({ type: "basic", credential: "erp" }), {
        user: "erp-user",
        scheme: "basic"
      })
      assert.deepStrictEqual(
        yield* whoAmI({ type: "wsSecurity", credential: "erp", passwordType: "PasswordDigest", hasNonce: true }),
        { user: "erp-user", scheme: "wsSecurity" }
      )
      const missing = yield* Effect.flip(whoAmI({ type: "basic", credential: "absent" }))
      assert.strictEqual(missing._tag, "CredentialNotFound")
    }).pipe(Effect.scoped)
  )

  it.live("a call past its time limit is aborted: SoapTimeout, and the server sees the connection close", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      const error = yield* Effect.flip(
        runOut(Soap.call, { ms: 5_000 }, { client: "orders", operation: "Delay", timeoutMs: 200 }).pipe(
          Effect.provide(ordersLayer(base))
        )
      )
      assert.strictEqual(error._tag, "SoapTimeout")
      assert.isFalse(error.retryable)
      yield* waitFor(() => state.aborted === 1, "the server to see the aborted request")
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("interrupting a call aborts the HTTP request", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      const fiber = yield* runOut(Soap.call, { ms: 5_000 }, { client: "orders", operation: "Delay" }).pipe(
        Effect.provide(ordersLayer(base)),
        Effect.forkChild
      )
      yield* waitFor(() => state.inFlight === 1, "the call to reach the server")
      yield* Fiber.interrupt(fiber)
      yield* waitFor(() => state.aborted === 1 && state.inFlight === 0, "the server to see the abort")
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("refused connections, malformed responses and HTTP errors are typed", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      const callAt = (endpoint: string) =>
        Effect.flip(
          runOut(Soap.call, { orderId: 1 }, { client: "orders", operation: "GetOrder" }).pipe(
            Effect.provide(Soap.layer({ clients: { orders: { wsdl: wsdlPath, endpoint } } }))
          )
        )
      // The WSDL's own address (port 9) is closed: nothing was sent, so a retry is safe.
      const refused = yield* Effect.flip(
        runOut(Soap.call, { orderId: 1 }, { client: "orders", operation: "GetOrder" }).pipe(
          Effect.provide(Soap.layer({ clients: { orders: { wsdl: wsdlPath } } }))
        )
      )
      assert.strictEqual(refused._tag, "SoapConnectionError")
      assert.isTrue(refused.retryable)

      const broken = yield* callAt(`${base}/broken`)
      assert.strictEqual(broken._tag, "SoapResponseInvalid")
      assert.isFalse(broken.retryable)

      const busy = yield* callAt(`${base}/busy`)
      assert.strictEqual(busy._tag, "SoapHttpError")
      if (busy._tag === "SoapHttpError") assert.strictEqual(busy.status, 503)
      assert.isTrue(busy.retryable)
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("one layer after faults, timeouts and successes: at most one keep-alive connection, none once closed", () =>
    Effect.gen(function* () {
      const { base, state } = yield* soapServer
      yield* Effect.gen(function* () {
        const call = (operation: string, args: Record<string, unknown>, timeoutMs?: number) =>
          runOut(Soap.call, args, { client: "orders", operation, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
        yield* Effect.flip(call("GetOrder", { orderId: 404 }))
        yield* Effect.flip(call("Delay", { ms: 5_000 }, 150))
        yield* waitFor(() => state.aborted === 1, "the timed-out call's connection to be dropped")
        yield* call("GetOrder", { orderId: 1 })
        yield* call("GetOrder", { orderId: 2 })
        assert.isAtMost(state.open, 1, "sequential calls reuse one keep-alive connection")
      }).pipe(Effect.provide(ordersLayer(base)))
      yield* noConnectionLeft(state)
    }).pipe(Effect.scoped)
  )

  it.live("unknown clients and operations list what exists; an unreadable WSDL fails the layer", () =>
    Effect.gen(function* () {
      const { base } = yield* soapServer
      const op = yield* Effect.flip(
        runOut(Soap.call, {}, { client: "orders", operation: "Cancel" }).pipe(Effect.provide(ordersLayer(base)))
      )
      assert.strictEqual(op._tag, "SoapUnknownOperation")
      assert.include(op.message, "OrderService.OrderPort.GetOrder")
      const client = yield* Effect.flip(
        runOut(Soap.call, {}, { client: "billing", operation: "GetOrder" }).pipe(Effect.provide(ordersLayer(base)))
      )
      assert.include(client.message, "available: orders")

      const wsdl = yield* Effect.flip(
        Soap.SoapClients.use(() => Effect.void).pipe(
          Effect.provide(Soap.layer({ clients: { gone: { wsdl: `${wsdlPath}.missing` } } }))
        )
      )
      assert.strictEqual(wsdl._tag, "SoapWsdlError")
    }).pipe(Effect.scoped)
  )

  it.live("runs in a JSON flow compiled against the registry", () =>
    Effect.gen(function* () {
      const { base } = yield* soapServer
      const ir = {
        id: "order-total",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          order: { type: "soap.call", config: { client: "orders", operation: "GetOrder", timeoutMs: 5000 } },
          shape: { type: "map", config: { fields: { id: "orderId", total: "total" } } }
        },
        edges: [
          { from: { node: "$input", port: "out" }, to: { node: "order", port: "in" } },
          { from: { node: "order", port: "out" }, to: { node: "shape", port: "in" } }
        ],
        output: { node: "shape", port: "out" }
      }
      const compiled = yield* Compiler.compile(ir, Registry.merge(Builtins.registry, Soap.registry))
      const result = yield* compiled.run({ orderId: 7 }).pipe(Effect.provide(ordersLayer(base)))
      assert.deepStrictEqual(result.output, { id: 7, total: 99.5 })
    }).pipe(Effect.scoped)
  )
})
