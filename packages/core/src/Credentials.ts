/**
 * Credentials by name. Flows and node configs only ever hold a credential's *name*; connectors resolve it
 * through this service when they open a client. Values are `Redacted`, so they never print or log.
 *
 * The default implementation reads environment variables: credential `orders-db`, field `password` is
 * `JSONFLOW_CREDENTIAL_ORDERS_DB_PASSWORD` (name and field upper-cased, non-alphanumerics as `_`).
 *
 * @module Credentials
 */
import { Context, Effect, Layer, Redacted, Schema } from "effect"

/** A credential: named fields (`url`, `user`, `password`, `token`, ...), each redacted. */
export type Credential = Readonly<Record<string, Redacted.Redacted<string>>>

/** No credential of that name (or it lacks a required field). Never carries a value. */
export class CredentialNotFound extends Schema.TaggedError<CredentialNotFound>()("CredentialNotFound", {
  name: Schema.String,
  field: Schema.optionalKey(Schema.String),
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return this.field === undefined
      ? `credential "${this.name}" is not configured`
      : `credential "${this.name}" has no field "${this.field}"`
  }
}

/**
 * What the {@link Credentials} service does: resolve a credential's name to its fields. An implementation
 * reads a secret store, the environment ({@link fromEnv}) or a record ({@link fromRecord}); it fails with
 * {@link CredentialNotFound}, which never carries a value.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Credentials } from "@jsonflow/core"
 * const vault: Credentials.CredentialsShape = {
 *   resolve: (name) =>
 *     name === "crm"
 *       ? Effect.succeed({ token: Redacted.make("t0ken") })
 *       : Effect.fail(new Credentials.CredentialNotFound({ name, retryable: false }))
 * }
 * ```
 */
export interface CredentialsShape {
  /** The fields of credential `name`, each redacted. */
  readonly resolve: (name: string) => Effect.Effect<Credential, CredentialNotFound>
}

const envKey = (part: string) => part.toUpperCase().replace(/[^A-Z0-9]+/g, "_")

/**
 * Reads credentials from environment variables `JSONFLOW_CREDENTIAL_<NAME>_<FIELD>`.
 *
 * @example
 * ```ts
 * import { Credentials } from "@jsonflow/core"
 * const creds = Credentials.fromEnv({ JSONFLOW_CREDENTIAL_ORDERS_DB_PASSWORD: "s3cret" })
 * ```
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>>): CredentialsShape => ({
  resolve: (name) =>
    Effect.suspend(() => {
      const prefix = `JSONFLOW_CREDENTIAL_${envKey(name)}_`
      const fields: Record<string, Redacted.Redacted<string>> = {}
      let found = false
      for (const [key, value] of Object.entries(env)) {
        if (value !== undefined && key.startsWith(prefix) && key.length > prefix.length) {
          fields[key.slice(prefix.length).toLowerCase()] = Redacted.make(value)
          found = true
        }
      }
      return found ? Effect.succeed(fields) : Effect.fail(new CredentialNotFound({ name, retryable: false }))
    })
})

/**
 * Credentials from a plain record (configuration files, tests).
 *
 * @example
 * ```ts
 * import { Credentials } from "@jsonflow/core"
 * const layer = Credentials.layerRecord({ "orders-db": { url: "postgres://postgres@127.0.0.1/test" } })
 * ```
 */
export const fromRecord = (record: Readonly<Record<string, Readonly<Record<string, string>>>>): CredentialsShape => ({
  resolve: (name) => {
    const fields = Object.hasOwn(record, name) ? record[name] : undefined
    if (fields === undefined) return Effect.fail(new CredentialNotFound({ name, retryable: false }))
    return Effect.succeed(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Redacted.make(v)])))
  }
})

/** The credentials service; without a layer it reads `process.env` ({@link fromEnv}). */
export const Credentials = Context.Reference<CredentialsShape>("@jsonflow/core/Credentials", {
  defaultValue: () => fromEnv(process.env)
})

/**
 * A layer serving credentials from a record (configuration files, tests).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Credentials } from "@jsonflow/core"
 * const url = Credentials.field("orders-db", "url").pipe(
 *   Effect.map(Redacted.value),
 *   Effect.provide(Credentials.layerRecord({ "orders-db": { url: "postgres://postgres@127.0.0.1/test" } }))
 * )
 * ```
 */
export const layerRecord = (record: Readonly<Record<string, Readonly<Record<string, string>>>>): Layer.Layer<never> =>
  Layer.succeed(Credentials, fromRecord(record))

/**
 * A layer serving credentials from an environment map, as {@link fromEnv} reads it (`process.env` is the
 * default without any layer; pass another map to pin what a test or a service sees).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Credentials } from "@jsonflow/core"
 * const layer = Credentials.layerEnv({ JSONFLOW_CREDENTIAL_CRM_TOKEN: "t0ken" })
 * const token = Credentials.field("crm", "token").pipe(Effect.provide(layer)) // Redacted "t0ken"
 * ```
 */
export const layerEnv = (env: Readonly<Record<string, string | undefined>>): Layer.Layer<never> =>
  Layer.succeed(Credentials, fromEnv(env))

/**
 * Resolves one field of a named credential.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Credentials } from "@jsonflow/core"
 * const password = Credentials.field("orders-db", "password").pipe(Effect.map(Redacted.value))
 * ```
 */
export const field = (name: string, fieldName: string): Effect.Effect<Redacted.Redacted<string>, CredentialNotFound> =>
  Effect.gen(function* () {
    const credential = yield* (yield* Credentials).resolve(name)
    const value = Object.hasOwn(credential, fieldName) ? credential[fieldName] : undefined
    if (value === undefined) return yield* new CredentialNotFound({ name, field: fieldName, retryable: false })
    return value
  })
