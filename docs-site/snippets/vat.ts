import { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

// The quickstart's node type: a JSON flow names it by its `type`, "vat".
export const vat = Node.define({
  type: "vat",
  description: "Adds VAT to an order amount.",
  config: Schema.Struct({ rate: Schema.Number }),
  input: Schema.Struct({ id: Schema.Number, amount: Schema.Number }),
  output: Schema.Struct({ id: Schema.Number, gross: Schema.Number }),
  run: (order, { rate }) => Effect.succeed({ id: order.id, gross: Math.round(order.amount * (1 + rate) * 100) / 100 })
})
