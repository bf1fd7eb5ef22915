/**
 * Every connector from one JSON document: the `connectors` section of a runner config file. The
 * {@link ConnectorsConfig} Schema has one optional section per protocol; {@link environment} turns it into
 * the node types of the configured connectors (to compile JSON flows against) and one layer serving them.
 * A section left out adds neither node types nor a client.
 *
 * The settings name credentials, never hold them: secrets come from core's `Credentials` service (by
 * default `JSONFLOW_CREDENTIAL_<NAME>_<FIELD>` environment variables) when the layer is built.
 *
 * @module Environment
 */
import { Registry } from "@jsonflow/core"
import { Effect, Layer, Schema } from "effect"
import * as Grpc from "./grpc/index.ts"
import * as Http from "./http/index.ts"
import * as Mail from "./mail/index.ts"
import * as Redis from "./redis/index.ts"
import { ConnectorConfigError, validateConfig } from "./shared/ConfigError.ts"
import * as Soap from "./soap/index.ts"
import * as Sql from "./sql/index.ts"

/**
 * The `sql` section: one database (its settings), or several by name (`{ databases: { default, erp } }`;
 * nodes pick one with `database`, `default` serves those that name none).
 */
export const SqlSection = Schema.Union([Sql.SqlDatabases, Sql.SqlConfig])
export type SqlSection = typeof SqlSection.Type

/**
 * Settings of every connector, each optional. The HTTP client's SSRF guard is **on** unless the `http`
 * section says `ssrfGuard: false` (JSON flows may have been written by anyone with access to the flow
 * store): list the internal hosts or CIDR ranges flows may call in `http.ssrfGuard.allow`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ConnectorsConfig } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(ConnectorsConfig)({
 *   http: { ssrfGuard: { allow: ["10.20.0.0/16"] } },
 *   sql: { credential: "orders-db", max: 10 },
 *   redis: { host: "cache.internal", credential: "cache" }
 * })
 * ```
 */
export const ConnectorsConfig = Schema.Struct({
  http: Schema.optionalKey(Http.HttpConfig),
  sql: Schema.optionalKey(SqlSection),
  soap: Schema.optionalKey(Soap.SoapConfig),
  grpc: Schema.optionalKey(Grpc.GrpcConfig),
  redis: Schema.optionalKey(Redis.RedisConfig),
  mail: Schema.optionalKey(Mail.MailConfig)
})
export type ConnectorsConfig = typeof ConnectorsConfig.Type

/** What {@link environment} returns: the shape the runner's JSON environment takes as an extension. */
export interface ConnectorsEnvironment {
  /** The node types of the configured connectors (no built-ins). */
  readonly registry: Registry.Registry<unknown>
  /**
   * The configured connectors' services, merged. Building it opens the clients (and fails with the first
   * connector's typed error: `ConnectorConfigError`, `CredentialNotFound`, `SqlConnectionError`,
   * `MissingPackage` when a configured SOAP, gRPC or mail connector's library is not installed, ...);
   * closing its scope closes them.
   */
  readonly layer: Layer.Layer<never, unknown, never>
}

const registries: Readonly<Record<"http" | "sql" | "soap" | "grpc" | "redis" | "mail", Registry.Registry<unknown>>> = {
  http: Http.registry,
  sql: Sql.registry,
  soap: Soap.registry,
  grpc: Grpc.registry,
  redis: Redis.registry,
  mail: Mail.registry
}

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Checks the settings section by section, so every problem is reported at its JSON Pointer (`/sql/max`,
 * `/http/ssrfGuard/allow/0`) rather than as a union mismatch. Returns the decoded settings or the errors.
 *
 * @example
 * ```ts
 * import { validate } from "@jsonflow/connectors"
 * const checked = validate({ sql: { credential: "orders-db", max: 0 } })
 * if (Array.isArray(checked)) console.log(checked[0]?.message) // sql connector config at /sql/max: ...
 * ```
 */
export const validate = (config: unknown): ConnectorsConfig | ReadonlyArray<ConnectorConfigError> => {
  if (!isObject(config)) {
    return [
      new ConnectorConfigError({
        connector: "connectors",
        path: "",
        problem: "expected an object with optional http, sql, soap, grpc, redis and mail sections",
        issues: [],
        retryable: false
      })
    ]
  }
  const sections: Record<string, Schema.Codec<unknown, unknown>> = {
    http: Http.HttpConfig,
    sql: isObject(config.sql) && "databases" in config.sql ? Sql.SqlDatabases : Sql.SqlConfig,
    soap: Soap.SoapConfig,
    grpc: Grpc.GrpcConfig,
    redis: Redis.RedisConfig,
    mail: Mail.MailConfig
  }
  const errors: Array<ConnectorConfigError> = []
  const decoded: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config)) {
    const schema = sections[key]
    if (schema === undefined) {
      errors.push(
        new ConnectorConfigError({
          connector: "connectors",
          path: `/${key}`,
          problem: `is not a known connector (known: ${Object.keys(sections).join(", ")})`,
          issues: [],
          retryable: false
        })
      )
      continue
    }
    const result = validateConfig(key, schema, value, `/${key}`)
    if (result instanceof ConnectorConfigError) errors.push(result)
    else decoded[key] = result
  }
  return errors.length > 0 ? errors : (decoded as ConnectorsConfig)
}

/**
 * The node types and services of the configured connectors. HTTP gets the SSRF guard on by default;
 * `sql` with `databases` serves several named databases. Invalid settings do not throw: the returned layer
 * fails with the first `ConnectorConfigError` (each names its JSON Pointer) when built.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * import { environment } from "@jsonflow/connectors"
 * const connectors = environment({
 *   sql: { credential: "orders-db" }, // JSONFLOW_CREDENTIAL_ORDERS_DB_URL
 *   http: { ssrfGuard: { allow: ["127.0.0.1/32"] } }
 * })
 * const registry = Registry.merge(Builtins.registry, connectors.registry) // sql.*, http.request, built-ins
 * // compile a JSON flow against `registry`, then run it with Effect.provide(connectors.layer)
 * ```
 */
export const environment = (config: ConnectorsConfig): ConnectorsEnvironment => {
  const checked = validate(config)
  if (Array.isArray(checked)) {
    // The node types stay known, so flows still compile and the startup error is the config's own.
    const first = (checked as ReadonlyArray<ConnectorConfigError>)[0]!
    const present = isObject(config) ? Object.keys(config) : []
    const registry = present.reduce<Registry.Registry<unknown>>(
      (merged, key) =>
        Object.hasOwn(registries, key) ? Registry.merge(merged, registries[key as keyof typeof registries]) : merged,
      Registry.make()
    )
    return { registry, layer: Layer.effectDiscard(Effect.fail(first)) }
  }
  const valid = checked as ConnectorsConfig
  let registry: Registry.Registry<unknown> = Registry.make()
  const layers: Array<Layer.Layer<never, unknown, never>> = []
  const add = (key: keyof typeof registries, layer: Layer.Layer<never, unknown, never>) => {
    registry = Registry.merge(registry, registries[key])
    layers.push(layer)
  }
  if (valid.http !== undefined) {
    const http = valid.http
    add("http", Http.layer({ ...http, ssrfGuard: http.ssrfGuard ?? { enabled: true } }))
  }
  if (valid.sql !== undefined) {
    const sql = valid.sql
    add("sql", "databases" in sql ? Sql.layerDatabases(sql) : Sql.layer(sql))
  }
  if (valid.soap !== undefined) add("soap", Soap.layer(valid.soap))
  if (valid.grpc !== undefined) add("grpc", Grpc.layer(valid.grpc))
  if (valid.redis !== undefined) add("redis", Redis.layer(valid.redis))
  if (valid.mail !== undefined) add("mail", Mail.layer(valid.mail))
  const [first, ...rest] = layers
  return { registry, layer: first === undefined ? Layer.empty : Layer.mergeAll(first, ...rest) }
}
