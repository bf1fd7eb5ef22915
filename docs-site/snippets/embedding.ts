/**
 * Embedding a flow in an existing Node service that does not use Effect: `Flow.toPromise` compiles the flow
 * once, builds the services from a layer once, and gives a promise API. Errors arrive as the typed errors.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Credentials, Flow, FlowError } from "@jsonflow/core"
import { Layer } from "effect"
import { layer, signup } from "./crm-connector.ts"

const services = layer({ baseUrl: "https://crm.example.com", credential: "crm" }).pipe(
  Layer.provide(Credentials.layerEnv(process.env))
)
const flow = Flow.toPromise(signup, services)

const server = createServer(async (request, response) => {
  let body = ""
  for await (const chunk of request) body += chunk
  try {
    const result = await flow.run(JSON.parse(body))
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result.output))
  } catch (error) {
    // A bad body fails with InputInvalid before any node runs; a node failure is NodeFailed.
    const status = error instanceof FlowError.InputInvalid ? 400 : 502
    response.writeHead(status, { "content-type": "text/plain" }).end(String(error))
  }
})

server.listen(0, "127.0.0.1", async () => {
  const { port } = server.address() as AddressInfo
  for (const body of [{ email: "ada@example.com", name: "Ada" }, { email: 42 }]) {
    const response = await fetch(`http://127.0.0.1:${port}/signup`, { method: "POST", body: JSON.stringify(body) })
    console.log(response.status, await response.text())
  }
  server.close()
  await flow.dispose()
})
