import { readFileSync } from "node:fs"
import { connect, createServer, type Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Credentials, Flow } from "@jsonflow/core"
import { Effect, Fiber, Layer, Schema, Stream } from "effect"
import { runOut } from "../../test/node-context.ts"
import * as Grpc from "./index.ts"

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url))
const protoPath = fixture("orders.proto")
const certPath = fixture("tls-localhost.crt")
const SERVICE = "jsonflow.test.Orders"

const serverPackage = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true })
const ordersService = serverPackage[SERVICE] as protoLoader.ServiceDefinition

interface State {
  /** Calls the server saw cancelled by the client. */
  cancelled: number
  /** Hang calls received (and never answered). */
  hung: number
  /** Stream messages written. */
  streamed: number
}

type Request = Record<string, unknown>

const order = (id: number) => ({
  id,
  customer: "Ada",
  total: 99.5,
  lines: [{ sku: "a-1", qty: 2 }],
  status: "PAID",
  created_ms: "1700000000000"
})

/** The Orders service from orders.proto on an ephemeral loopback port (TLS optional, responses optionally garbled). */
const grpcServer = (options: { readonly tls?: boolean; readonly garbled?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: grpc.Server; readonly address: string; readonly state: State }>((resume) => {
      const state: State = { cancelled: 0, hung: 0, streamed: 0 }
      const definition: protoLoader.ServiceDefinition = options.garbled
        ? {
            ...ordersService,
            // Field 15 with wire type 7, which does not exist: the client cannot decode the response.
            GetOrder: { ...ordersService.GetOrder!, responseSerialize: () => Buffer.from([0x7f]) }
          }
        : ordersService
      const server = new grpc.Server()
      server.addService(definition, {
        GetOrder: (call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const id = Number(call.request.id)
          if (id === 404) callback({ code: grpc.status.NOT_FOUND, details: "no order 404" })
          else if (id === 429) callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "quota exceeded" })
          else callback(null, order(id))
        },
        ListOrders: (call: grpc.ServerWritableStream<Request, unknown>) => {
          const count = Number(call.request.count)
          const delay = Number(call.request.delay_ms)
          let sent = 0
          call.on("cancelled", () => state.cancelled++)
          const next = () => {
            if (call.cancelled) return
            if (sent === count) return call.end()
            sent++
            state.streamed++
            call.write(order(sent))
            setTimeout(next, delay)
          }
          next()
        },
        Hang: (call: grpc.ServerUnaryCall<Request, unknown>) => {
          state.hung++
          call.on("cancelled", () => state.cancelled++)
        },
        Echo: (call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const metadata: Record<string, string> = {}
          for (const [key, value] of Object.entries(call.metadata.getMap())) metadata[key] = String(value)
          callback(null, { text: call.request.text, metadata })
        }
      })
      const credentials = options.tls
        ? grpc.ServerCredentials.createSsl(null, [
            { private_key: readFileSync(fixture("tls-localhost.key")), cert_chain: readFileSync(certPath) }
          ])
        : grpc.ServerCredentials.createInsecure()
      server.bindAsync("127.0.0.1:0", credentials, (error, port) => {
        if (error) resume(Effect.die(error))
        else resume(Effect.succeed({ server, address: `127.0.0.1:${port}`, state }))
      })
    }),
    ({ server }) => Effect.sync(() => server.forceShutdown())
  )

const ordersLayer = (address: string, client: Partial<Grpc.GrpcClientConfig> = {}) =>
  Grpc.layer({ clients: { orders: { address, protoFiles: [protoPath], service: SERVICE, ...client } } })

const waitFor = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (check()) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

/**
 * A TCP relay in front of a server: the client dials the relay, which counts the client connections open
 * through it, so a test can see that a channel's connection closes with its layer.
 */
const countingRelay = (target: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly address: string; readonly open: () => number; readonly close: () => void }>((resume) => {
      const [targetHost = "127.0.0.1", targetPort = "0"] = target.split(":")
      const sockets = new Set<Socket>()
      const relay = createServer((client) => {
        sockets.add(client)
        const upstream = connect({ host: targetHost, port: Number(targetPort) })
        client.pipe(upstream).pipe(client)
        const end = () => {
          sockets.delete(client)
          client.destroy()
          upstream.destroy()
        }
        client.on("close", end).on("error", end)
        upstream.on("close", end).on("error", end)
      })
      relay.listen(0, "127.0.0.1", () => {
        const address = relay.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(
          Effect.succeed({
            address: `127.0.0.1:${port}`,
            open: () => sockets.size,
            close: () => {
              for (const socket of sockets) socket.destroy()
              relay.close()
            }
          })
        )
      })
    }),
    (relay) => Effect.sync(relay.close)
  )

const closedPort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("grpc", () => {
  it.live("grpc.unary returns the response message (int64 as string, enums by name)", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer()
      const response = yield* runOut(Grpc.unary, { id: 42 }, { client: "orders", method: "GetOrder" }).pipe(
        Effect.provide(ordersLayer(address))
      )
      assert.deepStrictEqual(response, order(42))
    }).pipe(Effect.scoped)
  )

  it.live("metadata from the client, the node and a bearer token credential", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer()
      const layer = ordersLayer(address, {
        metadata: { "x-tenant": "acme" },
        auth: { credential: "orders-api" }
      }).pipe(Layer.provide(Credentials.layerRecord({ "orders-api": { token: "t0k3n" } })))
      const reply = yield* runOut(
        Grpc.unary,
        { text: "hi" },
        { client: "orders", method: "Echo", metadata: { "x-request-id": "r-1" } }
      ).pipe(Effect.provide(layer))
      assert.strictEqual(reply.text, "hi")
      const metadata = reply.metadata as Record<string, string>
      assert.strictEqual(metadata["x-tenant"], "acme")
      assert.strictEqual(metadata["x-request-id"], "r-1")
      assert.strictEqual(metadata.authorization, "Bearer t0k3n")
    }).pipe(Effect.scoped)
  )

  it.live("status codes map to GrpcError with retryable classification", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer()
      const get = (id: number) =>
        Effect.flip(
          runOut(Grpc.unary, { id }, { client: "orders", method: "GetOrder" }).pipe(
            Effect.provide(ordersLayer(address))
          )
        )
      const notFound = yield* get(404)
      assert.strictEqual(notFound._tag, "GrpcError")
      if (notFound._tag === "GrpcError") {
        assert.strictEqual(notFound.code, "NOT_FOUND")
        assert.strictEqual(notFound.status, 5)
        assert.strictEqual(notFound.details, "no order 404")
      }
      assert.isFalse(notFound.retryable)
      const exhausted = yield* get(429)
      assert.isTrue(exhausted.retryable)
      assert.include(exhausted.message, "RESOURCE_EXHAUSTED")
    }).pipe(Effect.scoped)
  )

  it.live("a deadline ends the call with a retryable DEADLINE_EXCEEDED; the server sees it cancelled", () =>
    Effect.gen(function* () {
      const { address: direct, state } = yield* grpcServer()
      const relay = yield* countingRelay(direct)
      const error = yield* Effect.flip(
        runOut(Grpc.unary, { id: 1 }, { client: "orders", method: "Hang", deadlineMs: 200 }).pipe(
          Effect.provide(ordersLayer(relay.address))
        )
      )
      assert.strictEqual(error._tag, "GrpcError")
      if (error._tag === "GrpcError") assert.strictEqual(error.code, "DEADLINE_EXCEEDED")
      assert.isTrue(error.retryable)
      yield* waitFor(() => state.cancelled === 1, "the server to see the call cancelled")
      yield* waitFor(() => relay.open() === 0, "the channel's connection to close with the layer")
    }).pipe(Effect.scoped)
  )

  it.live("interrupting a unary call cancels it on the server", () =>
    Effect.gen(function* () {
      const { address: direct, state } = yield* grpcServer()
      const relay = yield* countingRelay(direct)
      const fiber = yield* runOut(Grpc.unary, { id: 1 }, { client: "orders", method: "Hang" }).pipe(
        Effect.provide(ordersLayer(relay.address)),
        Effect.forkChild
      )
      yield* waitFor(() => state.hung === 1, "the call to reach the server")
      yield* Fiber.interrupt(fiber)
      yield* waitFor(() => state.cancelled === 1, "the server to see the cancellation")
      yield* waitFor(() => relay.open() === 0, "the channel's connection to close with the layer")
    }).pipe(Effect.scoped)
  )

  it.live("an unreachable server is a retryable UNAVAILABLE; a garbled response is a non-retryable INTERNAL", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const down = yield* Effect.flip(
        runOut(Grpc.unary, { id: 1 }, { client: "orders", method: "GetOrder" }).pipe(
          Effect.provide(ordersLayer(`127.0.0.1:${port}`))
        )
      )
      assert.strictEqual(down._tag, "GrpcError")
      if (down._tag === "GrpcError") assert.strictEqual(down.code, "UNAVAILABLE")
      assert.isTrue(down.retryable)

      const { address } = yield* grpcServer({ garbled: true })
      const garbled = yield* Effect.flip(
        runOut(Grpc.unary, { id: 1 }, { client: "orders", method: "GetOrder" }).pipe(
          Effect.provide(ordersLayer(address))
        )
      )
      assert.strictEqual(garbled._tag, "GrpcError")
      if (garbled._tag === "GrpcError") assert.strictEqual(garbled.code, "INTERNAL")
      assert.isFalse(garbled.retryable)
    }).pipe(Effect.scoped)
  )

  it.live("one layer after errors, deadlines and streams: one connection while open, none once closed", () =>
    Effect.gen(function* () {
      const { address: direct, state } = yield* grpcServer()
      const relay = yield* countingRelay(direct)
      yield* Effect.gen(function* () {
        const unary = (method: string, request: Record<string, unknown>, deadlineMs?: number) =>
          runOut(Grpc.unary, request, {
            client: "orders",
            method,
            ...(deadlineMs === undefined ? {} : { deadlineMs })
          })
        yield* Effect.flip(unary("GetOrder", { id: 404 }))
        yield* Effect.flip(unary("Hang", { id: 1 }, 150))
        yield* runOut(
          Grpc.serverStream,
          { count: 50, delay_ms: 2 },
          { client: "orders", method: "ListOrders", maxItems: 2, onOverflow: "truncate" }
        )
        yield* unary("GetOrder", { id: 1 })
        yield* waitFor(() => state.cancelled >= 2, "the server to see the deadline and the truncated stream end")
        assert.strictEqual(relay.open(), 1, "every call shares the channel's one HTTP/2 connection")
      }).pipe(Effect.provide(ordersLayer(relay.address)))
      yield* waitFor(() => relay.open() === 0, "the channel's connection to close with the layer")
    }).pipe(Effect.scoped)
  )

  it.live("grpc.serverStream collects up to maxItems: fail or truncate (cancelling the call)", () =>
    Effect.gen(function* () {
      const { address, state } = yield* grpcServer()
      const list = (count: number, extra: Partial<typeof Grpc.ServerStreamConfig.Type> = {}) =>
        runOut(Grpc.serverStream, { count, delay_ms: 5 }, { client: "orders", method: "ListOrders", ...extra }).pipe(
          Effect.provide(ordersLayer(address))
        )

      const all = yield* list(5)
      assert.deepStrictEqual(
        all.map((o) => o.id),
        [1, 2, 3, 4, 5]
      )
      const tooMany = yield* Effect.flip(list(5, { maxItems: 3 }))
      assert.strictEqual(tooMany._tag, "GrpcStreamLimit")
      assert.isFalse(tooMany.retryable)

      const before = state.cancelled
      const firstThree = yield* list(50, { maxItems: 3, onOverflow: "truncate" })
      assert.strictEqual(firstThree.length, 3)
      yield* waitFor(() => state.cancelled > before, "the server to see the rest of the stream cancelled")
      assert.isBelow(state.streamed, 5 + 4 + 50, "the server stopped streaming")
    }).pipe(Effect.scoped)
  )

  it.live("GrpcClients.serverStream is a pull-based Stream; ending it early cancels the call", () =>
    Effect.gen(function* () {
      const { address, state } = yield* grpcServer()
      const firstTwo = yield* Grpc.GrpcClients.use((clients) =>
        clients
          .serverStream("orders", "ListOrders", { count: 1000, delay_ms: 2 })
          .pipe(Stream.take(2), Stream.runCollect)
      ).pipe(Effect.provide(ordersLayer(address)))
      assert.deepStrictEqual(
        firstTwo.map((o) => o.id),
        [1, 2]
      )
      yield* waitFor(() => state.cancelled === 1, "the server to see the stream cancelled")
      assert.isBelow(state.streamed, 100)
    }).pipe(Effect.scoped)
  )

  it.live("a server stream feeds a for-each in a compiled flow", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer()
      const flow = Flow.make({ id: "orders-by-stream", input: Schema.Struct({ count: Schema.Number }) })
        .node("list", Grpc.serverStream, { client: "orders", method: "ListOrders", maxItems: 10 }, (p) => p.$input)
        .forEach(
          "details",
          (p) => p.list.out,
          (item) => item.andThen("get", Grpc.unary, { client: "orders", method: "GetOrder" }),
          {
            concurrency: 2
          }
        )
        .build()
      const result = yield* Flow.run(flow, { count: 3 }).pipe(Effect.provide(ordersLayer(address)))
      assert.deepStrictEqual(
        result.output.map((o) => o.id),
        [1, 2, 3]
      )
    }).pipe(Effect.scoped)
  )

  it.live("TLS with a trusted CA file; a certificate the system roots do not trust is UNAVAILABLE", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer({ tls: true })
      const secure = yield* runOut(Grpc.unary, { id: 7 }, { client: "orders", method: "GetOrder" }).pipe(
        Effect.provide(ordersLayer(address, { tls: { caFile: certPath, serverName: "localhost" } }))
      )
      assert.strictEqual(secure.id, 7)
      const untrusted = yield* Effect.flip(
        runOut(Grpc.unary, { id: 7 }, { client: "orders", method: "GetOrder", deadlineMs: 5_000 }).pipe(
          Effect.provide(ordersLayer(address, { tls: { serverName: "localhost" } }))
        )
      )
      assert.strictEqual(untrusted._tag, "GrpcError")
      if (untrusted._tag === "GrpcError") assert.strictEqual(untrusted.code, "UNAVAILABLE")
    }).pipe(Effect.scoped)
  )

  it.live("unknown methods, wrong method kinds and unknown services are typed errors", () =>
    Effect.gen(function* () {
      const { address } = yield* grpcServer()
      const unknown = yield* Effect.flip(
        runOut(Grpc.unary, {}, { client: "orders", method: "Cancel" }).pipe(Effect.provide(ordersLayer(address)))
      )
      assert.strictEqual(unknown._tag, "GrpcUnknownMethod")
      assert.include(unknown.message, "GetOrder")
      const wrongKind = yield* Effect.flip(
        runOut(Grpc.unary, {}, { client: "orders", method: "ListOrders" }).pipe(Effect.provide(ordersLayer(address)))
      )
      assert.include(wrongKind.message, "serverStream")
      const noService = yield* Effect.flip(
        Grpc.GrpcClients.use(() => Effect.void).pipe(
          Effect.provide(ordersLayer(address, { service: "jsonflow.test.Billing" }))
        )
      )
      assert.strictEqual(noService._tag, "GrpcLoadError")
      assert.include(noService.message, SERVICE)
    }).pipe(Effect.scoped)
  )
})
