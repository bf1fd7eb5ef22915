/**
 * The audit a runner configuration names, for tools that must agree with `jsonflow serve`: the recording
 * layer (sink, redaction, buffer, retention), where the queryable store is, the encryption keyring and the
 * Redis bus of the `redis` sink. The CLI's `executions`, `replay` and `audit-worker` commands read the same
 * configuration (file and `JSONFLOW_*` env) through these functions.
 *
 * Published as `@jsonflow/runner/audit`, apart from the root module, so that importing the runner does not
 * load the audit's drivers when the audit is off.
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/runner"
 * import * as RunnerAudit from "@jsonflow/runner/audit"
 * const { config } = Config.load({ file: "runner.json" })
 * RunnerAudit.storeTarget(config) // { _tag: "Postgres", url: "postgres://..." } | { _tag: "Embedded", ... }
 * ```
 *
 * @module RunnerAudit
 */
import type { Audit, Config as AuditConfig, Redaction, Store } from "@jsonflow/audit"
import type { Layer } from "effect"
import type * as Config from "./Config.ts"
import * as Ops from "./ops/audit.ts"

/** Where relative paths are resolved and which environment is read (defaults: the process's). */
export interface AuditSetupOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * Embedded sink only: when a live process (a running `jsonflow serve`) holds the store, write through it
   * (its socket) instead of failing. For short runs of the CLI (`run`, `replay`); a runner never does.
   */
  readonly throughOwner?: boolean
}

/** The env variable holding the encryption keys (`kid:base64key,...`; the first is current unless `keyId` says). */
export const KEYS_ENV: string = Ops.KEYS_ENV

/**
 * The recording layer of `config.audit`, or `undefined` for `sink: "none"`. Provide the configured
 * credentials to it (it wraps them: every value a connector resolves is scrubbed from records). Throws
 * `ConfigError` when the redaction settings need keys the environment lacks.
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/runner"
 * import * as RunnerAudit from "@jsonflow/runner/audit"
 * const AuditLive = RunnerAudit.layer(Config.load().config)
 * ```
 */
export const layer = (
  config: Config.Resolved,
  options: AuditSetupOptions = {}
): Layer.Layer<Audit.Audit | Store.AuditStore, unknown> | undefined =>
  Ops.auditLayer(
    config.audit,
    options.cwd ?? process.cwd(),
    options.env ?? process.env,
    options.throughOwner === undefined ? {} : { throughOwner: options.throughOwner }
  )

/**
 * Where the queryable store of the configuration is: the embedded directory (default `.jsonflow/audit`),
 * or the PostgreSQL URL for the `postgres` sink and for the `redis` sink (where `jsonflow audit-worker`
 * writes: `audit.url`). `undefined` when nothing queryable is configured (`jsonl`, `console`, `none`).
 *
 * @example
 * ```ts
 * import { Config as AuditConfig } from "@jsonflow/audit"
 * const target = RunnerAudit.storeTarget(config)
 * const StoreLive = target && AuditConfig.storeLayer(target)
 * ```
 */
export const storeTarget = (config: Config.Resolved, options: AuditSetupOptions = {}): AuditConfig.Target | undefined =>
  Ops.storeTarget(config.audit, options.cwd ?? process.cwd(), options.env ?? process.env)

/**
 * The keyring of `audit.redaction`: the keys of `JSONFLOW_AUDIT_KEYS`, current `keyId`; `undefined` when the
 * variable is unset. Replay needs it to decrypt what was encrypted.
 *
 * @example
 * ```ts
 * const ring = RunnerAudit.keyring(config)
 * ```
 */
export const keyring = (
  config: Config.Resolved,
  env: Readonly<Record<string, string | undefined>> = process.env
): Redaction.Keyring | undefined => Ops.keyring(config.audit, env)

/**
 * The Redis stream of the `redis` sink (what `jsonflow audit-worker` reads), or `undefined` for the
 * other sinks.
 *
 * @example
 * ```ts
 * RunnerAudit.bus(config) // { url: "redis://127.0.0.1:6379", stream: "jsonflow:audit" }
 * ```
 */
export const bus = (config: Config.Resolved): { readonly url: string; readonly stream: string } | undefined =>
  config.audit.sink === "redis" && config.audit.redis !== undefined
    ? { url: config.audit.redis, stream: config.audit.stream }
    : undefined
