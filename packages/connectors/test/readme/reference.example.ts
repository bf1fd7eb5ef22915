import { Http, Sql } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Layer, Schema } from "effect"

const Order = Schema.Struct({
  id: Schema.Number,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.String
})

/** Paid orders of 100 or more, mapped to the CRM's contact shape and POSTed in one request. */
export const paidOrdersToCrm = (crmUrl: string) =>
  Flow.make({ id: "paid-orders-to-crm", version: "1.0.0" })
    .andThen(
      "orders",
      Sql.queryOf(Order),
      Sql.select(Order)`select id, customer, amount::float8 as amount, status from orders order by id`
    )
    .filter("paid", (p) => p.orders.out, {
      all: [
        { path: "status", op: "eq", value: "paid" },
        { path: "amount", op: "gte", value: 100 }
      ]
    })
    .map("shape", (p) => p.paid.out, {
      each: true,
      fields: { externalId: "id", "contact.name": "customer", total: "amount", currency: { value: "EUR" } }
    })
    .node("send", Http.request, { method: "POST", url: crmUrl, timeoutMs: 5_000 }, (p) => p.shape.out, {
      retry: { maxAttempts: 3, initialDelayMs: 100 }
    })
    .build()

export const ConnectorsLive = Layer.mergeAll(Sql.layer({ credential: "orders-db" }), Http.layer({ ssrfGuard: true }))

// await Effect.runPromise(Flow.run(paidOrdersToCrm("https://crm.example.com/contacts"), undefined)
//   .pipe(Effect.provide(ConnectorsLive)))
