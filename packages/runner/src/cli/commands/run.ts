/**
 * `jsonflow run <file>`: one execution of a JSON flow (canonical or nFlow export; its declared `input` is
 * checked as the HTTP trigger checks it) or of a TypeScript/JavaScript module's builder flow, in the runner's
 * JSON environment (the node types and services of `--config` / `JSONFLOW_*`: built-ins, nFlow types, `js`/`ts` in the sandbox, expressions,
 * SSRF-guarded HTTP, the configured connectors), printed as JSON. An HTTP-triggered flow gets a request
 * built from `--method`, `--path`, `--query k=v` and `--header k:v` (its body is `--input`) and prints
 * `{ "status", "headers", "body" }`; other flows print `{ "output" }`. A failure prints the typed error as
 * JSON and exits 1.
 *
 * The execution is recorded in the configured audit store (embedded by default, `--audit`, `--config`), as
 * the runner would record it; its id goes to stderr, so stdout stays the result. The audit is flushed
 * before the command returns.
 *
 * @module run
 */
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { Compiler, type Ir, Registry } from "@jsonflow/core"
import { Execute, FlowFile, HttpRequest, Problem } from "@jsonflow/json-dsl"
import { type Context, Effect, Layer } from "effect"
import * as FlowTable from "../../internal/flowTable.ts"
import { ConfigError } from "../../RunnerError.ts"
import { isModule, readPaths } from "../../sources/directory.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"
import { connectorHints } from "./validate.ts"

const usage = `Usage: jsonflow run <file> [--flow <id>] [--input <json>|@<file>]
                    [--method <M>] [--path <P>] [--query k=v]... [--header k:v]... [--modules <dir>]
                    [--config <file>] [--audit <postgres://...|dir>]

Runs one execution of a flow file (canonical JSON, nFlow export, or a .ts/.js module exporting
builder flows) and prints the result as JSON. For an HTTP-triggered flow (all nFlow flows)
prints {"status", "headers", "body"}; the request is --method/--path/--query/--header with
--input as its body (without --input: the query and path parameters). For an nFlow export the flow is chosen by --flow or by routing the request.
On failure prints the error as JSON and exits 1.

The flow runs with the node types and services of the runner configuration (--config <file> and
JSONFLOW_* variables, as "jsonflow serve" reads them). The execution is recorded in its audit store
(default: the embedded store .jsonflow/audit; --audit overrides; JSONFLOW_AUDIT_SINK=none records
nothing) and its id is printed on stderr: "jsonflow executions show <id>" opens it.`

const print = (io: Io, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`)

/** A typed error as plain JSON: its tag, message and data fields. */
const errorJson = (error: unknown): Record<string, unknown> => {
  if (typeof error !== "object" || error === null) return { _tag: "UnknownError", message: String(error) }
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key !== "cause" && key !== "stack") fields[key] = value
  }
  return {
    _tag: (error as { _tag?: unknown })._tag ?? (error instanceof Error ? error.name : "UnknownError"),
    message: error instanceof Error ? error.message : String(error),
    ...fields
  }
}

const parseInput = (text: string | undefined, cwd: string): unknown => {
  if (text === undefined) return undefined
  const source = text.startsWith("@") ? readFileSync(new URL(text.slice(1), `file://${cwd}/`), "utf8") : text
  try {
    return JSON.parse(source) as unknown
  } catch (error) {
    throw new Error(`--input is not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const hints = (problems: ReadonlyArray<Problem.Problem>) => {
  const found = connectorHints(problems)
  return found.length === 0 ? {} : { hints: found }
}

/** How long the audit may take to write what the execution recorded before the command gives up on it. */
const FLUSH_TIMEOUT = "10 seconds"

/** The flow chosen to run and how to run it, or the exit code of an answer already printed. */
type Selected =
  | {
      readonly _tag: "Selected"
      readonly flow: Ir.Flow
      readonly params: Readonly<Record<string, string>>
      readonly run: FlowTable.FlowEntry["run"]
    }
  | { readonly _tag: "Printed"; readonly code: number }

/** Picks a flow by `--flow`, as the only one, or by routing the request; prints why when it cannot. */
const choose = <F>(
  io: Io,
  file: string,
  flows: ReadonlyArray<F>,
  flowOf: (entry: F) => Ir.Flow,
  wanted: string | undefined,
  method: string,
  path: string | undefined
): { readonly _tag: "Chosen"; readonly entry: F; readonly params: Readonly<Record<string, string>> } | Printed => {
  if (wanted !== undefined) {
    const entry = flows.find((f) => flowOf(f).id === wanted)
    if (entry !== undefined) return { _tag: "Chosen", entry, params: {} }
    print(io, {
      _tag: "FlowNotFound",
      message: `no flow "${wanted}" in ${file}; flows: ${flows.map((f) => flowOf(f).id).join(", ")}`
    })
    return { _tag: "Printed", code: 1 }
  }
  // One flow is the one; routing only picks among HTTP flows (HTTP flags on another flow are refused later).
  const only = flows.length === 1 ? flows[0] : undefined
  if (only !== undefined && (path === undefined || flowOf(only).trigger.type !== "http"))
    return { _tag: "Chosen", entry: only, params: {} }
  if (path === undefined) {
    print(io, {
      _tag: "FlowNotChosen",
      message: `${file} has ${flows.length} flows: choose one with --flow or route a request with --method and --path`,
      flows: flows.map((f) => ({ id: flowOf(f).id, trigger: flowOf(f).trigger }))
    })
    return { _tag: "Printed", code: 1 }
  }
  const routed = Execute.route(flows, flowOf, method, path)
  if (routed === undefined) {
    print(io, Execute.NOT_FOUND)
    return { _tag: "Printed", code: 0 }
  }
  return { _tag: "Chosen", entry: routed.flow, params: routed.params }
}

type Printed = Extract<Selected, { readonly _tag: "Printed" }>

/** A canonical flow or an nFlow export: loaded, compiled, its declared `input` checked as the runner does. */
const selectJson = (
  io: Io,
  file: string,
  registry: Registry.Registry<unknown>,
  values: { readonly flow?: string | undefined; readonly modules?: string | undefined },
  method: string,
  path: string | undefined
): Selected => {
  const modules = values.modules === undefined ? undefined : FlowFile.readModules(resolve(io.cwd, values.modules))
  const opened = FlowFile.open(resolve(io.cwd, file), registry, modules === undefined ? {} : { modules })
  if (opened.flows.length === 0) {
    print(io, {
      _tag: "LoadError",
      message: `${file} has errors`,
      problems: opened.problems,
      ...hints(opened.problems)
    })
    return { _tag: "Printed", code: 1 }
  }
  const chosen = choose(io, file, opened.flows, (f) => f.flow, values.flow, method, path)
  if (chosen._tag === "Printed") return chosen
  const { flow, problems } = chosen.entry
  if (Problem.hasErrors(problems)) {
    print(io, { _tag: "LoadError", message: `flow "${flow.id}" has errors`, problems, ...hints(problems) })
    return { _tag: "Printed", code: 1 }
  }
  const outcome = Compiler.compileSync(flow, registry)
  if (outcome._tag === "Failed") {
    print(io, errorJson(outcome.error))
    return { _tag: "Printed", code: 1 }
  }
  const { check } = FlowTable.inputCheckOf(flow)
  const compiled = outcome.flow
  return {
    _tag: "Selected",
    flow,
    params: chosen.params,
    run: (value, options) => {
      const checked = check?.(value)
      return checked?._tag === "Invalid"
        ? FlowTable.invalidInput(flow.id, options, checked.issues)
        : compiled.run(checked?._tag === "Valid" ? checked.value : value, options)
    }
  }
}

/** A TypeScript or JavaScript module: its exported builder flows, compiled with their own node types. */
const selectBuilder = async (
  io: Io,
  file: string,
  wanted: string | undefined,
  method: string,
  path: string | undefined
): Promise<Selected> => {
  const absolute = resolve(io.cwd, file)
  const { flows, failures } = await readPaths([absolute], Registry.make())
  const builders = flows.flatMap((f) => (f.kind === "builder" ? [f.definition] : []))
  if (builders.length === 0) {
    print(io, {
      _tag: "LoadError",
      message: failures[0]?.message ?? `${file} exports no built flow (Flow.make(...).build())`
    })
    return { _tag: "Printed", code: 1 }
  }
  const chosen = choose(io, file, builders, (d) => d.ir, wanted, method, path)
  if (chosen._tag === "Printed") return chosen
  const compiled = FlowTable.compileBuilder(chosen.entry)
  if (compiled._tag === "Failed") {
    print(io, { _tag: "CompileError", message: compiled.message })
    return { _tag: "Printed", code: 1 }
  }
  return { _tag: "Selected", flow: chosen.entry.ir, params: chosen.params, run: compiled.run }
}

export const command: Command = {
  name: "run",
  summary: "Run one execution of a flow (or one request through an nFlow export) and print the result",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        flow: { type: "string" },
        input: { type: "string" },
        method: { type: "string" },
        path: { type: "string" },
        query: { type: "string", multiple: true },
        header: { type: "string", multiple: true },
        modules: { type: "string" },
        config: { type: "string" },
        audit: { type: "string" }
      },
      allowPositionals: true
    })
    const file = positionals[0]
    if (file === undefined || positionals.length > 1) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const settings = Environment.settingsOf(io, values)
    let config: Environment.Resolved
    let registry: Registry.Registry<unknown>
    try {
      config = Environment.loadConfig(settings)
      registry = (await Environment.environment(config, settings)).registry
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      io.stderr(`jsonflow run: ${error.message}\n`)
      return 2
    }
    const input = parseInput(values.input, io.cwd)
    const method = values.method ?? "GET"
    const path = values.path
    const selected = isModule(file)
      ? await selectBuilder(io, file, values.flow, method, path)
      : selectJson(io, file, registry, values, method, path)
    if (selected._tag === "Printed") return selected.code
    const { flow, run } = selected
    const params = selected.params
    const executionId = randomUUID()
    let program: Effect.Effect<unknown, unknown, unknown>
    if (flow.trigger.type === "http") {
      const trigger = flow.trigger
      const requestPath = path ?? trigger.path
      const requestMethod = values.method ?? (trigger.method === "ANY" ? "GET" : trigger.method)
      const routeParams = HttpRequest.matchPath(trigger.path, requestPath)
      if (routeParams === undefined || !HttpRequest.methodMatches(trigger.method, requestMethod)) {
        print(io, Execute.NOT_FOUND)
        return 0
      }
      const missing = trigger.path
        .split("/")
        .filter((segment) => segment.startsWith(":") && (routeParams[segment.slice(1)] ?? "") === "")
      if (missing.length > 0) {
        io.stderr(`jsonflow run: --path ${requestPath} leaves ${missing.join(", ")} of ${trigger.path} empty\n`)
        return 2
      }
      const request = HttpRequest.make({
        method: requestMethod,
        path: requestPath,
        params: { ...routeParams, ...params },
        query: HttpRequest.queryOf(values.query ?? []),
        headers: HttpRequest.headersOf(values.header ?? []),
        body: input
      })
      const body = HttpRequest.inputOf({ present: input !== undefined, value: input }, request)
      program = Effect.map(run(body, { trigger: request, executionId }), Execute.responseOf)
    } else {
      const httpFlags = (["method", "path", "query", "header"] as const).filter((name) => values[name] !== undefined)
      if (httpFlags.length > 0) {
        io.stderr(
          `jsonflow run: --${httpFlags.join(", --")} only apply to HTTP-triggered flows; "${flow.id}" has a ${flow.trigger.type} trigger (its input is --input)\n`
        )
        return 2
      }
      program = Effect.map(run(input, { executionId }), (result) => ({
        output: result.output,
        ...(result.reply === undefined ? {} : { reply: result.reply })
      }))
    }
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          // A store that does not open (another process holds the embedded store, PostgreSQL is down) does
          // not stop the run: the command says why nothing is recorded and runs the flow anyway.
          const opened = yield* Effect.result(Environment.openRecorder(config, settings))
          if (opened._tag === "Failure") io.stderr(`jsonflow run: not recorded: ${opened.failure.message}\n`)
          const recorder = opened._tag === "Success" ? opened.success : undefined
          recorder?.audit.registerFlow(flow)
          const environment = yield* Effect.promise(() => Environment.environment(config, settings, recorder))
          const services = yield* Layer.build(environment.layer)
          // The registry's services are unknown to the type checker; the layer provides every one of them.
          const result = yield* Effect.exit(Effect.provideContext(program, services as Context.Context<unknown>))
          if (recorder !== undefined) {
            const flushed = yield* recorder.audit.flush.pipe(Effect.timeoutOption(FLUSH_TIMEOUT))
            io.stderr(
              flushed._tag === "Some"
                ? `jsonflow run: execution ${executionId} recorded in ${recorder.where}\n`
                : `jsonflow run: execution ${executionId}: the audit store did not take the records within ${FLUSH_TIMEOUT} (kept in the spill journal)\n`
            )
          }
          return yield* result
        })
      )
    )
    if (exit._tag === "Success") {
      print(io, exit.value)
      return 0
    }
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    const defect = exit.cause.reasons.find((r) => r._tag === "Die")
    print(
      io,
      errorJson(failure?._tag === "Fail" ? failure.error : defect?._tag === "Die" ? defect.defect : "interrupted")
    )
    return 1
  }
}
