/**
 * The JSON lines sink: one redacted entry per line, appended to a file, one append per batch. Append-only,
 * so a retried batch can appear twice: {@link read} keeps one copy of each event id.
 *
 * @example
 * ```ts
 * import { Audit, Jsonl } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Jsonl.sink({ path: "logs/audit.jsonl" })] })
 * ```
 *
 * @module jsonl
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { appendFile } from "node:fs/promises"
import { dirname } from "node:path"
import type { FlowEvents } from "@jsonflow/core"
import { Effect } from "effect"
import type { Entry } from "../Record.ts"
import * as Serialize from "../Serialize.ts"
import { attempt, type Sink } from "../Sink.ts"

export interface JsonlOptions {
  readonly path: string
  /** Sink name (default `jsonl`). */
  readonly name?: string
}

/**
 * A sink appending entries to a JSON lines file.
 *
 * @example
 * ```ts
 * import { Jsonl } from "@jsonflow/audit"
 * const sink = Jsonl.sink({ path: "audit.jsonl" })
 * ```
 */
export const sink = (options: JsonlOptions): Effect.Effect<Sink> =>
  Effect.sync(() => {
    mkdirSync(dirname(options.path), { recursive: true })
    const name = options.name ?? "jsonl"
    return {
      name,
      write: (batch: ReadonlyArray<Entry>) =>
        attempt(name, () => {
          let text = ""
          for (const entry of batch) text += `${Serialize.entry(entry)}\n`
          return appendFile(options.path, text)
        })
    }
  })

/**
 * Reads a JSON lines audit file: events (one per event id) and recorded flows. A torn last line is skipped.
 *
 * @example
 * ```ts
 * import { Jsonl, Record } from "@jsonflow/audit"
 * const { events } = Jsonl.read("audit.jsonl")
 * const trace = Record.buildTrace(events.filter((e) => e.executionId === "exec-1"))
 * ```
 */
export const read = (
  path: string
): { readonly events: ReadonlyArray<FlowEvents.FlowEvent>; readonly entries: ReadonlyArray<Entry> } => {
  if (!existsSync(path)) return { events: [], entries: [] }
  const seen = new Set<string>()
  const entries: Array<Entry> = []
  const events: Array<FlowEvents.FlowEvent> = []
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue
    let entry: Entry
    try {
      entry = JSON.parse(line) as Entry
    } catch {
      continue
    }
    const key = entry._tag === "FlowRecorded" ? `flow:${entry.flowId}@${entry.flowVersion}` : entry.eventId
    if (seen.has(key)) continue
    seen.add(key)
    entries.push(entry)
    if (entry._tag !== "FlowRecorded") events.push(entry)
  }
  return { events, entries }
}
