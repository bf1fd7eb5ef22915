/**
 * `jsonflow run <file>`: one execution of a flow with the embedded defaults (built-in and nFlow node types,
 * in-memory events), printed as JSON. An HTTP-triggered flow gets a request built from `--method`, `--path`,
 * `--query k=v` and `--header k:v` (its body is `--input`) and prints `{ "status", "headers", "body" }`;
 * other flows print `{ "output" }`. A failure prints the typed error as JSON and exits 1.
 *
 * @module run
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { Builtins, Compiler, type Ir, Registry } from "@jsonflow/core"
import { Execute, FlowFile, HttpRequest, Nflow, Problem } from "@jsonflow/json-dsl"
import { Sandbox, Nodes as SandboxNodes } from "@jsonflow/sandbox"
import * as Expressions from "@jsonflow/sandbox/expressions"
import { Effect, Layer } from "effect"
import type { Command, Io } from "../Command.ts"

const usage = `Usage: jsonflow run <file> [--flow <id>] [--input <json>|@<file>]
                    [--method <M>] [--path <P>] [--query k=v]... [--header k:v]... [--modules <dir>]

Runs one execution and prints the result as JSON. For an HTTP-triggered flow (all nFlow flows)
prints {"status", "headers", "body"}; the request is --method/--path/--query/--header with
--input as its body. For an nFlow export the flow is chosen by --flow or by routing the request.
On failure prints the error as JSON and exits 1.`

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

// nFlow code boxes run in the sandbox, through the same service as `js`/`ts` nodes.
const sandboxRunner: Nflow.JsNode.ScriptRunner<Sandbox> = {
  run: (source, input, context) =>
    Sandbox.use((sandbox) =>
      Effect.map(
        sandbox.run(source, input, { nodeId: context.nodeId, executionId: context.executionId }),
        (r) => r.output
      )
    )
}

const registry = Registry.merge(
  Registry.merge(Builtins.registry, Nflow.registry(sandboxRunner)),
  Registry.make(...SandboxNodes.definitions)
)

// The sandbox process and the JSONata engine for `expr` values (the embedded defaults).
const services = Layer.mergeAll(Sandbox.layer(), Expressions.layer())

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
        modules: { type: "string" }
      },
      allowPositionals: true
    })
    const file = positionals[0]
    if (file === undefined || positionals.length > 1) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const input = parseInput(values.input, io.cwd)
    const modules = values.modules === undefined ? undefined : FlowFile.readModules(values.modules)
    const opened = FlowFile.open(file, registry, modules === undefined ? {} : { modules })
    if (opened.flows.length === 0) {
      print(io, { _tag: "LoadError", message: `${file} has errors`, problems: opened.problems })
      return 1
    }
    const method = values.method ?? "GET"
    const path = values.path
    let chosen: FlowFile.FileFlow | undefined
    let params: Readonly<Record<string, string>> = {}
    if (values.flow !== undefined) {
      chosen = opened.flows.find((f) => f.flow.id === values.flow)
      if (chosen === undefined) {
        print(io, {
          _tag: "FlowNotFound",
          message: `no flow "${values.flow}" in ${file}; flows: ${opened.flows.map((f) => f.flow.id).join(", ")}`
        })
        return 1
      }
    } else if (opened.flows.length === 1 && path === undefined) {
      chosen = opened.flows[0]!
    } else {
      if (path === undefined) {
        print(io, {
          _tag: "FlowNotChosen",
          message: `${file} has ${opened.flows.length} flows: choose one with --flow or route a request with --method and --path`,
          flows: opened.flows.map((f) => ({ id: f.flow.id, trigger: f.flow.trigger }))
        })
        return 1
      }
      const routed = Execute.route(opened.flows, (f) => f.flow, method, path)
      if (routed === undefined) {
        print(io, Execute.NOT_FOUND)
        return 0
      }
      chosen = routed.flow
      params = routed.params
    }
    if (Problem.hasErrors(chosen.problems)) {
      print(io, { _tag: "LoadError", message: `flow "${chosen.flow.id}" has errors`, problems: chosen.problems })
      return 1
    }
    const outcome = Compiler.compileSync(chosen.flow, registry)
    if (outcome._tag === "Failed") {
      print(io, errorJson(outcome.error))
      return 1
    }
    const flow: Ir.Flow = chosen.flow
    const program =
      flow.trigger.type === "http"
        ? (() => {
            const trigger = flow.trigger
            const requestPath = path ?? trigger.path
            const requestMethod = values.method ?? (trigger.method === "ANY" ? "GET" : trigger.method)
            const routeParams = HttpRequest.matchPath(trigger.path, requestPath)
            if (routeParams === undefined || !HttpRequest.methodMatches(trigger.method, requestMethod)) {
              return Effect.succeed<unknown>(Execute.NOT_FOUND) as Effect.Effect<unknown, unknown, Sandbox>
            }
            const request = HttpRequest.make({
              method: requestMethod,
              path: requestPath,
              params: { ...routeParams, ...params },
              query: HttpRequest.queryOf(values.query ?? []),
              headers: HttpRequest.headersOf(values.header ?? []),
              body: input
            })
            return Execute.runRequest(outcome.flow, request) as Effect.Effect<unknown, unknown, Sandbox>
          })()
        : (Effect.map(outcome.flow.run(input), (result) => ({
            output: result.output,
            ...(result.reply === undefined ? {} : { reply: result.reply })
          })) as Effect.Effect<unknown, unknown, Sandbox>)
    const exit = await Effect.runPromiseExit(Effect.provide(program, services))
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
