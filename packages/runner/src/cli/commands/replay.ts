/**
 * `jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current] [--flow <file.json>]`:
 * runs a recorded execution again, from its start or from a node with the input that node received, on the
 * flow version it ran (recorded in the audit store) or on the current one (`--flow`, a flow IR file). The
 * new execution is recorded in the same store and linked to the original.
 *
 * @module replay
 */
import { readFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Audit, Config, Redaction, Replay } from "@jsonflow/audit"
import { Builtins, Ir } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import type { Command } from "../Command.ts"

const usage = `Usage: jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current]
                       [--flow <flow.json>] [--json]

Options:
  --from <node>      start at this node with its recorded input; "failed": the node that failed (default: start)
  --version <v>      recorded (default): the flow version the execution ran; current: the one in --flow
  --flow <file>      the current flow (IR JSON)
  --audit <url|dir>  audit store: postgres://... or an embedded store directory
                     (default: $JSONFLOW_AUDIT, else .jsonflow/audit)
Encrypted values are decrypted with the keys in $JSONFLOW_AUDIT_KEYS (kid:base64,...).
Node types: the built-ins.`

export const command: Command = {
  name: "replay",
  summary: "Run a recorded execution again, from the start or from a node",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        from: { type: "string" },
        version: { type: "string" },
        flow: { type: "string" },
        json: { type: "boolean" },
        audit: { type: "string" }
      }
    })
    const id = positionals[0]
    const version = values.version ?? "recorded"
    if (id === undefined || positionals.length > 1 || (version !== "recorded" && version !== "current")) {
      io.stderr(`${usage}\n`)
      return 2
    }
    let current: Ir.Flow | undefined
    if (values.flow !== undefined) {
      const path = isAbsolute(values.flow) ? values.flow : resolve(io.cwd, values.flow)
      current = Schema.decodeUnknownSync(Ir.Flow)(JSON.parse(readFileSync(path, "utf8")))
    }
    if (version === "current" && current === undefined) {
      io.stderr("jsonflow replay: --version current needs --flow <flow.json>\n")
      return 2
    }
    const keys = process.env.JSONFLOW_AUDIT_KEYS
    const target = Config.target(values.audit, io.cwd)
    const program = Effect.gen(function* () {
      const audit = yield* Audit.Audit
      if (current !== undefined) audit.registerFlow(current)
      const result = yield* Replay.replay({
        executionId: id,
        version,
        registry: Builtins.registry,
        ...(values.from === undefined ? {} : { from: values.from }),
        ...(current === undefined
          ? {}
          : { resolveFlow: (flowId: string) => (flowId === current.id ? current : undefined) }),
        ...(keys === undefined ? {} : { keyring: Redaction.keyringFrom(keys) })
      }).pipe(Effect.result)
      yield* audit.flush
      return result
    }).pipe(Effect.provide(Audit.layer({ sinks: [Config.sink(target)] })))
    const result = await Effect.runPromise(program)
    if (result._tag === "Failure") {
      const error = result.failure
      io.stderr(`jsonflow replay: ${error.message}\n`)
      return 1
    }
    const run = result.success
    io.stdout(
      values.json
        ? `${JSON.stringify({ executionId: run.executionId, replayOf: id, output: run.output }, null, 2)}\n`
        : `replayed ${id} as ${run.executionId} (${run.steps} step(s), ${run.durationMs} ms)\noutput: ${JSON.stringify(run.output)}\n`
    )
    return 0
  }
}
