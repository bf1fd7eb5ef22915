import { Flow, Node } from "@jsonflow/core"
import { Runner } from "@jsonflow/runner"
import { Context, Effect, Layer, Schema } from "effect"
import { expect, it } from "vitest"

// A service of the embedding application, which a builder flow's node uses.
class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => Effect.Effect<string> }>()(
  "test/Greeter"
) {}

const greetNode = Node.define({
  type: "test.greet",
  input: Schema.Struct({ name: Schema.String }),
  output: Schema.Struct({ message: Schema.String }),
  run: ({ name }) =>
    Effect.map(
      Greeter.use((g) => g.greet(name)),
      (message) => ({ message })
    )
})

const greet = Flow.make({
  id: "greet",
  input: Schema.Struct({ name: Schema.String }),
  trigger: { type: "http", method: "GET", path: "/greet/:name" }
})
  .andThen("greet", greetNode, {})
  .build()

it("Runner.make is a scoped Effect: the user's layer serves the flow, and closes with the scope", async () => {
  const lifecycle: Array<string> = []
  const GreeterLive = Layer.effect(
    Greeter,
    Effect.acquireRelease(
      Effect.sync(() => {
        lifecycle.push("greeter opened")
        return Greeter.of({ greet: (name) => Effect.succeed(`Hi ${name}, from the app`) })
      }),
      () => Effect.sync(() => lifecycle.push("greeter closed"))
    )
  )
  const program = Effect.scoped(
    Effect.gen(function* () {
      const runner = yield* Runner.make({
        flows: [greet],
        layers: GreeterLive,
        log: () => {},
        config: { server: { port: 0, host: "127.0.0.1" }, audit: { sink: "none" } }
      })
      const programmatic = yield* runner.trigger("greet", { name: "ann" })
      const overHttp = yield* Effect.promise(() => fetch(`${runner.url}/greet/bob`).then((r) => r.json()))
      lifecycle.push("served")
      return { url: runner.url!, programmatic: programmatic.output, overHttp }
    })
  )
  const result = await Effect.runPromise(program)
  expect(result.programmatic).toEqual({ message: "Hi ann, from the app" })
  expect(result.overHttp).toEqual({ message: "Hi bob, from the app" })
  // Closing the scope shut the runner down (the port is closed) and then closed the user's layer.
  expect(lifecycle).toEqual(["greeter opened", "served", "greeter closed"])
  await expect(fetch(`${result.url}/greet/bob`)).rejects.toThrow()
})

// Compile-time only: a built flow's services must be provided by `layers`.
export const missingLayerIsATypeError = () =>
  // @ts-expect-error Greeter is not provided
  Runner.make({ flows: [greet] })
