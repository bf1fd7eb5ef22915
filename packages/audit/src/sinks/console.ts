/**
 * The console sink, for development: one readable line per event, coloured on a terminal, e.g.
 *
 * ```
 * 10:04:05.120 orders@3 7f3a…c2  ▶ fetch (http) #1
 * 10:04:05.342 orders@3 7f3a…c2  ✓ fetch 221.8 ms → out
 * 10:04:05.343 orders@3 7f3a…c2  ✗ charge PaymentDeclined: card declined (will retry)
 * ```
 *
 * @module console
 */
import { Effect } from "effect"
import type { Entry } from "../Record.ts"
import type { Sink } from "../Sink.ts"

export interface ConsoleOptions {
  /** Where lines go (default: standard error, so a command's own output stays clean). */
  readonly write?: (text: string) => void
  /** ANSI colours (default: when the stream is a terminal). */
  readonly colors?: boolean
  /** Print node starts too (default false: ends, failures and skips only). */
  readonly verbose?: boolean
}

const paint = (on: boolean, code: number, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)
const time = (at: number) => new Date(at).toISOString().slice(11, 23)
const shortId = (id: string) => (id.length > 12 ? `${id.slice(0, 4)}…${id.slice(-2)}` : id)
const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`

/**
 * Formats one entry as a line (no newline), or `undefined` for entries not shown.
 *
 * @example
 * ```ts
 * import { Console } from "@jsonflow/audit"
 * declare const entry: import("@jsonflow/audit").Record.Entry
 * const line = Console.format(entry, { colors: false })
 * ```
 */
export const format = (entry: Entry, options: { readonly colors?: boolean; readonly verbose?: boolean } = {}) => {
  const c = options.colors ?? false
  if (entry._tag === "FlowRecorded") return undefined
  const head = `${paint(c, 2, time(entry.at))} ${entry.flowId}@${entry.flowVersion} ${paint(c, 2, shortId(entry.executionId))} `
  switch (entry._tag) {
    case "ExecutionStarted":
      return `${head} ${paint(c, 1, "start")} (${entry.trigger}${entry.replayOf ? `, replay of ${entry.replayOf}` : ""})`
    case "NodeStarted":
      return options.verbose ? `${head} ▶ ${entry.nodeId} (${entry.nodeType}) #${entry.attempt}` : undefined
    case "NodeSucceeded":
      return `${head} ${paint(c, 32, "✓")} ${entry.nodeId} ${ms(entry.durationMs)} → ${entry.ports.join(", ")}`
    case "NodeFailed":
      return `${head} ${paint(c, 31, "✗")} ${entry.nodeId} ${entry.error._tag}: ${entry.error.message}${
        entry.willRetry ? " (will retry)" : entry.handled ? " (to error port)" : ""
      }`
    case "NodeSkipped":
      return `${head} ${paint(c, 2, "–")} ${entry.nodeId} skipped`
    case "ExecutionFinished": {
      const colour = entry.status === "succeeded" ? 32 : entry.status === "failed" ? 31 : 33
      return `${head} ${paint(c, colour, entry.status)} in ${ms(entry.durationMs)}, ${entry.steps} step(s)${
        entry.error ? `: ${entry.error._tag}: ${entry.error.message}` : ""
      }`
    }
  }
}

/**
 * A sink printing events as lines.
 *
 * @example
 * ```ts
 * import { Audit, Console } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Console.sink({ verbose: true })] })
 * ```
 */
export const sink = (options: ConsoleOptions = {}): Effect.Effect<Sink> =>
  Effect.sync(() => {
    const write = options.write ?? ((text: string) => process.stderr.write(text))
    const colors = options.colors ?? (options.write === undefined && process.stderr.isTTY === true)
    return {
      name: "console",
      batchSize: 200,
      write: (batch) =>
        Effect.sync(() => {
          let text = ""
          for (const entry of batch) {
            const line = format(entry, {
              colors,
              ...(options.verbose === undefined ? {} : { verbose: options.verbose })
            })
            if (line !== undefined) text += `${line}\n`
          }
          if (text !== "") write(text)
        })
    }
  })
