/**
 * `@jsonflow/connectors/soap`: SOAP web services through the `soap` package. A scoped `SoapClients` service
 * (named clients, WSDL parsed once and cached, basic auth or WS-Security by credential name, endpoint
 * override), the `soap.call` node type, and typed errors (`SoapFault` with code and string) that say
 * whether a retry is safe.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Flow } from "@jsonflow/core"
 * import { Soap } from "@jsonflow/connectors"
 *
 * const lookup = Flow.make({ id: "lookup-order", input: Schema.Struct({ orderId: Schema.Number }) })
 *   .node("order", Soap.call, { client: "orders", operation: "GetOrder" }, (p) => p.$input)
 *   .build()
 * const program = Flow.run(lookup, { orderId: 42 }).pipe(
 *   Effect.provide(Soap.layer({ clients: { orders: { wsdl: "https://erp.example.com/orders?wsdl" } } }))
 * )
 * ```
 *
 * @module soap
 */
import { Registry } from "@jsonflow/core"
import { definitions } from "./nodes.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export * from "./client.ts"
export * from "./config.ts"
export * from "./errors.ts"
export * from "./nodes.ts"

/** A registry holding `soap.call`, to merge into the registry JSON flows are compiled against. */
export const registry = Registry.make(...definitions)
