// Starts the SOAP CRM and the runner serving the REST bridge, calls the REST endpoint, shuts both down.
// Run: node examples/soap-to-rest/main.ts
import { Runner } from "@jsonflow/runner"
import { crmLayer, customerApi } from "./bridge.ts"
import { startCrm } from "./crm-service.ts"

const crm = await startCrm()
const runner = await Runner.start({
  flows: [customerApi],
  layers: crmLayer(crm.endpoint),
  config: { server: { host: "127.0.0.1", port: 0 }, audit: { sink: "none" }, logs: { level: "error" } }
})

const get = async (path: string) => {
  const response = await fetch(`${runner.url}${path}`)
  console.log(`GET ${path} -> ${response.status} ${await response.text()}`)
}

try {
  await get("/customers/C-1")
  await get("/customers/C-9") // soap:Client fault, detail NOT_FOUND
  await get("/customers/bob") // soap:Client fault, detail INVALID_ID
  crm.setMaintenance(true)
  await get("/customers/C-1") // soap:Server fault: retried once (idempotent client), then 502
  console.log(`SOAP calls received: ${crm.calls()}`)
} finally {
  await runner.stop()
  await crm.close()
}
