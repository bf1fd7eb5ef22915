/**
 * `jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current] [--flow <path>]`:
 * runs a recorded execution again, from its start or from a node with the input that node received (and the
 * recorded HTTP request and variables), on the flow version it ran (recorded in the audit store) or on the
 * current one (`--flow`: a canonical flow file, an nFlow export, an IR file, a TypeScript/JavaScript module
 * exporting built flows, or a directory of them, as `jsonflow serve` reads it). The flow runs in the
 * runner's JSON environment (`--config` and `JSONFLOW_*`: expressions, `js`/`ts` and nFlow code in the
 * sandbox, HTTP with the SSRF guard, the configured connectors), plus the node types of the built flows
 * `--flow` names. The new execution is recorded in the same store and linked to the original.
 *
 * @module replay
 */
import { readFileSync, statSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Replay } from "@jsonflow/audit"
import { Ir, Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import { type Context, Effect, Layer, Schema } from "effect"
import * as RunnerAudit from "../../RunnerAudit.ts"
import { ConfigError } from "../../RunnerError.ts"
import * as Directory from "../../sources/directory.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

const usage = `Usage: jsonflow replay <execution-id> [--from <node>|failed|start] [--version recorded|current]
                       [--flow <path>] [--allow-masked] [--json] [--config <file>] [--audit <postgres://...|dir>]

Options:
  --from <node>      start at this node with its recorded input; "failed": the node that failed (default: start)
  --version <v>      recorded (default): the flow version the execution ran; current: the one in --flow
  --flow <path>      the current flow: a canonical flow file, an nFlow export, an IR JSON file, a .ts/.js
                     module exporting built flows, or a directory of them (what jsonflow serve was given);
                     needed for flows built in TypeScript, whose node types live in their module
  --allow-masked     replay although recorded values were masked by redaction: the masks ("[REDACTED]") are
                     passed to the nodes as they are, so the result can differ from the original run
  --config <file>    runner configuration: the node types, services and audit store (JSONFLOW_* override it)
  --audit <url|dir>  audit store: postgres://... or an embedded store directory (wins over --config)
Replayed flows get the runner's JSON environment, the recorded input, HTTP request and variables.
Recorded values need audit.snapshots "full" (the default); encrypted values are decrypted with the keys
in $JSONFLOW_AUDIT_KEYS (kid:base64,...).`

type ReadFlows =
  | { readonly flows: ReadonlyArray<Ir.Flow>; readonly registry: Registry.Registry<unknown> }
  | { readonly error: string }

/**
 * Reads `--flow`: a directory or a module as `jsonflow serve` reads them (built flows bring their node types,
 * added to the registry); canonical and nFlow files through the JSON DSL; anything else as a flow IR.
 */
const readFlow = async (file: string, io: Io, registry: Registry.Registry<unknown>): Promise<ReadFlows> => {
  const path = isAbsolute(file) ? file : resolve(io.cwd, file)
  let directory: boolean
  try {
    directory = statSync(path).isDirectory()
  } catch (error) {
    return { error: `--flow ${file}: ${error instanceof Error ? error.message : String(error)}` }
  }
  if (directory || Directory.isModule(path)) {
    const read = await Directory.readPaths([path], registry)
    if (read.failures.length > 0) {
      return { error: `--flow ${file}:\n${read.failures.map((f) => `  ${f.source}: ${f.message}`).join("\n")}` }
    }
    if (read.flows.length === 0) return { error: `--flow ${file} holds no flow` }
    let merged = registry
    for (const f of read.flows) if (f.kind === "builder") merged = Registry.override(merged, f.definition.registry)
    return { flows: read.flows.map((f) => (f.kind === "builder" ? f.definition.ir : f.ir)), registry: merged }
  }
  const single = readFlowFile(path, file, registry)
  return "error" in single ? single : { flows: single.flows, registry }
}

const readFlowFile = (
  path: string,
  file: string,
  registry: Registry.Registry<unknown>
): { readonly flows: ReadonlyArray<Ir.Flow> } | { readonly error: string } => {
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
      const read = await readFlow(values.flow, io, registry)
      if ("error" in read) {
        io.stderr(`jsonflow replay: ${read.error}\n`)
        return 2
      }
      current = read.flows
      registry = read.registry
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
        const options: Replay.ReplayOptions<unknown> = {
          executionId: id,
          version,
          registry,
          ...(values.from === undefined ? {} : { from: values.from }),
          ...(current.length === 0 ? {} : { resolveFlow: (flowId: string) => current.find((f) => f.id === flowId) }),
          ...(keyring === undefined ? {} : { keyring }),
          ...(values["allow-masked"] ? { allowMasked: true } : {})
        }
        const replayed = Effect.gen(function* () {
          const plan = yield* Replay.plan(options)
          for (const note of plan.notes) io.stderr(`jsonflow replay: note: ${note}\n`)
          return yield* Replay.runPlan(plan, options)
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
      const failure = result.failure
      // A flow built in TypeScript: its node types are in its module, which only --flow brings in.
      const hint =
        values.flow === undefined &&
        failure._tag === "CompileError" &&
        failure.problems.some((p) => p.code === "unknown-node-type")
          ? "\nhint: a flow built in TypeScript brings its own node types: pass the module or the directory it is served from, e.g. --flow examples/flows"
          : ""
      io.stderr(`jsonflow replay: ${failure.message}${hint}\n`)
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
