/**
 * `jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current] [--flow <file>]`:
 * runs a recorded execution again, from its start or from a node with the input that node received, on the
 * flow version it ran (recorded in the audit store) or on the current one (`--flow`: a canonical flow file,
 * an nFlow export or an IR file). The flow runs in the runner's JSON environment (`--config` and
 * `JSONFLOW_*`: expressions, `js`/`ts` and nFlow code in the sandbox, HTTP with the SSRF guard, the
 * configured connectors). The new execution is recorded in the same store and linked to the original.
 *
 * @module replay
 */
import { readFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Replay } from "@jsonflow/audit"
import { Ir, type Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import { type Context, Effect, Layer, Schema } from "effect"
import * as RunnerAudit from "../../RunnerAudit.ts"
import { ConfigError } from "../../RunnerError.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

const usage = `Usage: jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current]
                       [--flow <file>] [--allow-masked] [--json] [--config <file>] [--audit <postgres://...|dir>]

Options:
  --from <node>      start at this node with its recorded input; "failed": the node that failed (default: start)
  --version <v>      recorded (default): the flow version the execution ran; current: the one in --flow
  --flow <file>      the current flow: a canonical flow file, an nFlow export or an IR JSON file
  --allow-masked     replay although recorded values were masked by redaction: the masks ("***") are
                     passed to the nodes as they are, so the result can differ from the original run
  --config <file>    runner configuration: the node types, services and audit store (JSONFLOW_* override it)
  --audit <url|dir>  audit store: postgres://... or an embedded store directory (wins over --config)
Replayed flows get the runner's JSON environment. Recorded values need audit.snapshots "full";
encrypted values are decrypted with the keys in $JSONFLOW_AUDIT_KEYS (kid:base64,...).`

/** Reads `--flow`: canonical and nFlow files through the JSON DSL, anything else as a flow IR. */
const readFlow = (
  file: string,
  io: Io,
  registry: Registry.Registry<unknown>
): { readonly flows: ReadonlyArray<Ir.Flow> } | { readonly error: string } => {
  const path = isAbsolute(file) ? file : resolve(io.cwd, file)
  let document: unknown
  try {
    document = JSON.parse(readFileSync(path, "utf8"))
  } catch (error) {
    return { error: `--flow ${file}: ${error instanceof Error ? error.message : String(error)}` }
  }
  if (typeof document === "object" && document !== null && ("dsl" in document || "drawflow" in document)) {
    const opened = FlowFile.open(path, registry)
    const problems = [...opened.problems, ...opened.flows.flatMap((f) => f.problems)]
    if (opened.flows.length === 0 || Problem.hasErrors(problems)) {
      const lines = problems.filter((p) => p.severity === "error").map((p) => Problem.format(file, p))
      return { error: `--flow ${file} has errors:\n${lines.join("\n")}` }
    }
    return { flows: opened.flows.map((f) => f.flow) }
  }
  const decoded = Schema.decodeUnknownExit(Ir.Flow)(document)
  if (decoded._tag === "Failure") return { error: `--flow ${file} is neither a flow file nor a flow IR` }
  return { flows: [decoded.value] }
}

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
        audit: { type: "string" },
        config: { type: "string" },
        "allow-masked": { type: "boolean" }
      }
    })
    const id = positionals[0]
    const version = values.version ?? "recorded"
    if (id === undefined || positionals.length > 1 || (version !== "recorded" && version !== "current")) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const settings = Environment.settingsOf(io, values)
    let config: Environment.Resolved
    let target: ReturnType<typeof Environment.storeTarget>
    let keyring: ReturnType<typeof RunnerAudit.keyring>
    let registry: Registry.Registry<unknown>
    try {
      config = Environment.loadConfig(settings)
      target = Environment.storeTarget(config, settings)
      keyring = RunnerAudit.keyring(config, settings.env)
      registry = (await Environment.environment(config, settings)).registry
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof Environment.UsageError)) throw error
      io.stderr(`jsonflow replay: ${error.message}\n`)
      return 2
    }
    let current: ReadonlyArray<Ir.Flow> = []
    if (values.flow !== undefined) {
      const read = readFlow(values.flow, io, registry)
      if ("error" in read) {
        io.stderr(`jsonflow replay: ${read.error}\n`)
        return 2
      }
      current = read.flows
    }
    if (version === "current" && current.length === 0) {
      io.stderr("jsonflow replay: --version current needs --flow <file>\n")
      return 2
    }
    if (values["allow-masked"]) {
      io.stderr(
        "jsonflow replay: warning: --allow-masked: values the audit masked are passed to the nodes as the masks, not the originals; the result may differ from the original run, and nodes with side effects act on masked data\n"
      )
    }
    // The replay is recorded where the original is: the configured redaction and buffer, on the queryable
    // store (a redis-bus configuration records straight into the PostgreSQL store it reads).
    const recording = Environment.recordingInto(config, target)
    const program = Effect.scoped(
      Effect.gen(function* () {
        const recorder = yield* Environment.openRecorder(recording, settings)
        if (recorder === undefined) return yield* Effect.die(new Error("replay: no audit store"))
        for (const flow of current) recorder.audit.registerFlow(flow)
        const environment = yield* Effect.promise(() => Environment.environment(config, settings, recorder))
        const services = yield* Layer.build(environment.layer)
        const replayed = Replay.replay({
          executionId: id,
          version,
          registry,
          ...(values.from === undefined ? {} : { from: values.from }),
          ...(current.length === 0 ? {} : { resolveFlow: (flowId: string) => current.find((f) => f.id === flowId) }),
          ...(keyring === undefined ? {} : { keyring }),
          ...(values["allow-masked"] ? { allowMasked: true } : {})
          // The registry's services are unknown to the type checker; the layer provides every one of them.
        }).pipe(Effect.provideContext(services as Context.Context<unknown>))
        const result = yield* Effect.result(replayed)
        yield* recorder.audit.flush.pipe(Effect.timeoutOption("10 seconds"))
        return result
      })
    )
    const outcome = await Effect.runPromiseExit(program)
    if (outcome._tag === "Failure") {
      const reason = outcome.cause.reasons[0]
      const error = reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : "interrupted"
      io.stderr(`jsonflow replay: ${error instanceof Error ? error.message : String(error)}\n`)
      return 1
    }
    const result = outcome.value
    if (result._tag === "Failure") {
      io.stderr(`jsonflow replay: ${result.failure.message}\n`)
      return 1
    }
    const run = result.success
    const reply = run.reply === undefined ? {} : { reply: run.reply }
    io.stdout(
      values.json
        ? `${JSON.stringify({ executionId: run.executionId, replayOf: id, output: run.output, ...reply }, null, 2)}\n`
        : `replayed ${id} as ${run.executionId} (${run.steps} step(s), ${run.durationMs.toFixed(1)} ms)\noutput: ${JSON.stringify(run.output)}\n${
            run.reply === undefined ? "" : `reply: ${run.reply.status} ${JSON.stringify(run.reply.body)}\n`
          }`
    )
    return 0
  }
}
