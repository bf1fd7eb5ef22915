/**
 * A builder flow served by `npm start`: `GET /hello/:name` answers `{"message":"Hello, <name>", ...}`. Any
 * module in a served directory may export built flows; the runner picks up every export that is one.
 * A TypeScript flow's steps are plain typed functions (here `hello`), not expressions.
 */
import { Flow, Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const Name = Schema.Struct({ name: Schema.String.check(Schema.isMinLength(1)) })

/** Writes the greeting. */
export const hello = Node.define({
  type: "example.hello",
  description: "Answers a greeting for `name`.",
  input: Name,
  output: Schema.Struct({ message: Schema.String, from: Schema.String }),
  run: ({ name }) => Effect.succeed({ message: `Hello, ${name}`, from: "JSON-Flow" })
})

export const greet = Flow.make({
  id: "greet",
  description: "GET /hello/:name answers a greeting.",
  input: Name,
  trigger: { type: "http", method: "GET", path: "/hello/:name" }
})
  .andThen("greeting", hello, {})
  .respond("reply", (p) => p.greeting.out, { headers: { "cache-control": "no-store" } })
  .build()
