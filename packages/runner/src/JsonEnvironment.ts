/**
 * What JSON flows run with. A JSON flow is data anyone with access to the flow store may have written, so
 * the runner decides its powers: the built-in nodes, the `js`/`ts` code nodes and nFlow code boxes in the
 * sandbox (isolated-vm in a supervised process, started on first use), the HTTP connector **with the SSRF
 * guard on** (internal addresses refused unless `ssrf.allow` lists them), the bounded JSONata expressions
 * layer, the native nFlow box types, and whatever extensions the embedding code adds (more connectors).
 * Builder flows (TypeScript) get exactly the layers their author provides instead.
 *
 * @module JsonEnvironment
 */

import { readFileSync } from "node:fs"
import type { ConnectorsConfig } from "@jsonflow/connectors/environment"
import * as Http from "@jsonflow/connectors/http"
import { Builtins, Credentials, Registry } from "@jsonflow/core"
import { Nflow } from "@jsonflow/json-dsl"
import {
  emptyStats,
  Limits,
  Sandbox,
  Nodes as SandboxNodes,
  type SandboxOptions,
  type SandboxService
} from "@jsonflow/sandbox"
import * as Expressions from "@jsonflow/sandbox/expressions"
import { Context, Effect, Layer, Redacted } from "effect"
import type * as Config from "./Config.ts"
import { ConfigError } from "./RunnerError.ts"

/** Node types and services added to the JSON environment by the embedding code. */
export interface Extension {
  readonly registry?: Registry.Registry<unknown>
  readonly layer?: Layer.Layer<never, unknown, never>
}

// nFlow code boxes run through the same sandbox service as `js`/`ts` nodes; their `http_*` helpers use the
// flow's HTTP client (SSRF guard on), passed to the sandbox as a host capability of the call.
const nflowScripts: Nflow.JsNode.ScriptRunner<Sandbox> = {
  run: (source, input, context) =>
    Sandbox.use((sandbox) =>
      Effect.map(
        sandbox.run(source, input, {
          nodeId: context.nodeId,
          executionId: context.executionId,
          ...(context.hostCalls === undefined ? {} : { hostCalls: context.hostCalls })
        }),
        (result) => result.output
      )
    ),
  httpClient: Effect.serviceOption(Http.HttpClient)
}

/**
 * The registry JSON flows are resolved against; `sandbox` gives the code nodes the policy and ceilings
 * their configs are checked against when a flow loads (the sandbox's own defaults otherwise).
 *
 * @example
 * ```ts
 * import { Registry } from "@jsonflow/core"
 * import { JsonEnvironment } from "@jsonflow/runner"
 * Registry.catalog(JsonEnvironment.registry()).map((e) => e.type) // ["delay", "fail", "filter", "http.request", ...]
 * ```
 */
export const registry = (
  extensions: ReadonlyArray<Extension> = [],
  options: { readonly sandbox?: SandboxOptions } = {}
): Registry.Registry<unknown> => {
  // The code nodes check their configs against the sandbox's policy and ceilings when a flow loads.
  const codeNodes = SandboxNodes.make({
    ...(options.sandbox?.staticChecks === undefined ? {} : { staticChecks: options.sandbox.staticChecks }),
    ...(options.sandbox?.maxLimits === undefined ? {} : { maxLimits: options.sandbox.maxLimits })
  })
  let merged: Registry.Registry<unknown> = Registry.merge(
    Registry.merge(Builtins.registry, Registry.make(Http.request, ...codeNodes)),
    Nflow.registry(nflowScripts)
  )
  for (const extension of extensions) if (extension.registry) merged = Registry.merge(merged, extension.registry)
  return merged
}

/**
 * The services JSON flows get: the guarded HTTP client, expressions, and the extensions' layers.
 *
 * @example
 * ```ts
 * import { JsonEnvironment } from "@jsonflow/runner"
 * const layer = JsonEnvironment.layer({ ssrfAllow: ["10.20.0.0/16"] })
 * ```
 */
export const layer = (
  options: {
    readonly ssrfAllow?: ReadonlyArray<string>
    readonly sandbox?: SandboxOptions
    readonly extensions?: ReadonlyArray<Extension>
    /** `false` when an extension serves the HTTP client itself (a configured `connectors.http`). */
    readonly http?: boolean
  } = {}
): Layer.Layer<Http.HttpClient | Sandbox, unknown> => {
  const sandboxed = Layer.merge(Expressions.layer(), lazySandbox(options.sandbox ?? {}))
  const base =
    options.http === false
      ? (sandboxed as Layer.Layer<Http.HttpClient | Sandbox, unknown>)
      : Layer.merge(Http.layer({ ssrfGuard: { enabled: true, allow: options.ssrfAllow ?? [] } }), sandboxed)
  return (options.extensions ?? []).reduce<Layer.Layer<Http.HttpClient | Sandbox, unknown>>(
    (acc, extension) => (extension.layer ? Layer.merge(acc, extension.layer) : acc),
    base
  )
}

/** The sandbox options of a runner configuration (`sandbox` section). */
export const sandboxOptions = (config: Config.Resolved): SandboxOptions => ({
  limits: config.sandbox.limits,
  maxLimits: config.sandbox.maxLimits,
  processes: config.sandbox.processes,
  staticChecks: config.sandbox.staticChecks,
  maxRssMb: config.sandbox.maxRssMb
})

/** The services JSON flows get (the connectors' services come with the configured connectors). */
export type Services = Http.HttpClient | Sandbox

/** What JSON flows are resolved against and run with under one configuration. */
export interface Environment<A = never> {
  /** Built-ins, `http.request`, the sandbox's code nodes, the nFlow types, the configured connectors' nodes. */
  readonly registry: Registry.Registry<unknown>
  /**
   * The sandbox (configured limits, ceilings, processes, static checks, memory cap; started on first use),
   * HTTP with the SSRF guard, expressions, the configured connectors, and `Credentials` (the configured
   * source, wrapped by the audit when one is given).
   */
  readonly layer: Layer.Layer<Services | A, unknown>
}

/** Options of {@link fromConfig}. */
export interface FromConfigOptions<A = never> {
  /** More node types and layers (embedding code). */
  readonly extensions?: ReadonlyArray<Extension>
  /** Where `JSONFLOW_CREDENTIAL_*` are read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * The audit layer (`RunnerAudit.layer(config)`): connectors then resolve credentials through its scrubbing
   * wrapper, and its services (`Audit`, `AuditStore`, `FlowEvents`) are part of the resulting layer.
   */
  readonly audit?: Layer.Layer<A, unknown>
}

/**
 * The credentials of a configuration: `JSONFLOW_CREDENTIAL_<NAME>_<FIELD>` from the environment, then the
 * `credentials` section (a value, `{ env }` or `{ file }` per field); an environment field wins over the
 * file's. Values are read when a connector resolves the name, and stay `Redacted`.
 *
 * @example
 * ```ts
 * // runner.json: { "credentials": { "orders-db": { "url": { "file": "/run/secrets/orders-db-url" } } } }
 * const credentials = JsonEnvironment.credentialsOf(config, process.env)
 * ```
 */
export const credentialsOf = (
  config: Config.Resolved,
  env: Readonly<Record<string, string | undefined>> = process.env
): Credentials.CredentialsShape => {
  const fromEnv = Credentials.fromEnv(env)
  const configured = config.credentials
  return {
    resolve: (name) =>
      Effect.gen(function* () {
        const own = yield* Effect.result(fromEnv.resolve(name))
        const fields = Object.hasOwn(configured, name) ? configured[name] : undefined
        if (fields === undefined) {
          if (own._tag === "Success") return own.success
          return yield* new Credentials.CredentialNotFound({ name, retryable: false })
        }
        const values: Record<string, Redacted.Redacted<string>> = {}
        for (const [field, spec] of Object.entries(fields)) {
          const value = yield* readField(name, field, spec, env)
          values[field] = Redacted.make(value)
        }
        return own._tag === "Success" ? { ...values, ...own.success } : values
      })
  }
}

const readField = (
  name: string,
  field: string,
  spec: Config.CredentialField,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<string, Credentials.CredentialNotFound> => {
  if (typeof spec === "string") return Effect.succeed(spec)
  if ("env" in spec) {
    const value = env[spec.env]
    return value === undefined
      ? Effect.fail(new Credentials.CredentialNotFound({ name, field, retryable: false }))
      : Effect.succeed(value)
  }
  return Effect.try({
    try: () => readFileSync(spec.file, "utf8").replace(/\r?\n$/, ""),
    // Never the file's content; its path is not secret.
    catch: () => new Credentials.CredentialNotFound({ name, field, retryable: false })
  })
}

/**
 * The connectors of `config.connectors` as an extension (node types and services), or `undefined` without
 * that section. The connectors package is loaded only then. Its HTTP client (a `connectors.http` section)
 * replaces the default one, with the SSRF guard kept on and `ssrf.allow` added to its allow list.
 * Throws {@link ConfigError} with every problem at its JSON Pointer (`/connectors/sql/max`).
 *
 * @example
 * ```ts
 * const connectors = await JsonEnvironment.connectorsOf(config) // { registry: sql.*, ..., layer }
 * ```
 */
export const connectorsOf = async (config: Config.Resolved): Promise<Extension | undefined> => {
  if (config.connectors === undefined) return undefined
  const Connectors = await import("@jsonflow/connectors/environment")
  const checked = Connectors.validate(config.connectors)
  if (Array.isArray(checked)) {
    throw new ConfigError({
      problems: (checked as ReadonlyArray<{ readonly path: string; readonly message: string }>).map((e) => ({
        path: `/connectors${e.path}`,
        source: "configuration",
        message: e.message
      }))
    })
  }
  const valid = checked as ConnectorsConfig
  const http = valid.http
  const guard = http?.ssrfGuard
  const allow = [...(typeof guard === "object" ? (guard.allow ?? []) : []), ...config.ssrf.allow]
  return Connectors.environment(
    http === undefined ? valid : { ...valid, http: { ...http, ssrfGuard: { enabled: true, allow } } }
  )
}

/** Whether `connectorsOf` serves the HTTP client (so the default one is not built too). */
const connectorsServeHttp = (config: Config.Resolved) =>
  typeof config.connectors?.http === "object" && config.connectors.http !== null

/**
 * What JSON flows get under a runner configuration: exactly what `jsonflow serve` builds (the built-ins,
 * the sandbox with its configured limits, HTTP with the SSRF guard, the configured connectors, expressions,
 * the configured credentials), for tools that
 * run flows outside the server (`jsonflow run`, `validate`, `replay`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Config, JsonEnvironment } from "@jsonflow/runner"
 * const { config } = Config.load({ file: "runner.json" })
 * const environment = await JsonEnvironment.fromConfig(config) // throws ConfigError for bad connector settings
 * // compile with environment.registry, then: Effect.provide(flow.run(input), environment.layer)
 * ```
 */
export const fromConfig = async <A = never>(
  config: Config.Resolved,
  options: FromConfigOptions<A> = {}
): Promise<Environment<A>> => {
  const connectors = await connectorsOf(config)
  const extensions = [...(connectors === undefined ? [] : [connectors]), ...(options.extensions ?? [])]
  const source = Layer.succeed(Credentials.Credentials, credentialsOf(config, options.env))
  // The audit wraps the configured source; everything built after it sees the wrapper.
  const credentials: Layer.Layer<A, unknown> = options.audit
    ? Layer.provideMerge(options.audit, source)
    : (source as Layer.Layer<never, never> as Layer.Layer<A, never>)
  return {
    registry: registry(extensions, { sandbox: sandboxOptions(config) }),
    layer: Layer.provideMerge(
      layer({
        ssrfAllow: config.ssrf.allow,
        sandbox: sandboxOptions(config),
        extensions,
        http: !connectorsServeHttp(config)
      }),
      credentials
    ) as Layer.Layer<Services | A, unknown>
  }
}

/**
 * The sandbox, started on the first script call: a runner whose flows have no code never spawns the
 * sandbox process. A failed start is retried at the next call.
 *
 * @example
 * ```ts
 * const SandboxLive = lazySandbox({ processes: 2 })
 * ```
 */
export const lazySandbox = (options: SandboxOptions): Layer.Layer<Sandbox> =>
  Layer.effect(
    Sandbox,
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      let started: Promise<SandboxService> | undefined
      // The started service, for `stats` (synchronous: read at every metrics scrape).
      let live: SandboxService | undefined
      const service = Effect.promise(() => {
        started ??= Effect.runPromise(
          Layer.buildWithScope(Sandbox.layer(options), scope).pipe(
            Effect.map((context) => Context.get(context, Sandbox))
          )
        ).then(
          (sandbox) => {
            live = sandbox
            return sandbox
          },
          (error: unknown) => {
            started = undefined
            live = undefined
            throw error
          }
        )
        return started
      })
      return Sandbox.of({
        compile: (source, compileOptions) =>
          Effect.flatMap(service, (sandbox) => sandbox.compile(source, compileOptions)),
        run: (script, input, runOptions) =>
          Effect.flatMap(service, (sandbox) => sandbox.run(script, input, runOptions)),
        limits: Limits.resolve(options.limits, Limits.defaults, Limits.ceilingsOf(options.maxLimits)),
        stats: () => live?.stats() ?? emptyStats(options.processes ?? 1)
      })
    })
  )
