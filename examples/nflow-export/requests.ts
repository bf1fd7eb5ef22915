/**
 * The requests the example sends, the same against the nFlow export and against its canonical import.
 *
 * @module requests
 */

/** One HTTP request to the orders flow. */
export interface Sample {
  readonly what: string
  readonly method: string
  readonly path: string
  readonly body?: unknown
}

export const samples: ReadonlyArray<Sample> = [
  {
    what: "an order",
    method: "POST",
    path: "/orders/eu",
    body: {
      items: [
        { sku: "tea", qty: 2, price: 4.5 },
        { sku: "mug", qty: 1, price: 12 }
      ]
    }
  },
  {
    what: "a dry run (query values join the payload)",
    method: "POST",
    path: "/orders/eu?dry_run=true",
    body: { items: [{ sku: "tea", qty: 2, price: 4.5 }] }
  },
  {
    what: "not a dry run",
    method: "POST",
    path: "/orders/us?dry_run=false",
    body: { items: [{ sku: "tea", qty: 2, price: 4.5 }] }
  },
  { what: "no items", method: "POST", path: "/orders/eu", body: {} },
  { what: "a script that throws", method: "POST", path: "/orders/eu", body: { items: [{ sku: "tea", qty: 2 }] } }
]

/**
 * Sends one sample to `base` and returns the status and the body text.
 *
 * @example
 * ```ts
 * const { status, body } = await send("http://127.0.0.1:8080", samples[0])
 * ```
 */
export const send = async (base: string, sample: Sample): Promise<{ status: number; body: string }> => {
  const response = await fetch(`${base}${sample.path}`, {
    method: sample.method,
    ...(sample.body === undefined
      ? {}
      : { body: JSON.stringify(sample.body), headers: { "content-type": "application/json" } })
  })
  return { status: response.status, body: await response.text() }
}
