/**
 * Type tests for the builder: each `@ts-expect-error` line is a wiring that must not compile. An unused
 * `@ts-expect-error` is itself a compile error, so `npm run typecheck` fails if any of them starts compiling.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Flow, Node } from "../src/index.ts"

class Db extends Context.Service<Db, { readonly rows: Effect.Effect<ReadonlyArray<{ id: number; amount: number }>> }>()(
  "typetest/Db"
) {}

const Row = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
const fetchRows = Node.define({
  type: "typetest.fetch",
  input: Schema.Unknown,
  output: Schema.Array(Row),
  run: () =>
    Effect.gen(function* () {
      return yield* (yield* Db).rows
    })
})
const total = Node.define({
  type: "typetest.total",
  config: Schema.Struct({ currency: Schema.String }),
  input: Schema.Array(Row),
  output: Schema.Struct({ total: Schema.Number, currency: Schema.String }),
  run: (rows, config) => Effect.succeed({ total: rows.reduce((s, r) => s + r.amount, 0), currency: config.currency })
})
const shout = Node.define({
  type: "typetest.shout",
  input: Schema.String,
  output: Schema.String,
  run: (s) => Effect.succeed(s.toUpperCase())
})

// Positive: types flow fetch -> filter (keeps the row type) -> total; the output type is inferred.
export const good = Flow.make({ id: "good" })
  .andThen("rows", fetchRows, {})
  .filter("big", (p) => p.rows.out, { path: "amount", op: "gt", value: 100 })
  .node("sum", total, { currency: "EUR" }, (p) => p.big.out)
  .build()
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
type Expect<T extends true> = T
type OutputOf<F> = F extends Flow.FlowDefinition<infer _I, infer O, infer _R> ? O : never
type ServicesOf<F> = F extends Flow.FlowDefinition<infer _I, infer _O, infer R> ? R : never
export type GoodOutputIsTyped = Expect<
  Equals<OutputOf<typeof good>, { readonly total: number; readonly currency: string }>
>
export type GoodNeedsDb = Expect<Equals<ServicesOf<typeof good>, Db>>

// Negative: an array of rows into a node that takes a string.
Flow.make({ id: "bad1" })
  .andThen("rows", fetchRows, {})
  // @ts-expect-error rows (ReadonlyArray<Row>) do not fit shout's input (string)
  .node("loud", shout, {}, (p) => p.rows.out)

// Negative: `andThen` from a node whose `out` is an array of rows into a string input.
// @ts-expect-error rows do not fit shout's input
Flow.make({ id: "bad2" }).andThen("rows", fetchRows, {}).andThen("loud", shout, {})

// Negative: the flow input type (number) does not fit total's input.
// @ts-expect-error number does not fit ReadonlyArray<Row>
Flow.make({ id: "bad3", input: Schema.Number }).node("sum", total, { currency: "EUR" }, (p) => p.$input)

// Negative: a config of the wrong shape.
// @ts-expect-error currency must be a string
Flow.make({ id: "bad4" }).andThen("rows", fetchRows, {}).andThen("sum", total, { currency: 42 })

// Negative: a port the node does not have.
Flow.make({ id: "bad5" })
  .andThen("rows", fetchRows, {})
  // @ts-expect-error fetchRows has no port "rejected"
  .node("sum", total, { currency: "EUR" }, (p) => p.rows.rejected)

// Negative: the error port carries a NodeFailure, not rows.
Flow.make({ id: "bad6" })
  .andThen("rows", fetchRows, {})
  // @ts-expect-error NodeFailure does not fit ReadonlyArray<Row>
  .node("sum", total, { currency: "EUR" }, (p) => p.rows.error)

// Negative: the flow needs Db, so running it without a Db layer does not type-check.
export const runWithoutDb = () =>
  // @ts-expect-error Effect<..., Db> is not Effect<..., never>
  Effect.runPromise(Flow.run(good, undefined))
export const runWithDb = () =>
  Effect.runPromise(Flow.run(good, undefined).pipe(Effect.provide(Layer.succeed(Db, { rows: Effect.succeed([]) }))))

// Negative: the promise API needs a layer providing Db.
// @ts-expect-error Layer<never> does not provide Db
Flow.toPromise(good, Layer.empty)
export const promiseWithDb = () => Flow.toPromise(good, Layer.succeed(Db, { rows: Effect.succeed([]) }))

// Switch ports are typed by case name; each carries the input type.
export const switched = Flow.make({ id: "sw" })
  .andThen("rows", fetchRows, {})
  .switch("route", (p) => p.rows.out, { many: { path: "", op: "notEmpty" } })
  .node("sumMany", total, { currency: "EUR" }, (p) => p.route.many)
  .node("sumNone", total, { currency: "EUR" }, (p) => p.route.default)
  .build()
Flow.make({ id: "sw2" })
  .andThen("rows", fetchRows, {})
  .switch("route", (p) => p.rows.out, { many: { path: "", op: "notEmpty" } })
  // @ts-expect-error there is no case "few"
  .node("sumFew", total, { currency: "EUR" }, (p) => p.route.few)

// andThen on a fresh builder checks the flow input; inside a forEach body, the element type.
export const perBatch = Flow.make({ id: "per-batch", input: Schema.Array(Schema.Array(Row)) })
  .forEach(
    "sums",
    (p) => p.$input,
    (batch) => batch.andThen("sum", total, { currency: "EUR" })
  )
  .build()
export type PerBatchOutput = Expect<
  Equals<OutputOf<typeof perBatch>, ReadonlyArray<{ readonly total: number; readonly currency: string }>>
>
Flow.make({ id: "per-row-bad", input: Schema.Array(Row) }).forEach(
  "loud",
  (p) => p.$input,
  // @ts-expect-error a row does not fit shout's input (string)
  (row) => row.andThen("shout", shout, {})
)
// @ts-expect-error the flow input (number) does not fit shout's input (string)
Flow.make({ id: "first-bad", input: Schema.Number }).andThen("shout", shout, {})
Flow.make({ id: "after-switch" })
  .andThen("rows", fetchRows, {})
  .switch("route", (p) => p.rows.out, { many: { path: "", op: "notEmpty" } })
  // @ts-expect-error a switch has no `out` port to chain from
  .andThen("sum", total, { currency: "EUR" })
