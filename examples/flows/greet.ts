/**
 * A builder flow served by `npm start`: `GET /hello/:name` answers a greeting. Any module in a served
 * directory may export built flows; the runner picks up every export that is one.
 */
import { Flow } from "@jsonflow/core"
import { Schema } from "effect"

export const greet = Flow.make({
  id: "greet",
  description: "GET /hello/:name answers a greeting.",
  input: Schema.Struct({ name: Schema.String.check(Schema.isMinLength(1)) }),
  trigger: { type: "http", method: "GET", path: "/hello/:name" }
})
  .map("greeting", (p) => p.$input, {
    fields: { message: { path: "name" }, from: { value: "JSON-Flow" } }
  })
  .respond("reply", (p) => p.greeting.out, { headers: { "cache-control": "no-store" } })
  .build()
