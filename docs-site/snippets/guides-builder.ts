/**
 * The builder guide's flow: typed nodes wired port to port, a switch with a skippable branch, a join with
 * named ports, an error port, per-node retry and time limit, flow settings; run with Effect and with the
 * promise API.
 */
import { Flow, Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

export const Order = Schema.Struct({ id: Schema.String, net: Schema.Number, country: Schema.String })
const Priced = Schema.Struct({ id: Schema.String, gross: Schema.Number })

/** The rate table has no entry for this country. Not retryable: asking again gives the same answer. */
export class NoRate extends Schema.TaggedError<NoRate>()("NoRate", {
  country: Schema.String,
  retryable: Schema.Boolean
}) {}

export const price = Node.define({
  type: "shop.price",
  description: "Adds VAT by country.",
  config: Schema.Struct({ rates: Schema.Record(Schema.String, Schema.Number) }),
  input: Order,
  output: Priced,
  run: (order, { rates }) => {
    const rate = rates[order.country]
    return rate === undefined
      ? Effect.fail(new NoRate({ country: order.country, retryable: false }))
      : Effect.succeed({ id: order.id, gross: Math.round(order.net * (1 + rate) * 100) / 100 })
  }
})

// A join-mode node: one named input port per field of its input Schema. `review` is optional because the
// branch that feeds it may be skipped.
export const summarize = Node.define({
  type: "shop.summarize",
  inputMode: "join",
  input: Schema.Struct({ order: Priced, review: Schema.optionalKey(Schema.Struct({ reason: Schema.String })) }),
  output: Schema.String,
  run: ({ order, review }) =>
    Effect.succeed(`${order.id}: ${order.gross}${review === undefined ? "" : ` (review: ${review.reason})`}`)
})

export const checkout = Flow.make({
  id: "checkout",
  version: "2",
  input: Order,
  settings: { timeoutMs: 10_000, concurrency: 4 }
})
  .node("priced", price, { rates: { FR: 0.2, DE: 0.19 } }, (p) => p.$input, {
    retry: { maxAttempts: 3, initialDelayMs: 100 },
    timeoutMs: 2_000
  })
  .switch("route", (p) => p.priced.out, { big: { path: "gross", op: "gte", value: 1000 } })
  .map(
    "review",
    (p) => p.route.big,
    { fields: { reason: { value: "large order" } } },
    Schema.Struct({ reason: Schema.String })
  )
  .node("summary", summarize, {}, (p) => ({ order: p.priced.out, review: p.review.out }))
  // The error port: a failure of `priced` (after its retries) arrives here as a NodeFailure value.
  .map(
    "rejected",
    (p) => p.priced.error,
    { fields: { failed: "node", why: "error._tag" } },
    Schema.Struct({ failed: Schema.String, why: Schema.String })
  )
  .merge("result", (p) => [p.summary.out, p.rejected.out])
  .build()

if (import.meta.main) {
  // Effect API: compile and run once.
  const small = await Effect.runPromise(Flow.run(checkout, { id: "o-1", net: 100, country: "FR" }))
  console.log(small.output) // o-1: 120
  // Promise API: compiled once, run per call.
  const flow = Flow.toPromise(checkout)
  const big = await flow.run({ id: "o-2", net: 1000, country: "DE" })
  console.log(big.output) // o-2: 1190 (review: large order)
  const caught = await flow.run({ id: "o-3", net: 10, country: "US" })
  console.log(caught.output) // { failed: "priced", why: "NoRate" }
  // A typed error rejects the promise: here the input does not fit the flow's input Schema.
  const error = await flow.run({ id: "o-4", net: "ten", country: "FR" } as never).catch((e: unknown) => e)
  console.log(String(error))
  await flow.dispose()
}
