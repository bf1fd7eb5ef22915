/**
 * The audit of executions, through `@jsonflow/audit`: the runner builds its layer from `audit` in the
 * configuration (default: the embedded store in `.jsonflow/audit`, which `jsonflow executions list` reads),
 * forwards the engine's events to it next to its own metrics subscriber, registers every loaded flow
 * version (replay needs the IR), and exports the buffer counters as metrics. Closing the layer flushes.
 *
 * The public face of this module is `RunnerAudit` (`@jsonflow/runner/audit`): the CLI builds the same
 * layer and finds the same store from a configuration.
 *
 * @module audit
 */
import { isAbsolute, resolve } from "node:path"
import {
  Audit,
  Config as AuditConfig,
  type Buffer,
  Console,
  Jsonl,
  Postgres,
  Redaction,
  RedisBus,
  type Store
} from "@jsonflow/audit"
import type { Layer } from "effect"
import type * as Config from "../Config.ts"
import { ConfigError } from "../RunnerError.ts"

export { Audit, Remote, Store } from "@jsonflow/audit"

type Env = Readonly<Record<string, string | undefined>>

/** The env variable holding the audit's AES-256 keys, `kid:base64key,...`: secrets, never in the file. */
export const KEYS_ENV = "JSONFLOW_AUDIT_KEYS"

/**
 * The keyring of the redaction settings: keys from `JSONFLOW_AUDIT_KEYS`, the current one `keyId` (default
 * the first). `undefined` when the variable is not set. A malformed value or an unknown `keyId` is a
 * {@link ConfigError} that names the variable, never a key.
 *
 * @example
 * ```ts
 * const ring = keyring(config.audit, { JSONFLOW_AUDIT_KEYS: `k1:${Redaction.generateKey()}` })
 * ```
 */
export const keyring = (audit: Config.Resolved["audit"], env: Env = process.env): Redaction.Keyring | undefined => {
  const spec = env[KEYS_ENV]
  if (spec === undefined || spec.trim() === "") return undefined
  let ring: Redaction.Keyring
  try {
    ring = Redaction.keyringFrom(spec)
  } catch (error) {
    throw new ConfigError({
      problems: [{ path: "/audit/redaction", source: KEYS_ENV, message: (error as Error).message }]
    })
  }
  const keyId = audit.redaction.keyId
  if (keyId === undefined) return ring
  if (!ring.keys.has(keyId)) {
    throw new ConfigError({
      problems: [
        {
          path: "/audit/redaction/keyId",
          source: KEYS_ENV,
          message: `no key "${keyId}" in ${KEYS_ENV} (it has ${[...ring.keys.keys()].map((k) => `"${k}"`).join(", ")})`
        }
      ]
    })
  }
  return { current: keyId, keys: ring.keys }
}

const redactionOf = (audit: Config.Resolved["audit"], env: Env): Redaction.RedactionOptions => {
  const r = audit.redaction
  const ring = keyring(audit, env)
  if (r.mode === "encrypt" && ring === undefined) {
    throw new ConfigError({
      problems: [
        {
          path: "/audit/redaction/mode",
          source: KEYS_ENV,
          message: `mode "encrypt" needs the keys in ${KEYS_ENV} (kid:<base64 of 32 bytes>,...)`
        }
      ]
    })
  }
  return {
    ...(r.keys.length === 0 ? {} : { keys: [...Redaction.DEFAULT_KEYS, ...r.keys] }),
    ...(r.paths.length === 0 ? {} : { paths: r.paths }),
    ...(r.patterns === undefined ? {} : { patterns: r.patterns }),
    mode: r.mode,
    ...(ring === undefined ? {} : { keyring: ring })
  }
}

const within = (cwd: string, path: string) => (isAbsolute(path) ? path : resolve(cwd, path))

/**
 * The audit layer of a configuration, or `undefined` for `sink: "none"`. It needs `Credentials` from its
 * context (the configured source) and serves back a wrapper that scrubs every resolved value from records.
 * Throws {@link ConfigError} for redaction settings the environment does not satisfy.
 *
 * @example
 * ```ts
 * const layer = auditLayer(config.audit, process.cwd())
 * ```
 */
export const auditLayer = (
  audit: Config.Resolved["audit"],
  cwd: string,
  env: Env = process.env,
  options: { readonly throughOwner?: boolean } = {}
): Layer.Layer<Audit.Audit | Store.AuditStore, unknown> | undefined => {
  const buffer: Buffer.BufferOptions = {
    capacity: audit.buffer.capacity,
    onFull: audit.buffer.onFull,
    shutdownTimeoutMs: audit.buffer.flushTimeoutMs,
    ...(audit.buffer.journalDir === undefined ? {} : { journalDir: within(cwd, audit.buffer.journalDir) })
  }
  const settings = { snapshots: audit.snapshots, redaction: redactionOf(audit, env), buffer }
  switch (audit.sink) {
    case "none":
      return undefined
    case "console":
      return Audit.layer({ ...settings, sinks: [Console.sink()] })
    case "jsonl":
      return Audit.layer({ ...settings, sinks: [Jsonl.sink({ path: within(cwd, audit.path ?? "audit.jsonl") })] })
    case "redis":
      if (audit.redis === undefined) throw new Error("audit.sink redis needs audit.redis or redis.url")
      return Audit.layer({ ...settings, sinks: [RedisBus.sink({ url: audit.redis, stream: audit.stream })] })
    case "postgres": {
      if (audit.url === undefined) throw new Error("audit.sink postgres needs audit.url")
      const target = AuditConfig.target(audit.url, cwd, env)
      if (target._tag !== "Postgres") throw new Error("audit.url must be a postgres:// URL")
      return Audit.layer({
        ...settings,
        sinks: [
          Postgres.sink({
            ...AuditConfig.postgresOptions(target),
            ...(audit.retentionDays === undefined ? {} : { retentionDays: audit.retentionDays })
          })
        ]
      })
    }
    case "embedded":
      return Audit.layer({
        ...settings,
        sinks: [
          AuditConfig.sink(
            AuditConfig.target(audit.path, cwd, env),
            options.throughOwner === undefined ? {} : { throughOwner: options.throughOwner }
          )
        ]
      })
  }
}

/**
 * Where the queryable store of a configuration is: the embedded directory, or the PostgreSQL URL (the
 * postgres sink's, and the redis sink's worker target). `undefined` when nothing queryable is configured
 * (jsonl, console, none; redis without `audit.url`).
 *
 * @example
 * ```ts
 * storeTarget(config.audit, process.cwd()) // { _tag: "Embedded", dataDir: "/srv/.jsonflow/audit" }
 * ```
 */
export const storeTarget = (
  audit: Config.Resolved["audit"],
  cwd: string,
  env: Env = process.env
): AuditConfig.Target | undefined => {
  switch (audit.sink) {
    case "embedded":
      return AuditConfig.target(audit.path, cwd, env)
    case "postgres":
    case "redis":
      return audit.url === undefined ? undefined : AuditConfig.target(audit.url, cwd, env)
    default:
      return undefined
  }
}

/** Prometheus lines of the audit buffers. */
export const counterLines = (counters: ReadonlyArray<Buffer.Counters>): string => {
  if (counters.length === 0) return ""
  const keys = ["buffered", "spilled", "written", "dropped", "replayed", "failures", "deadLettered"] as const
  let text = ""
  for (const key of keys) {
    const name = `jsonflow_audit_${key.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()}`
    text += `# TYPE ${name} gauge\n`
    for (const c of counters) text += `${name}{sink="${c.sink}"} ${c[key]}\n`
  }
  text += "# TYPE jsonflow_audit_sink_down gauge\n"
  for (const c of counters) text += `jsonflow_audit_sink_down{sink="${c.sink}"} ${c.sinkDown ? 1 : 0}\n`
  return text
}
