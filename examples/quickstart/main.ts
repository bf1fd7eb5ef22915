import { Flow, FlowEvents, Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

// A node type: typed config, input and output; `run` returns an Effect.
const vat = Node.define({
  type: "vat",
  config: Schema.Struct({ rate: Schema.Number }),
  input: Schema.Struct({ id: Schema.Number, amount: Schema.Number }),
  output: Schema.Struct({ id: Schema.Number, gross: Schema.Number }),
  run: (order, { rate }) => Effect.succeed({ id: order.id, gross: Math.round(order.amount * (1 + rate) * 100) / 100 })
})

// A flow: keep the paid orders, then price each one, 4 at a time. A wrong wiring does not compile.
const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number, paid: Schema.Boolean })
export const invoice = Flow.make({ id: "invoice", input: Schema.Array(Order) })
  .filter("paid", (p) => p.$input, { path: "paid", op: "eq", value: true })
  .forEach(
    "gross",
    (p) => p.paid.out,
    (o) => o.andThen("vat", vat, { rate: 0.2 }),
    { concurrency: 4 }
  )
  .build()

const { layer, recorder } = FlowEvents.layerMemory()
const orders = [
  { id: 1, amount: 100, paid: true },
  { id: 2, amount: 50, paid: false },
  { id: 3, amount: 80, paid: true }
]
const result = await Effect.runPromise(Flow.run(invoice, orders).pipe(Effect.provide(layer)))
console.log("output:", JSON.stringify(result.output)) // [{"id":1,"gross":120},{"id":3,"gross":96}]
for (const e of recorder.trace(result.executionId)) console.log(" ", e._tag, "nodeId" in e ? e.nodeId : "")
