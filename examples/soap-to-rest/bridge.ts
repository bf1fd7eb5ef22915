/**
 * The bridge: `GET /customers/:id` (REST, JSON) answered by the CRM's SOAP `GetCustomer` operation. The
 * SOAP answer is mapped to the REST shape; SOAP faults leave the call's `error` port and become 404, 400 or
 * 502 JSON errors instead of a 500.
 *
 * @module bridge
 */
import * as Soap from "@jsonflow/connectors/soap"
import { Flow } from "@jsonflow/core"
import { type Layer, Schema } from "effect"

/**
 * The SOAP client `crm`: the WSDL is fetched from the service once, when the layer starts. `GetCustomer`
 * only reads, so the client is marked idempotent: a `soap:Server` fault or a lost connection may be retried.
 *
 * @example
 * ```ts
 * const CrmLive = crmLayer("http://crm.internal:8080/crm")
 * ```
 */
export const crmLayer = (endpoint: string): Layer.Layer<Soap.SoapClients, unknown> =>
  Soap.layer({ clients: { crm: { wsdl: `${endpoint}?wsdl`, endpoint, idempotent: true, timeoutMs: 5_000 } } })

export const customerApi = Flow.make({
  id: "customer-api",
  description: "GET /customers/:id: the CRM's SOAP GetCustomer as REST.",
  input: Schema.Struct({ id: Schema.String }),
  trigger: { type: "http", method: "GET", path: "/customers/:id" }
})
  .map("request", (p) => p.$input, { fields: { customerId: "id" } }, Schema.Struct({ customerId: Schema.String }))
  .node("lookup", Soap.call, { client: "crm", operation: "GetCustomer" }, (p) => p.request.out, {
    retry: { maxAttempts: 2, initialDelayMs: 50 } // only failures marked retryable are retried
  })
  .map("customer", (p) => p.lookup.out, {
    fields: {
      id: "customer.customerId",
      name: "customer.fullName",
      email: "customer.email",
      tier: "customer.tier",
      balance: "customer.balance"
    }
  })
  .respond("ok", (p) => p.customer.out)
  // A failure of `lookup`: { node, type, attempts, error: { _tag, message, retryable, details }, input }.
  .switch("fault", (p) => p.lookup.error, {
    notFound: { path: "error.details.detail", op: "contains", value: '"NOT_FOUND"' },
    rejected: {
      any: [
        { path: "error.details.faultCode", op: "endsWith", value: "Client" }, // SOAP 1.1
        { path: "error.details.faultCode", op: "endsWith", value: "Sender" } // SOAP 1.2
      ]
    }
  })
  .map("notFoundError", (p) => p.fault.notFound, {
    fields: {
      "error.code": { value: "CustomerNotFound" },
      "error.message": "error.details.faultString",
      "error.id": "input.customerId"
    }
  })
  .respond("notFound", (p) => p.notFoundError.out, { status: 404 })
  .map("rejectedError", (p) => p.fault.rejected, {
    fields: { "error.code": { value: "InvalidRequest" }, "error.message": "error.details.faultString" }
  })
  .respond("badRequest", (p) => p.rejectedError.out, { status: 400 })
  // Server faults, timeouts, refused connections: the upstream failed, after the retry.
  .map("upstreamError", (p) => p.fault.default, {
    fields: {
      "error.code": { value: "CrmUnavailable" },
      "error.message": { value: "the customer service is not answering; try again later" },
      "error.cause": "error._tag",
      "error.attempts": "attempts"
    }
  })
  .respond("badGateway", (p) => p.upstreamError.out, { status: 502, headers: { "retry-after": "30" } })
  .build()
