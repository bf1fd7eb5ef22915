/**
 * Connector settings are checked against their Schema when a layer is built, so a typo in a runner config
 * file or a bad value from code fails at startup with a typed error naming the bad field, instead of a
 * crash (or a silently ignored key) at the first call.
 *
 * @module ConfigError
 */
import { Validation } from "@jsonflow/core"
import { Effect, Schema } from "effect"

/** One problem in a connector's settings. */
export const ConfigIssue = Schema.Struct({
  /** JSON Pointer into the settings, e.g. `/ssrfGuard/allow/0`. */
  path: Schema.String,
  message: Schema.String
})

/** A connector's settings do not match its config Schema; the layer was not built. */
export class ConnectorConfigError extends Schema.TaggedError<ConnectorConfigError>()("ConnectorConfigError", {
  /** `http`, `sql`, `soap`, `grpc`, `redis` or `mail` (`connectors` for the document as a whole). */
  connector: Schema.String,
  /** JSON Pointer of the first problem (relative to the settings given, e.g. `/max` or `/sql/max`). */
  path: Schema.String,
  problem: Schema.String,
  /** Every problem found. */
  issues: Schema.Array(ConfigIssue),
  retryable: Schema.Literal(false)
}) {
  override get message() {
    const more = this.issues.length > 1 ? ` (and ${this.issues.length - 1} more)` : ""
    const what = this.connector === "connectors" ? "connectors config" : `${this.connector} connector config`
    return `${what}${this.path === "" ? "" : ` at ${this.path}`}: ${this.problem}${more}`
  }
}

/**
 * Decodes `value` with `schema`, strictly (unknown keys are reported). `at` is a JSON Pointer prefixed to
 * every path, for settings that sit inside a larger document.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { validateConfig } from "../shared/ConfigError.ts"
 * validateConfig("http", Schema.Struct({ connectTimeoutMs: Schema.Number }), { connectTimeoutMs: "10s" })
 * // ConnectorConfigError: http connector config at /connectTimeoutMs: expected number, got "10s"
 * ```
 */
export const validateConfig = <A>(
  connector: string,
  schema: Schema.Codec<A, unknown>,
  value: unknown,
  at = ""
): A | ConnectorConfigError => {
  const decoded = Validation.decode(schema, value, { strict: true })
  if (decoded._tag === "Valid") return decoded.value
  const issues = decoded.issues.map((issue) => ({ path: `${at}${issue.path}`, message: issue.message }))
  const first = issues[0] ?? { path: at, message: "invalid" }
  return new ConnectorConfigError({ connector, path: first.path, problem: first.message, issues, retryable: false })
}

/** {@link validateConfig} as an Effect, for layer constructors. */
export const decodeConfig = <A>(
  connector: string,
  schema: Schema.Codec<A, unknown>,
  value: unknown,
  at = ""
): Effect.Effect<A, ConnectorConfigError> =>
  Effect.suspend(() => {
    const result = validateConfig(connector, schema, value, at)
    return result instanceof ConnectorConfigError ? Effect.fail(result) : Effect.succeed(result)
  })
