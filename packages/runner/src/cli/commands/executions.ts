/**
 * `jsonflow executions`: what ran, from the audit store the runner is configured with: the same `--config`
 * file and `JSONFLOW_AUDIT_*` variables as `jsonflow serve` (embedded by default), or `--audit`.
 *
 * - `list [--flow <id>] [--status <status>] [--since <2h|7d|date>] [--until <date>] [--error <text>] [--limit <n>] [--json]`
 * - `show <execution-id> [--json] [--html <out.html>]`: the node timeline with durations and the error, and
 *   for an execution that never finished, where it stopped; `--html` writes a self-contained page with the
 *   flow graph coloured by status and a Gantt chart.
 *
 * @module executions
 */
import { writeFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Query, Record, Store, Text, Timeline } from "@jsonflow/audit"
import { Effect } from "effect"
import { ConfigError } from "../../RunnerError.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

const usage = `Usage:
  jsonflow executions list [--flow <id>] [--status running|succeeded|failed|interrupted]
                           [--since <90m|2h|7d|date>] [--until <date>] [--error <text>] [--limit <n>] [--json]
  jsonflow executions show <execution-id> [--json] [--html <out.html>]

Options:
  --config <file>    the runner configuration: its audit store (JSONFLOW_AUDIT_SINK, _URL, _PATH ... override it)
  --audit <url|dir>  audit store: postgres://... or an embedded store directory (wins over --config and env)
The default store is the runner's: the embedded store .jsonflow/audit.`

/** The configured store, or the exit code after a message when the settings name none. */
const storeOf = (io: Io, flags: { readonly config?: string | undefined; readonly audit?: string | undefined }) => {
  const settings = Environment.settingsOf(io, flags)
  try {
    return Environment.storeLayer(Environment.loadConfig(settings), settings)
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof Environment.UsageError)) throw error
    io.stderr(`jsonflow executions: ${error.message}\n`)
    return 2
  }
}

const STATUSES = ["running", "succeeded", "failed", "interrupted"] as const

const list = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      flow: { type: "string" },
      status: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      error: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
      audit: { type: "string" },
      config: { type: "string" }
    }
  })
  const status = values.status as (typeof STATUSES)[number] | undefined
  if (status !== undefined && !STATUSES.includes(status)) {
    io.stderr(`jsonflow executions: --status must be one of ${STATUSES.join(", ")}\n`)
    return 2
  }
  const since = values.since === undefined ? undefined : Query.parseSince(values.since)
  const until = values.until === undefined ? undefined : Query.parseSince(values.until)
  if ((values.since !== undefined && since === undefined) || (values.until !== undefined && until === undefined)) {
    io.stderr("jsonflow executions: --since/--until take a duration (90m, 2h, 7d) or a date\n")
    return 2
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit)
  if (!Number.isInteger(limit) || limit <= 0) {
    io.stderr("jsonflow executions: --limit must be a positive integer\n")
    return 2
  }
  const filter: Store.ExecutionFilter = {
    limit,
    ...(values.flow === undefined ? {} : { flowId: values.flow }),
    ...(status === undefined ? {} : { status }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    ...(values.error === undefined ? {} : { errorText: values.error })
  }
  const store = storeOf(io, values)
  if (typeof store === "number") return store
  const rows = await Effect.runPromise(Query.executions(filter).pipe(Effect.provide(store)))
  io.stdout(values.json ? `${JSON.stringify(rows, null, 2)}\n` : `${Text.executions(rows)}\n`)
  return 0
}

const show = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      html: { type: "string" },
      audit: { type: "string" },
      config: { type: "string" }
    }
  })
  const id = positionals[0]
  if (id === undefined || positionals.length > 1) {
    io.stderr(`${usage}\n`)
    return 2
  }
  const store = storeOf(io, values)
  if (typeof store === "number") return store
  const found = await Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* Store.AuditStore
      const trace = yield* store.trace(id)
      if (trace === undefined) return undefined
      const flow = yield* store.flow(trace.execution.flowId, trace.execution.flowVersion)
      return { trace, flow }
    }).pipe(Effect.provide(store))
  )
  if (found === undefined) {
    io.stderr(`jsonflow executions: no execution ${id} in the audit store\n`)
    return 1
  }
  const stop = Record.stopPoint(found.trace)
  if (values.html !== undefined) {
    const out = isAbsolute(values.html) ? values.html : resolve(io.cwd, values.html)
    writeFileSync(out, Timeline.render(found.trace, found.flow))
    io.stderr(`wrote ${out}\n`)
  }
  if (values.json) {
    io.stdout(`${JSON.stringify({ ...found.trace, stop }, null, 2)}\n`)
  } else if (values.html === undefined) {
    io.stdout(`${Text.timeline(found.trace, stop)}\n`)
  }
  return 0
}

export const command: Command = {
  name: "executions",
  summary: "List recorded executions, or show one as a timeline (text, JSON or HTML)",
  usage,
  run: async (args, io) => {
    const [sub, ...rest] = args
    if (sub === "list") return list(rest, io)
    if (sub === "show") return show(rest, io)
    io.stderr(`${usage}\n`)
    return 2
  }
}
