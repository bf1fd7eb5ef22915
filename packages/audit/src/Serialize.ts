/**
 * JSON text of entries, for every sink and the journal. Snapshots are shared between events (a node's
 * output is the next node's input, and the execution input is the first node's input), so each payload
 * object is serialized once and its text reused: half the `JSON.stringify` work of a typical trace.
 *
 * @module Serialize
 */
import type { Entry } from "./Record.ts"

const texts = new WeakMap<object, string>()

const payload = (value: unknown): string => {
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null"
  let text = texts.get(value)
  if (text === undefined) {
    text = JSON.stringify(value) ?? "null"
    texts.set(value, text)
  }
  return text
}

/**
 * One entry as JSON (the same value `JSON.stringify` gives; `input` and `output` come last).
 *
 * @example
 * ```ts
 * import { Serialize } from "@jsonflow/audit"
 * declare const entry: import("@jsonflow/audit").Record.Entry
 * const line = `${Serialize.entry(entry)}\n`
 * ```
 */
export const entry = (e: Entry): string => {
  const record = e as { readonly input?: unknown; readonly output?: unknown }
  if (record.input === undefined && record.output === undefined) return JSON.stringify(e)
  const { input, output, ...rest } = record as Record<string, unknown>
  let text = JSON.stringify(rest).slice(0, -1)
  if (input !== undefined) text += `,"input":${payload(input)}`
  if (output !== undefined) text += `,"output":${payload(output)}`
  return `${text}}`
}

/**
 * Entries as a JSON array.
 *
 * @example
 * ```ts
 * import { Serialize } from "@jsonflow/audit"
 * declare const batch: ReadonlyArray<import("@jsonflow/audit").Record.Entry>
 * const text = Serialize.array(batch)
 * ```
 */
export const array = (entries: ReadonlyArray<Entry>): string => {
  let text = "["
  for (let i = 0; i < entries.length; i++) text += (i === 0 ? "" : ",") + entry(entries[i]!)
  return `${text}]`
}
