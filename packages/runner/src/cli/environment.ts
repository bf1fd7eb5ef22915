/**
 * What the CLI commands share with the runner: its configuration (`--config <file>` and the `JSONFLOW_*`
 * environment, read by the runner's own loader), the JSON environment built from it (the node types and
 * services JSON flows get: connectors, sandbox limits, SSRF-guarded HTTP, expressions), and the audit store
 * it names. `run`, `validate`, `replay` and `serve` therefore know the same node types, and `run`,
 * `executions`, `replay` and `audit-worker` use the same store as a runner started with the same settings.
 *
 * @module environment
 */
import { isAbsolute, resolve } from "node:path"
import { Audit, Config as AuditConfig, type Store } from "@jsonflow/audit"
import { Credentials } from "@jsonflow/core"
import { Context, Effect, Layer, type Scope } from "effect"
import type * as Config from "../Config.ts"
import { load } from "../Config.ts"
import * as JsonEnvironment from "../JsonEnvironment.ts"
import * as RunnerAudit from "../RunnerAudit.ts"
import type { Io } from "./Command.ts"

/** The runner configuration, defaults applied. */
export type Resolved = Config.Resolved

/** The environment `JSONFLOW_*` settings come from. */
export type Env = Readonly<Record<string, string | undefined>>

/** Where a command reads its settings: the working directory, the environment and its own flags. */
export interface Settings {
  readonly cwd: string
  readonly env: Env
  /** `--config <file>`, relative to `cwd`. */
  readonly configFile?: string | undefined
  /** `--audit <postgres://…|dir>`: wins over the configuration and the environment. */
  readonly audit?: string | undefined
}

/** A setting the CLI cannot use (exit code 2), e.g. an audit sink that cannot be queried. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

/**
 * The settings of a command from its io and its `--config` / `--audit` values.
 *
 * @example
 * ```ts
 * const settings = settingsOf(io, { config: values.config, audit: values.audit })
 * ```
 */
export const settingsOf = (
  io: Io,
  flags: { readonly config?: string | undefined; readonly audit?: string | undefined }
) => ({ cwd: io.cwd, env: io.env ?? process.env, configFile: flags.config, audit: flags.audit }) satisfies Settings

const absolute = (cwd: string, path: string) => (isAbsolute(path) ? path : resolve(cwd, path))

/**
 * The runner configuration as `jsonflow serve` would read it with the same `--config` and environment;
 * `--audit` then replaces the audit sink: a `postgres://` URL is the PostgreSQL sink, anything else an
 * embedded store directory. Throws the runner's `ConfigError` with every problem.
 *
 * @example
 * ```ts
 * const config = loadConfig({ cwd: process.cwd(), env: process.env, audit: "postgres://localhost/app" })
 * config.audit.sink // "postgres"
 * ```
 */
export const loadConfig = (settings: Settings): Config.Resolved => {
  const { config } = load({
    ...(settings.configFile === undefined ? {} : { file: absolute(settings.cwd, settings.configFile) }),
    env: settings.env
  })
  if (settings.audit === undefined) return config
  const postgres = /^postgres(ql)?:\/\//.test(settings.audit)
  return {
    ...config,
    audit: postgres
      ? { ...config.audit, sink: "postgres", url: settings.audit }
      : { ...config.audit, sink: "embedded", path: settings.audit }
  }
}

/**
 * The node types and services JSON flows get under `config`, exactly what `jsonflow serve` builds (the
 * runner's `JsonEnvironment.fromConfig`): built-ins, nFlow types, `js`/`ts` in the sandbox with the
 * configured limits, expressions, `http.request` with the SSRF guard, the configured connectors. With an
 * opened {@link Recorder}, its services (`Audit`, `AuditStore`, `FlowEvents`, the scrubbing `Credentials`)
 * are part of the layer, so executions are recorded. Rejects with the runner's `ConfigError` for connector
 * settings that do not check.
 *
 * @example
 * ```ts
 * const { registry, layer } = await environment(config, settings)
 * await Effect.runPromise(compiled.run(input).pipe(Effect.provide(layer)))
 * ```
 */
export const environment = (
  config: Config.Resolved,
  settings: Settings,
  recorder?: Recorder
): Promise<JsonEnvironment.Environment<Audit.Audit | Store.AuditStore>> =>
  JsonEnvironment.fromConfig(config, {
    env: settings.env,
    ...(recorder === undefined ? {} : { audit: Layer.succeedContext(recorder.context) })
  })

/** An opened audit recorder: its services, and where it writes (for messages). */
export interface Recorder {
  readonly context: Context.Context<Audit.Audit | Store.AuditStore>
  readonly audit: Audit.AuditShape
  readonly where: string
}

/**
 * Opens, in the current scope, the audit the runner would record with under `config` (same sink,
 * redaction, buffer and snapshot settings), or `undefined` for `audit.sink: none`. Closing the scope
 * flushes it. Fails with the reason when the store does not open. An embedded store that a running
 * `jsonflow serve` holds is written through that runner (its live query socket): the short commands
 * (`run`, `replay`) record while the runner serves.
 *
 * @example
 * ```ts
 * const recorder = yield* openRecorder(config, settings)
 * ```
 */
export const openRecorder = (
  config: Config.Resolved,
  settings: Settings
): Effect.Effect<Recorder | undefined, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const live = yield* Effect.try({
      try: () => RunnerAudit.layer(config, { cwd: settings.cwd, env: settings.env, throughOwner: true }),
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    })
    if (live === undefined) return undefined
    const credentials = Layer.succeed(Credentials.Credentials, JsonEnvironment.credentialsOf(config, settings.env))
    const context = yield* Layer.build(Layer.provide(live, credentials)).pipe(
      Effect.mapError((error) => new Error(messageOf(error)))
    )
    return { context, audit: Context.get(context, Audit.Audit), where: describeAudit(config, settings) }
  })

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * The queryable store the configuration records into, the way the runner resolves it: the embedded store
 * (`audit.path`, else `JSONFLOW_AUDIT`, else `.jsonflow/audit`), or PostgreSQL at `audit.url` (the
 * `postgres` sink, and the `redis` sink, whose worker writes there). Throws {@link UsageError} for a sink
 * that keeps nothing to query.
 *
 * @example
 * ```ts
 * storeTarget(loadConfig(settings), settings) // { _tag: "Embedded", dataDir: "<cwd>/.jsonflow/audit" }
 * ```
 */
export const storeTarget = (config: Config.Resolved, settings: Settings): AuditConfig.Target => {
  const target = RunnerAudit.storeTarget(config, { cwd: settings.cwd, env: settings.env })
  if (target !== undefined) return target
  const sink = config.audit.sink
  throw new UsageError(
    sink === "redis" || sink === "postgres"
      ? `audit.sink is "${sink}" but audit.url (JSONFLOW_AUDIT_URL), the PostgreSQL store, is not set`
      : `audit.sink is "${sink}": nothing to query; point the CLI at a store with --audit <postgres://…|dir> or JSONFLOW_AUDIT_SINK/JSONFLOW_AUDIT_URL/JSONFLOW_AUDIT_PATH`
  )
}

/**
 * The store to query under `config` (`executions`, `replay`): {@link storeTarget} opened as an
 * `AuditStore` layer.
 *
 * @example
 * ```ts
 * const rows = await Effect.runPromise(Query.executions({ limit: 10 }).pipe(Effect.provide(storeLayer(config, settings))))
 * ```
 */
export const storeLayer = (
  config: Config.Resolved,
  settings: Settings
): Layer.Layer<Store.AuditStore, Store.StoreError> => AuditConfig.storeLayer(storeTarget(config, settings))

/**
 * `config` recording into `target` (a store {@link storeTarget} found): same redaction, buffer and snapshot
 * settings, the sink replaced by that store. Replays use it so that they land where the original is.
 *
 * @example
 * ```ts
 * const recording = recordingInto(config, storeTarget(config, settings))
 * ```
 */
export const recordingInto = (config: Config.Resolved, target: AuditConfig.Target): Config.Resolved => {
  if (target._tag === "Embedded")
    return { ...config, audit: { ...config.audit, sink: "embedded", path: target.dataDir } }
  const url = new URL(target.url)
  if (target.schema !== undefined) url.searchParams.set("schema", target.schema)
  return { ...config, audit: { ...config.audit, sink: "postgres", url: url.toString() } }
}

/** A URL without its password, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")

/** How a target is named in messages: the directory, or the URL without its password. */
export const describeTarget = (target: AuditConfig.Target, cwd: string): string => {
  if (target._tag === "Postgres")
    return redactUrl(target.url) + (target.schema === undefined ? "" : ` (schema ${target.schema})`)
  const relative = target.dataDir.startsWith(`${cwd}/`) ? target.dataDir.slice(cwd.length + 1) : target.dataDir
  return relative
}

/**
 * Where the configuration records, for messages: the store, the JSON lines file, or the console.
 *
 * @example
 * ```ts
 * describeAudit(loadConfig(settings), settings) // ".jsonflow/audit"
 * ```
 */
export const describeAudit = (config: Config.Resolved, settings: Settings): string => {
  switch (config.audit.sink) {
    case "none":
      return "nowhere (audit.sink none)"
    case "console":
      return "the console"
    case "jsonl":
      return config.audit.path ?? "audit.jsonl"
    case "redis":
      return `the Redis stream ${config.audit.stream} (the audit worker moves it to PostgreSQL)`
    default:
      return describeTarget(storeTarget(config, settings), settings.cwd)
  }
}
