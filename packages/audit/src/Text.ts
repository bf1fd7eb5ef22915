/**
 * Plain-text views for a terminal: a table of executions, and one execution's timeline (each node attempt
 * with its offset, a bar for its duration, its status and its error), with "where it stopped" for an
 * execution that never finished.
 *
 * @module Text
 */
import type { ExecutionRecord, StopPoint, Trace } from "./Record.ts"

const ms = (n: number | undefined) => (n === undefined ? "-" : n < 10 ? `${n.toFixed(2)}ms` : `${n.toFixed(0)}ms`)
const iso = (t: number) => new Date(t).toISOString().replace("T", " ").slice(0, 23)

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

/**
 * A table of executions.
 *
 * @example
 * ```ts
 * import { Text } from "@jsonflow/audit"
 * declare const rows: ReadonlyArray<import("@jsonflow/audit").Record.ExecutionRecord>
 * console.log(Text.executions(rows))
 * ```
 */
export const executions = (records: ReadonlyArray<ExecutionRecord>): string => {
  if (records.length === 0) return "no executions"
  return table([
    ["STARTED", "EXECUTION", "FLOW", "STATUS", "DURATION", "ERROR"],
    ...records.map((r) => [
      iso(r.startedAt),
      r.executionId,
      `${r.flowId}@${r.flowVersion}`,
      r.status + (r.replayOf ? " (replay)" : ""),
      ms(r.durationMs),
      r.error === undefined ? "" : `${r.error._tag}: ${r.error.message}`.slice(0, 80)
    ])
  ])
}

/**
 * One execution's timeline.
 *
 * @example
 * ```ts
 * import { Record, Text } from "@jsonflow/audit"
 * declare const trace: Record.Trace
 * console.log(Text.timeline(trace, Record.stopPoint(trace)))
 * ```
 */
export const timeline = (trace: Trace, stop?: StopPoint): string => {
  const e = trace.execution
  const lines = [
    `execution ${e.executionId}`,
    `flow      ${e.flowId}@${e.flowVersion} (${e.trigger ?? "?"})${e.replayOf ? `, replay of ${e.replayOf}` : ""}`,
    `status    ${e.status}${e.durationMs === undefined ? "" : ` in ${ms(e.durationMs)}`}${e.steps === undefined ? "" : `, ${e.steps} step(s)`}`,
    `started   ${iso(e.startedAt)}`
  ]
  if (e.error !== undefined) lines.push(`error     ${e.error._tag}: ${e.error.message}`)
  // Values are types and sizes only: say so before anybody reads `{"type":"object"}` as the input.
  if (e.snapshots === "metadata" || e.snapshots === "none") {
    lines.push(`snapshots ${e.snapshots} (values not recorded; replay needs audit.snapshots full)`)
  }
  const end = Math.max(e.finishedAt ?? e.lastEventAt, ...trace.nodes.map((n) => n.startedAt + (n.durationMs ?? 0)))
  const span = Math.max(end - e.startedAt, 1)
  const width = 30
  const rows: Array<Array<string>> = [["OFFSET", "NODE", "TYPE", "", "DURATION", "STATUS"]]
  for (const n of trace.nodes) {
    const from = Math.min(width - 1, Math.floor(((n.startedAt - e.startedAt) / span) * width))
    const length =
      n.status === "skipped" ? 0 : Math.max(1, Math.round(((n.durationMs ?? end - n.startedAt) / span) * width))
    const bar = " ".repeat(from) + (n.status === "running" ? "░" : "█").repeat(Math.min(length, width - from))
    const status =
      n.status === "failed" || n.status === "retried"
        ? `${n.status}${n.handled ? " (handled)" : ""}: ${n.error?._tag ?? ""}: ${n.error?.message ?? ""}`
        : n.status === "running"
          ? "started, never finished"
          : n.status
    rows.push([
      `+${ms(n.startedAt - e.startedAt)}`,
      n.attempt > 1 ? `${n.nodeId} #${n.attempt}` : n.nodeId,
      n.nodeType,
      `|${bar.padEnd(width)}|`,
      n.status === "skipped" ? "" : ms(n.durationMs),
      status
    ])
  }
  lines.push("", table(rows))
  if (stop !== undefined && e.status === "running") {
    lines.push("", "where it stopped:")
    if (stop.inFlight.length > 0)
      lines.push(`  running when last heard of: ${stop.inFlight.map((n) => n.nodeId).join(", ")}`)
    if (stop.lastCompleted !== undefined)
      lines.push(`  last node that ended: ${stop.lastCompleted.nodeId} (${stop.lastCompleted.status})`)
    lines.push(`  last event at ${iso(e.lastEventAt)}`)
  }
  return lines.join("\n")
}
