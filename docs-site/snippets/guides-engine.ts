/**
 * How the engine walks a flow, shown on one small IR: a switch routes an order, the branch it did not take
 * is skipped (and so is everything behind it), a join collects what ran, and a failing node's `error` port
 * turns its failure into a value. Run it: it prints the output and the trace of each execution.
 */
import { Builtins, Compiler, FlowEvents, Node, Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"

/** A typed failure; `retryable: false`, so a retry policy would not try again. */
export class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", {
  sku: Schema.String,
  retryable: Schema.Boolean
}) {}

// Reserves stock, except for the SKU that is always out of stock.
export const reserve = Node.define({
  type: "shop.reserve",
  input: Schema.Struct({ sku: Schema.String, amount: Schema.Number }),
  output: Schema.Struct({ sku: Schema.String, reserved: Schema.Boolean }),
  run: ({ sku }) =>
    sku === "gone" ? Effect.fail(new OutOfStock({ sku, retryable: false })) : Effect.succeed({ sku, reserved: true })
})

const edge = (from: string, fromPort: string, to: string, toPort = "in") => ({
  from: { node: from, port: fromPort },
  to: { node: to, port: toPort }
})

export const order = {
  id: "order",
  version: "1",
  trigger: { type: "manual" },
  nodes: {
    route: { type: "switch", config: { cases: [{ port: "big", when: { path: "amount", op: "gte", value: 1000 } }] } },
    review: { type: "map", config: { fields: { review: { value: true } } } },
    notify: { type: "map", config: { fields: { notified: "review" } } },
    stock: { type: "shop.reserve" },
    failed: { type: "map", config: { fields: { failedNode: "node", tag: "error._tag" } } },
    done: { type: "join" }
  },
  edges: [
    edge("$input", "out", "route"),
    edge("route", "big", "review"),
    edge("review", "out", "notify"),
    edge("$input", "out", "stock"),
    edge("stock", "error", "failed"),
    edge("notify", "out", "done", "review"),
    edge("stock", "out", "done", "stock"),
    edge("failed", "out", "done", "problem")
  ],
  output: { node: "done", port: "out" }
}

const registry = Registry.merge(Builtins.registry, Registry.make(reserve))
const { layer, recorder } = FlowEvents.layerMemory()

const program = Effect.gen(function* () {
  const compiled = yield* Compiler.compile(order, registry)
  for (const input of [
    { sku: "tea", amount: 20 },
    { sku: "gone", amount: 1500 }
  ]) {
    const result = yield* compiled.run(input)
    console.log(`${JSON.stringify(input)} -> ${JSON.stringify(result.output)}`)
    const steps = recorder
      .trace(result.executionId)
      .flatMap((e) => ("nodeId" in e && e._tag !== "NodeStarted" ? [`${e._tag.slice(4)} ${e.nodeId}`] : []))
    console.log(`  ${steps.join(", ")}`)
  }
})

await Effect.runPromise(program.pipe(Effect.provide(layer)))
