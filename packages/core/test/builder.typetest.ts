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

// --- Required properties and optionality ---------------------------------------------------------------

const Person = Schema.Struct({ id: Schema.Number, name: Schema.String })
const person = Node.define({
  type: "typetest.person",
  input: Schema.Unknown,
  output: Person,
  run: () => Effect.succeed({ id: 1, name: "Ada" })
})
const needsEmail = Node.define({
  type: "typetest.needsEmail",
  input: Schema.Struct({ id: Schema.Number, email: Schema.String }),
  output: Schema.String,
  run: (r) => Effect.succeed(r.email)
})
const needsId = Node.define({
  type: "typetest.needsId",
  input: Schema.Struct({ id: Schema.Number }),
  output: Schema.Number,
  run: (r) => Effect.succeed(r.id)
})
const maybeName = Node.define({
  type: "typetest.maybeName",
  input: Schema.Unknown,
  output: Schema.Struct({ name: Schema.optionalKey(Schema.String) }),
  run: () => Effect.succeed({})
})
const needsName = Node.define({
  type: "typetest.needsName",
  input: Schema.Struct({ name: Schema.String }),
  output: Schema.String,
  run: (r) => Effect.succeed(r.name)
})

// Positive: extra properties upstream are fine.
export const extraIsFine = Flow.make({ id: "extra" }).andThen("p", person, {}).andThen("id", needsId, {}).build()
// @ts-expect-error { id, name } lacks the required property `email`
Flow.make({ id: "missing" }).andThen("p", person, {}).andThen("e", needsEmail, {})
// @ts-expect-error `name` is optional upstream but required by needsName
Flow.make({ id: "optional" }).andThen("m", maybeName, {}).andThen("n", needsName, {})

// --- Joins: branches that always run give required fields, skippable ones optional fields ---------------

const count = Node.define({
  type: "typetest.count",
  input: Schema.Unknown,
  output: Schema.Number,
  run: () => Effect.succeed(1)
})
const label = Node.define({
  type: "typetest.label",
  input: Schema.Unknown,
  output: Schema.String,
  run: () => Effect.succeed("a")
})
const both = Node.define({
  type: "typetest.both",
  input: Schema.Struct({ a: Schema.Number, b: Schema.String }),
  output: Schema.String,
  run: (x) => Effect.succeed(`${x.b}${x.a}`)
})

// Positive: a plain parallel fan-out joined feeds a node that needs both fields.
export const fanOut = Flow.make({ id: "fan" })
  .node("a", count, {}, (p) => p.$input)
  .node("b", label, {}, (p) => p.$input)
  .join("j", (p) => ({ a: p.a.out, b: p.b.out }))
  .node("use", both, {}, (p) => p.j.out)
  .build()
export type FanOutOutput = Expect<Equals<OutputOf<typeof fanOut>, string>>

// The join's type: required for the always-active branch, optional for the one behind a switch.
const halfSwitched = Flow.make({ id: "half" })
  .node("a", count, {}, (p) => p.$input)
  .switch("route", (p) => p.$input, { yes: { path: "ok", op: "eq", value: true } })
  .node("b", label, {}, (p) => p.route.yes)
  .join("j", (p) => ({ a: p.a.out, b: p.b.out }))
  .build()
export type HalfSwitchedJoin = Expect<
  Equals<OutputOf<typeof halfSwitched>, { readonly a: number; readonly b?: string }>
>
Flow.make({ id: "switched-join" })
  .node("a", count, {}, (p) => p.$input)
  .switch("route", (p) => p.$input, { yes: { path: "ok", op: "eq", value: true } })
  .node("b", label, {}, (p) => p.route.yes)
  .join("j", (p) => ({ a: p.a.out, b: p.b.out }))
  // @ts-expect-error `b` comes from a switch branch, so it may be absent; `both` requires it
  .node("use", both, {}, (p) => p.j.out)

// An error port is skippable too: it only emits when the node fails.
Flow.make({ id: "error-join" })
  .node("a", count, {}, (p) => p.$input)
  .map("caught", (p) => p.a.error, { fields: { why: "error._tag" } }, Schema.String)
  .join("j", (p) => ({ a: p.a.out, b: p.caught.out }))
  // @ts-expect-error `b` is only there when `a` failed
  .node("use", both, {}, (p) => p.j.out)

// A join-mode definition wired by port name from `.node`: checked like a join.
const pair = Node.define({
  type: "typetest.pair",
  input: Schema.Struct({ left: Schema.Number, right: Schema.String }),
  inputMode: "join",
  output: Schema.String,
  run: (x) => Effect.succeed(`${x.left}${x.right}`)
})
export const paired = Flow.make({ id: "paired" })
  .node("a", count, {}, (p) => p.$input)
  .node("b", label, {}, (p) => p.$input)
  .node("pair", pair, {}, (p) => ({ left: p.a.out, right: p.b.out }))
  .build()
Flow.make({ id: "paired-bad" })
  .node("a", count, {}, (p) => p.$input)
  // @ts-expect-error `right` must be a string, and it is a number
  .node("pair", pair, {}, (p) => ({ left: p.a.out, right: p.a.out }))

// --- Sub-flows: the input must fit, and their services surface in R --------------------------------------

class Rates extends Context.Service<Rates, { readonly vat: number }>()("typetest/Rates") {}
const withVat = Node.define({
  type: "typetest.withVat",
  input: Schema.Number,
  output: Schema.Number,
  run: (n) =>
    Effect.gen(function* () {
      return n * (1 + (yield* Rates).vat)
    })
})
const vatFlow = Flow.make({ id: "vat", input: Schema.Number }).andThen("v", withVat, {}).build()

Flow.make({ id: "call-bad" })
  .andThen("p", person, {})
  // @ts-expect-error a person ({ id, name }) is not the number the called flow takes
  .call("vat", vatFlow, (p) => p.p.out)

const calling = Flow.make({ id: "calling", input: Schema.Number })
  .call("vat", vatFlow, (p) => p.$input)
  .build()
export type CallingNeedsRates = Expect<Equals<ServicesOf<typeof calling>, Rates>>
export const callingWithoutRates = () =>
  // @ts-expect-error the called flow needs Rates
  Effect.runPromise(Flow.run(calling, 1))

const looping = Flow.make({ id: "looping", input: Schema.Array(Schema.Number) })
  .forEach(
    "each",
    (p) => p.$input,
    (n) => n.andThen("v", withVat, {})
  )
  .build()
export type LoopingNeedsRates = Expect<Equals<ServicesOf<typeof looping>, Rates>>
export const loopingWithoutRates = () =>
  // @ts-expect-error the body needs Rates
  Effect.runPromise(Flow.run(looping, [1]))
export const loopingWithRates = () =>
  Effect.runPromise(Flow.run(looping, [1]).pipe(Effect.provide(Layer.succeed(Rates, { vat: 0.2 }))))
