/**
 * A connector in one file: a typed error, a service with a scoped layer, and a node type that needs the
 * service. A flow using the node requires `Crm` in its type, so running it without the layer does not compile.
 */
import { Credentials, Flow, Node } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted, Schema } from "effect"

export const Contact = Schema.Struct({ email: Schema.String, name: Schema.String })
export type Contact = typeof Contact.Type

/** A typed failure; `retryable` tells the engine whether a node retry policy may try again. */
export class CrmError extends Schema.TaggedError<CrmError>()("CrmError", {
  status: Schema.Number,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  // What NodeFailed and the audit show for this error.
  override get message() {
    return `CRM answered ${this.status}: ${this.reason}`
  }
}

export interface CrmShape {
  readonly upsert: (contact: Contact) => Effect.Effect<{ readonly id: string; readonly created: boolean }, CrmError>
}

/** The service: one tag, one live layer. Node code only sees this interface. */
export class Crm extends Context.Service<Crm, CrmShape>()("example/Crm") {}

/**
 * The live layer. The token is resolved by credential name when the layer is built, never stored in a
 * flow; the connection is opened on acquire and closed when the layer's scope ends.
 */
export const layer = (options: { readonly baseUrl: string; readonly credential: string }) =>
  Layer.effect(
    Crm,
    Effect.gen(function* () {
      const token = yield* Credentials.field(options.credential, "token")
      const session = yield* Effect.acquireRelease(
        Effect.sync(() => ({ baseUrl: options.baseUrl, contacts: new Map<string, string>() })),
        (s) => Effect.sync(() => s.contacts.clear())
      )
      return {
        upsert: (contact) => {
          if (Redacted.value(token) === "") {
            return Effect.fail(new CrmError({ status: 401, reason: "empty token", retryable: false }))
          }
          const known = session.contacts.get(contact.email)
          const id = known ?? `c-${session.contacts.size + 1}`
          session.contacts.set(contact.email, id)
          return Effect.succeed({ id, created: known === undefined })
        }
      }
    })
  )

/** The node type: a JSON flow uses it as `{ "type": "crm.upsert" }`. */
export const upsert = Node.define({
  type: "crm.upsert",
  description: "Creates or updates a CRM contact by e-mail.",
  input: Contact,
  output: Schema.Struct({ id: Schema.String, created: Schema.Boolean }),
  run: (contact) =>
    Effect.gen(function* () {
      const crm = yield* Crm
      return yield* crm.upsert(contact)
    })
})

export const signup = Flow.make({ id: "signup", input: Contact })
  .andThen("crm", upsert, {}, { retry: { maxAttempts: 3, initialDelayMs: 200 } })
  .build()

// Run it: the layer provides Crm, Credentials.layerRecord provides the token (use layerEnv in production).
if (import.meta.main) {
  const program = Flow.run(signup, { email: "ada@example.com", name: "Ada" }).pipe(
    Effect.provide(layer({ baseUrl: "https://crm.example.com", credential: "crm" })),
    Effect.provide(Credentials.layerRecord({ crm: { token: "secret" } }))
  )
  const result = await Effect.runPromise(program)
  console.log(JSON.stringify(result.output)) // {"id":"c-1","created":true}
}
