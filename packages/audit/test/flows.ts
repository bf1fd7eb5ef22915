/**
 * Flows shared by the tests: a small order flow with a branch, a retried node, a skipped node and an
 * optional failure, and a node that fails until a flag is fixed (replay).
 *
 * @module flows
 */
import { Flow, Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

export const Order = Schema.Struct({
  id: Schema.String,
  amount: Schema.Number,
  customer: Schema.Struct({ email: Schema.String, password: Schema.optionalKey(Schema.String) }),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  failWith: Schema.optionalKey(Schema.String)
})
export type Order = typeof Order.Type

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { message: Schema.String, retryable: Schema.Boolean }) {}

let flakyCalls = 0
/** Fails its first attempt of every second call (retryable), to have a retried node in traces. */
export const enrich = Node.define({
  type: "test.enrich",
  input: Order,
  output: Schema.Struct({ id: Schema.String, amount: Schema.Number, score: Schema.Number, note: Schema.String }),
  run: (order, _config, ctx) =>
    ctx.attempt === 1 && flakyCalls++ % 2 === 0
      ? Effect.fail(new Flaky({ message: "transient", retryable: true }))
      : Effect.succeed({
          id: order.id,
          amount: order.amount,
          score: order.amount > 100 ? 2 : 1,
          note: `contact ${order.customer.email}`
        })
})

/** Fails with the order's `failWith` text (which may hold secrets) when present. */
export const charge = Node.define({
  type: "test.charge",
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (value, _config, ctx) => {
    const failWith = (ctx.trigger as Order).failWith
    return failWith === undefined
      ? Effect.succeed({ charged: true, value })
      : Effect.fail(new Flaky({ message: failWith, retryable: false }))
  }
})

export const orderFlow = Flow.make({ id: "orders", version: "1", input: Order })
  .andThen("enrich", enrich, {}, { retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false } })
  .switch("route", (p) => p.enrich.out, { big: { path: "amount", op: "gt", value: 100 } })
  .node("review", charge, {}, (p) => p.route.big)
  .node("auto", charge, {}, (p) => p.route.default)
  .merge("done", (p) => [p.review.out, p.auto.out])
  .build()

/** A switch for replay tests: `fixed.value` decides whether `flaky` fails. */
export const fixed = { value: false }

export const fragile = Node.define({
  type: "test.fragile",
  input: Schema.Struct({ n: Schema.Number }),
  output: Schema.Struct({ n: Schema.Number }),
  run: (input) =>
    fixed.value
      ? Effect.succeed({ n: input.n * 10 })
      : Effect.fail(new Flaky({ message: "downstream is down", retryable: false }))
})

export const step = Node.define({
  type: "test.step",
  input: Schema.Struct({ n: Schema.Number }),
  output: Schema.Struct({ n: Schema.Number }),
  run: (input) => Effect.succeed({ n: input.n + 1 })
})

export const replayFlow = Flow.make({ id: "replayable", version: "1", input: Schema.Struct({ n: Schema.Number }) })
  .andThen("first", step, {})
  .andThen("fragile", fragile, {})
  .andThen("last", step, {})
  .build()
