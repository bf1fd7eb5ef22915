/**
 * A queue-triggered flow: every job on the queue is one execution. The queue name comes from the
 * environment (`INVOICE_QUEUE`, default `invoices`), so each environment, or each run of the example, has
 * its own.
 */
import { Builtins, Flow } from "@jsonflow/core"
import { Schema } from "effect"

export const sendInvoice = Flow.make({
  id: "send-invoice",
  description: "Consumes the invoice queue: one job, one invoice sent.",
  input: Schema.Struct({
    invoiceId: Schema.String,
    customer: Schema.String,
    amountCents: Schema.Int.check(Schema.isGreaterThan(0))
  }),
  trigger: { type: "queue", queue: process.env.INVOICE_QUEUE ?? "invoices" }
})
  // Stands for the call to the billing system.
  .andThen("bill", Builtins.delay, { ms: 25 })
  .map("sent", (p) => p.bill.out, {
    fields: { invoiceId: "invoiceId", customer: "customer", status: { value: "sent" } }
  })
  .build()
