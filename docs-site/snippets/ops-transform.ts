// A transform for the sandbox: the default export gets the input and `ctx`, and returns JSON data.
interface Order {
  readonly id: string
  readonly items: ReadonlyArray<{ readonly sku: string; readonly qty: number; readonly price: number }>
}

export default (order: Order, ctx: { readonly nodeId: string; readonly attempt: number }) => {
  console.log(`pricing ${order.id} in ${ctx.nodeId}`)
  const total = order.items.reduce((sum, item) => sum + item.qty * item.price, 0)
  return { id: order.id, total, lines: order.items.length }
}
