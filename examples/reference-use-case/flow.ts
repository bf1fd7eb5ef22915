import { Http, Sql } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Schema } from "effect"

/** One row of the `orders` table (`amount` is cast to float8 in SQL, so it arrives as a number). */
export const Order = Schema.Struct({
  id: Schema.Finite,
  customer: Schema.String,
  amount: Schema.Finite,
  status: Schema.String
})

/** The CRM endpoint `flow.json` names; `main.ts` points both flows at its loopback receiver instead. */
export const CRM_URL = "https://crm.example.com/api/contacts"

const description =
  "Paid orders of 100 or more, read from PostgreSQL, mapped to the CRM's contact shape and POSTed in one request."

/** The reference use case: SQL query -> filter -> field mapping -> HTTP POST. */
export const paidOrdersToCrm = (crmUrl: string = CRM_URL) =>
  Flow.make({ id: "paid-orders-to-crm", version: "1.0.0", description })
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
      retry: { maxAttempts: 3, initialDelayMs: 100 } // the engine retries only failures marked retryable
    })
    .build()
