import { Http } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect, Schema } from "effect"

// One pool per origin; the SSRF guard blocks internal addresses except the allowed range.
const HttpLive = Http.layer({ connectionsPerOrigin: 32, ssrfGuard: { enabled: true, allow: ["10.20.0.0/16"] } })

const Contact = Schema.Struct({ name: Schema.String, email: Schema.String })

// POST the input as JSON; a 4xx/5xx answer goes to the `nonOk` port instead of failing the node.
const createContact = Flow.make({ id: "create-contact", input: Contact })
  .node(
    "post",
    Http.request,
    {
      method: "POST",
      url: "https://crm.example.com/api/contacts",
      auth: { type: "bearer", credential: "crm" }, // JSONFLOW_CREDENTIAL_CRM_TOKEN
      timeoutMs: 5_000,
      nonOk: "port"
    },
    (p) => p.$input,
    { retry: { maxAttempts: 3, initialDelayMs: 200 } } // engine retry: only failures marked retryable
  )
  .build()

export const created = await Effect.runPromise(
  Flow.run(createContact, { name: "Ada", email: "ada@example.com" }).pipe(Effect.provide(HttpLive))
)
