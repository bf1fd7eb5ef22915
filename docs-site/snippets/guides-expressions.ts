/**
 * Values and conditions of the built-in nodes. Paths, constants and path conditions need nothing; a JSONata
 * `{ expr }` needs the Expressions service, which `@jsonflow/sandbox/expressions` provides, with limits.
 */
import { Builtins, Flow } from "@jsonflow/core"
import * as Expressions from "@jsonflow/sandbox/expressions"
import { Effect, Schema } from "effect"

const Order = Schema.Struct({
  id: Schema.Number,
  customer: Schema.Struct({ name: Schema.String }),
  lines: Schema.Array(Schema.Struct({ qty: Schema.Number, price: Schema.Number }))
})

export const invoice = Flow.make({ id: "invoice", input: Order })
  // An execution variable, read later as `$vars.region`.
  .node("vars", Builtins.setVariables, { values: { region: { value: "eu" } } }, (p) => p.$input)
  .map("shape", (p) => p.vars.out, {
    fields: {
      id: "id", // a path into the input
      "to.name": "customer.name", // a dotted target builds nested objects
      firstQty: "lines.0.qty", // array elements by index
      region: "$vars.region", // the execution variables
      via: "$trigger.via", // the trigger data
      currency: { value: "EUR" }, // a constant
      total: { expr: "$sum(lines.(qty * price))" } // JSONata
    }
  })
  .switch("route", (p) => p.shape.out, {
    big: { expr: "total >= 100" },
    eu: {
      all: [
        { path: "region", op: "eq", value: "eu" },
        { path: "to.name", op: "startsWith", value: "A" }
      ]
    }
  })
  .map("tag", (p) => p.route.eu, { fields: { id: "id", total: "total", tag: { value: "eu" } } })
  .build()

const ada = { id: 7, customer: { name: "Ada" }, lines: [{ qty: 2, price: 30 }] }
const run = (order: typeof Order.Type) => Flow.run(invoice, order, { trigger: { via: "docs" } })

if (import.meta.main) {
  // With the expressions layer: the switch took `eu` only (total is 60).
  const ok = await Effect.runPromise(run(ada).pipe(Effect.provide(Expressions.layer())))
  console.log(JSON.stringify(ok.output))
  // Without it, the first `expr` fails its node with ExpressionUnavailable.
  const missing = await Effect.runPromise(Effect.flip(run(ada)))
  console.log(missing.message)
  // A JSONata error (here a syntax error) is an ExpressionError, with its position; not retryable.
  const typo = Flow.make({ id: "typo" })
    .map("m", (p) => p.$input, { fields: { total: { expr: "amount *" } } })
    .build()
  const bad = await Effect.runPromise(
    Effect.flip(Flow.run(typo, { amount: 1 }).pipe(Effect.provide(Expressions.layer())))
  )
  console.log(bad.message)
}
