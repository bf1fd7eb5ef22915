import { Grpc } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const GrpcLive = Grpc.layer({
  clients: {
    orders: {
      address: "orders.internal:443",
      protoFiles: ["protos/orders.proto"],
      service: "shop.orders.v1.Orders",
      tls: { caFile: "/etc/ssl/internal-ca.pem" },
      auth: { credential: "orders-api" }, // "authorization: Bearer <token>", token from the credential
      metadata: { "x-tenant": "acme" },
      deadlineMs: 5_000
    }
  }
})

// Stream a customer's orders, then fetch each one's details, 4 at a time.
const details = Flow.make({ id: "order-details", input: Schema.Struct({ customer: Schema.String }) })
  .node("list", Grpc.serverStream, { client: "orders", method: "ListOrders", maxItems: 500 }, (p) => p.$input)
  .forEach(
    "each",
    (p) => p.list.out,
    (order) => order.andThen("get", Grpc.unary, { client: "orders", method: "GetOrder" }),
    { concurrency: 4 }
  )
  .build()

export const result = await Effect.runPromise(Flow.run(details, { customer: "ada" }).pipe(Effect.provide(GrpcLive)))
