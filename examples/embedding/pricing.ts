/**
 * The shop's pricing, written as flows. The flows use one of the shop's own services (its price list)
 * through a layer, the way they would use a database client.
 *
 * @module pricing
 */
import { Flow, Node } from "@jsonflow/core"
import { Context, Effect, Layer, Schema } from "effect"

/** A SKU the price list does not know. Not retryable: asking again gives the same answer. */
export class UnknownSku extends Schema.TaggedError<UnknownSku>()("UnknownSku", {
  sku: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `no price for SKU "${this.sku}"`
  }
}

/** The shop's price list: unit prices in cents by SKU. */
export class PriceList extends Context.Service<
  PriceList,
  { readonly unitCents: (sku: string) => Effect.Effect<number, UnknownSku> }
>()("example/PriceList") {}

/**
 * A price list held in memory (the shop would read its database here).
 *
 * @example
 * ```ts
 * const PriceListLive = priceListLayer({ "tea-1": 450 })
 * ```
 */
export const priceListLayer = (cents: Readonly<Record<string, number>>): Layer.Layer<PriceList> =>
  Layer.succeed(
    PriceList,
    PriceList.of({
      unitCents: (sku) => {
        const price = Object.hasOwn(cents, sku) ? cents[sku] : undefined
        return price === undefined ? Effect.fail(new UnknownSku({ sku, retryable: false })) : Effect.succeed(price)
      }
    })
  )

export const Cart = Schema.Struct({
  items: Schema.Array(Schema.Struct({ sku: Schema.String, qty: Schema.Int.check(Schema.isGreaterThan(0)) }))
})

const PricedCart = Schema.Struct({
  lines: Schema.Array(Schema.Struct({ sku: Schema.String, qty: Schema.Number, cents: Schema.Number })),
  totalCents: Schema.Number
})

/** A node type of the shop: prices every line of a cart from the price list. */
export const priceCart = Node.define({
  type: "shop.priceCart",
  description: "Prices a cart's lines from the shop's price list.",
  input: Cart,
  output: PricedCart,
  run: (cart) =>
    PriceList.use((prices) =>
      Effect.map(
        Effect.forEach(cart.items, (item) =>
          Effect.map(prices.unitCents(item.sku), (unit) => ({ sku: item.sku, qty: item.qty, cents: unit * item.qty }))
        ),
        (lines) => ({ lines, totalCents: lines.reduce((sum, line) => sum + line.cents, 0) })
      )
    )
})

/** Called directly by the shop's own checkout route (`Flow.toPromise`): no HTTP trigger. */
export const pricing = Flow.make({ id: "pricing", input: Cart }).andThen("price", priceCart, {}).build()

/**
 * Served by the runner under the shop's `/flows` prefix: `POST /flows/quote`. An unknown SKU leaves the
 * node's `error` port and becomes a 422 answer instead of a 500.
 */
export const quote = Flow.make({
  id: "quote",
  input: Cart,
  trigger: { type: "http", method: "POST", path: "/quote" }
})
  .node("price", priceCart, {}, (p) => p.$input)
  .respond("reply", (p) => p.price.out)
  .map("problem", (p) => p.price.error, {
    fields: { "error.code": "error._tag", "error.message": "error.message", "error.sku": "error.details.sku" }
  })
  .respond("rejected", (p) => p.problem.out, { status: 422 })
  .build()
