// Wirings that do not compile. Checked by `tsc -p docs-site` (each @ts-expect-error must meet its error),
// never run.
import { Flow } from "@jsonflow/core"
import { Schema } from "effect"
import { Order, price, summarize } from "./guides-builder.ts"

export const wrongWiring = () =>
  Flow.make({ id: "wrong", input: Schema.Array(Order) })
    // @ts-expect-error an array of orders does not fit `price`, which takes one order
    .node("priced", price, { rates: {} }, (p) => p.$input)

export const wrongConfig = () =>
  Flow.make({ id: "wrong-config", input: Order })
    // @ts-expect-error `rates` holds numbers
    .andThen("priced", price, { rates: { FR: "20%" } })

export const missingPort = () =>
  Flow.make({ id: "missing-port", input: Order })
    .andThen("priced", price, { rates: {} })
    .map(
      "why",
      (p) => p.priced.out,
      { fields: { reason: { value: "test" } } },
      Schema.Struct({ reason: Schema.String })
    )
    // @ts-expect-error `summarize` requires its `order` port
    .node("summary", summarize, {}, (p) => ({ review: p.why.out }))
