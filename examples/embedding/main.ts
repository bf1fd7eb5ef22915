// Starts the shop (a node:http service with the runner mounted under /flows), calls its routes, and shuts
// it down; the process then exits on its own. Run: node examples/embedding/main.ts
import { startShop } from "./service.ts"

const shop = await startShop({ port: Number(process.env.PORT ?? 0) })

const call = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${shop.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  })
  console.log(`${method} ${path} -> ${response.status} ${await response.text()}`)
}

try {
  const cart = {
    items: [
      { sku: "tea-1", qty: 2 },
      { sku: "mug-2", qty: 1 }
    ]
  }
  await call("GET", "/status") // the shop's own route
  await call("POST", "/flows/quote", cart) // a flow, served by the mounted runner
  await call("POST", "/flows/quote", { items: [{ sku: "cake-9", qty: 1 }] }) // the flow's error port: 422
  await call("POST", "/checkout", cart) // the shop's route, calling a flow with Flow.toPromise
  await call("GET", "/status")
} finally {
  await shop.close()
}
console.log("stopped")
