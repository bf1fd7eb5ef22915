/**
 * The reference use case (SQL query -> filter -> field mapping -> HTTP POST) with in-test stand-ins for the
 * connectors: a table service and a POST node that sends real HTTP requests to a server the test starts.
 */

import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer, Schema } from "effect"
import { Flow, Node } from "../../src/index.ts"

export const Order = Schema.Struct({
  id: Schema.Number,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.String
})
type Order = typeof Order.Type

export class OrdersTable extends Context.Service<
  OrdersTable,
  { readonly select: Effect.Effect<ReadonlyArray<Order>> }
>()("test/OrdersTable") {}

export const query = Node.define({
  type: "test.sql.query",
  config: Schema.Struct({ table: Schema.String }),
  input: Schema.Unknown,
  output: Schema.Array(Order),
  run: () =>
    Effect.gen(function* () {
      return yield* (yield* OrdersTable).select
    })
})

export class PostFailed extends Schema.TaggedError<PostFailed>()("PostFailed", {
  status: Schema.Number,
  retryable: Schema.Boolean
}) {}

export const post = Node.define({
  type: "test.http.post",
  config: Schema.Struct({ url: Schema.String }),
  input: Schema.Unknown,
  output: Schema.Struct({ status: Schema.Number }),
  run: (body, config) =>
    Effect.tryPromise({
      try: (signal) =>
        fetch(config.url, {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
          signal
        }),
      catch: () => new PostFailed({ status: 0, retryable: true })
    }).pipe(
      Effect.flatMap((response) =>
        response.ok
          ? Effect.succeed({ status: response.status })
          : Effect.fail(new PostFailed({ status: response.status, retryable: response.status >= 500 }))
      )
    )
})

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = ""
    request.on("data", (chunk) => (body += chunk))
    request.on("end", () => resolve(body))
  })

/** A loopback HTTP server that records every JSON body it receives. */
export const recordingServer = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<unknown> = []
    const server = createServer(async (request, response) => {
      received.push(JSON.parse(await readBody(request)))
      response.writeHead(201, { "content-type": "application/json" }).end("{}")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { server, received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders` }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

export const orders: ReadonlyArray<Order> = [
  { id: 1, customer: "Ada", amount: 250, status: "paid" },
  { id: 2, customer: "Bob", amount: 40, status: "paid" },
  { id: 3, customer: "Cy", amount: 900, status: "open" },
  { id: 4, customer: "Di", amount: 120, status: "paid" }
]
export const tableLayer = Layer.succeed(OrdersTable, { select: Effect.succeed(orders) })

export const referenceFlow = (url: string) =>
  Flow.make({ id: "paid-orders-to-crm", version: "1.0.0" })
    .andThen("query", query, { table: "orders" })
    .filter("paid", (p) => p.query.out, {
      all: [
        { path: "status", op: "eq", value: "paid" },
        { path: "amount", op: "gte", value: 100 }
      ]
    })
    .map("shape", (p) => p.paid.out, {
      each: true,
      fields: { externalId: "id", "contact.name": "customer", total: "amount", currency: { value: "EUR" } }
    })
    .node("send", post, { url }, (p) => p.shape.out, { retry: { maxAttempts: 3, initialDelayMs: 10 } })
    .build()
