/**
 * The audit of executions, through `@jsonflow/audit`: the runner builds its layer from `audit` in the
 * configuration (default: the embedded store in `.jsonflow/audit`, which `jsonflow executions list` reads),
 * forwards the engine's events to it next to its own metrics subscriber, registers every loaded flow
 * version (replay needs the IR), and exports the buffer counters as metrics. Closing the layer flushes.
 *
 * @module audit
 */
import { Audit, Config as AuditConfig, type Buffer, Console, Jsonl } from "@jsonflow/audit"
import type { Layer } from "effect"
import type * as Config from "../Config.ts"

export { Audit } from "@jsonflow/audit"

/**
 * The audit layer of a configuration, or `undefined` for `sink: "none"`.
 *
 * @example
 * ```ts
 * const layer = auditLayer(config.audit, process.cwd())
 * ```
 */
export const auditLayer = (
  audit: Config.Resolved["audit"],
  cwd: string,
  env: Readonly<Record<string, string | undefined>> = process.env
): Layer.Layer<Audit.Audit, unknown> | undefined => {
  const options = { snapshots: audit.snapshots }
  switch (audit.sink) {
    case "none":
      return undefined
    case "console":
      return Audit.layer({ ...options, sinks: [Console.sink()] })
    case "jsonl":
      return Audit.layer({ ...options, sinks: [Jsonl.sink({ path: audit.path ?? "audit.jsonl" })] })
    case "postgres":
      if (audit.url === undefined) throw new Error("audit.sink postgres needs audit.url")
      return Audit.layer({ ...options, sinks: [AuditConfig.sink(AuditConfig.target(audit.url, cwd, env))] })
    case "embedded":
      return Audit.layer({ ...options, sinks: [AuditConfig.sink(AuditConfig.target(audit.path, cwd, env))] })
  }
}

/** Prometheus lines of the audit buffers. */
export const counterLines = (counters: ReadonlyArray<Buffer.Counters>): string => {
  if (counters.length === 0) return ""
  const keys = ["buffered", "spilled", "written", "dropped", "failures", "deadLettered"] as const
  let text = ""
  for (const key of keys) {
    const name = `jsonflow_audit_${key.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()}`
    text += `# TYPE ${name} gauge\n`
    for (const c of counters) text += `${name}{sink="${c.sink}"} ${c[key]}\n`
  }
  return text
}
