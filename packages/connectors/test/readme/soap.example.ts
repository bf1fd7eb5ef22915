import { Soap } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const SoapLive = Soap.layer({
  clients: {
    orders: {
      wsdl: "https://erp.example.com/orders?wsdl",
      endpoint: "https://erp-staging.example.com/orders", // overrides the WSDL's soap:address
      auth: { type: "wsSecurity", credential: "erp", passwordType: "PasswordDigest", hasNonce: true },
      timeoutMs: 10_000
    }
  }
})

const lookup = Flow.make({ id: "lookup-order", input: Schema.Struct({ orderId: Schema.Number }) })
  .node("order", Soap.call, { client: "orders", operation: "GetOrder" }, (p) => p.$input)
  .build()

// The "erp" credential comes from JSONFLOW_CREDENTIAL_ERP_USERNAME and _PASSWORD (or Credentials.layerRecord).
export const order = await Effect.runPromise(Flow.run(lookup, { orderId: 42 }).pipe(Effect.provide(SoapLive)))
