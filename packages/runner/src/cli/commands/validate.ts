/**
 * `jsonflow validate <file|dir>...`: checks canonical flows and nFlow exports (told apart by their content)
 * against the node types the runner serves JSON flows with under `--config` / `JSONFLOW_*` (built-ins,
 * nFlow types, `http.request`, `js`/`ts`, the configured connectors such as `sql.query`).
 * Prints `ok <file>` for a file without errors, else one line per problem, `<file>: <pointer>: <message>`;
 * warnings are prefixed `warning:`. Exit code 0 when every file is valid, 1 otherwise.
 *
 * @module validate
 */
import { readFileSync, statSync } from "node:fs"
import { relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import { compileBuilder } from "../../internal/flowTable.ts"
import { ConfigError } from "../../RunnerError.ts"
import { isModule, listFiles, looksLikeFlow, readPaths } from "../../sources/directory.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

/**
 * The node types JSON flows are checked against: those of the runner configuration (`JSONFLOW_*`, and
 * `configFile` when given). Throws the runner's `ConfigError` for an invalid configuration.
 *
 * @example
 * ```ts
 * const opened = FlowFile.open(file, await registryFor(io))
 * ```
 */
export const registryFor = async (io: Io, configFile?: string): Promise<Registry.Registry<unknown>> => {
  const settings = Environment.settingsOf(io, { config: configFile })
  return (await Environment.environment(Environment.loadConfig(settings), settings)).registry
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

const readText = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return ""
  }
}

/**
 * A module's builder flows compiled with their own node types: why it does not load, or each flow that fails
 * (`undefined`: a module found in a directory that exports no flow, skipped).
 */
const moduleProblems = async (path: string, explicit: boolean): Promise<ReadonlyArray<string> | undefined> => {
  const { flows, failures } = await readPaths([path], Registry.make())
  const problems = failures.map((f) => f.message)
  let built = 0
  for (const sourced of flows) {
    if (sourced.kind !== "builder") continue
    built++
    const compiled = compileBuilder(sourced.definition)
    if (compiled._tag === "Failed") problems.push(`flow "${sourced.definition.ir.id}": ${compiled.message}`)
  }
  // In a directory a module without flows is a helper, as for `jsonflow serve`; named on its own it is a mistake.
  if (built === 0 && problems.length === 0) {
    if (!explicit) return undefined
    problems.push("exports no built flow (Flow.make(...).build())")
  }
  return problems
}

const CONNECTORS = ["sql", "soap", "grpc", "redis", "mail"]

/**
 * For node types of a connector that is not configured: where they come from. Connector nodes need their
 * connector's settings (a database, a WSDL), so the runner only knows them once `connectors.<name>` is set.
 */
export const connectorHints = (problems: ReadonlyArray<Problem.Problem>): ReadonlyArray<string> => {
  const missing = new Set<string>()
  for (const problem of problems) {
    const type = /unknown node type "([a-z]+)\.[A-Za-z.]+"/.exec(problem.message)?.[1]
    if (type !== undefined && CONNECTORS.includes(type)) missing.add(type)
  }
  return [...missing].map(
    (name) =>
      `${name}.* nodes come with the ${name} connector: configure "connectors": { "${name}": {...} } in the runner configuration and pass it with --config`
  )
}

const usage = `Usage: jsonflow validate <file|dir>... [--modules <dir>] [--config <file>]

Checks canonical flow files ("dsl": 1) and nFlow designer exports against the node types the
runner serves them with, and TypeScript/JavaScript modules' builder flows. A directory is read
like "jsonflow serve <dir>" reads it.
  --modules <dir>   directory of custom nFlow box modules (<name>.js)
  --config <file>   runner configuration: its connectors' node types are known (JSONFLOW_* override it)

Prints "ok <file>" per valid file, or "<file>: <json-pointer>: <message>" per problem
(warnings prefixed "warning:"). Exits 1 if any file has an error.`

export const command: Command = {
  name: "validate",
  summary: "Check flow files (canonical or nFlow export): every problem with its JSON pointer",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { modules: { type: "string" }, config: { type: "string" } },
      allowPositionals: true
    })
    if (positionals.length === 0) {
      io.stderr(`${usage}\n`)
      return 2
    }
    let registry: Registry.Registry<unknown>
    try {
      registry = await registryFor(io, values.config)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      io.stderr(`jsonflow validate: ${error.message}\n`)
      return 2
    }
    const modules = values.modules === undefined ? undefined : FlowFile.readModules(resolve(io.cwd, values.modules))
    let failed = false
    const files = positionals.flatMap((given) => {
      const path = resolve(io.cwd, given)
      if (!isDirectory(path)) return [{ path, shown: given, explicit: true }]
      // A directory holds the flows `jsonflow serve <dir>` would load: flow JSON and modules.
      return listFiles([path]).flatMap((found) =>
        isModule(found) || looksLikeFlow(readText(found))
          ? [{ path: found, shown: relative(io.cwd, found), explicit: false }]
          : []
      )
    })
    for (const { path, shown, explicit } of files) {
      if (isModule(path)) {
        const problems = await moduleProblems(path, explicit)
        if (problems === undefined) continue
        for (const problem of problems) io.stdout(`${shown}: ${problem}\n`)
        if (problems.length > 0) failed = true
        else io.stdout(`ok ${shown}\n`)
        continue
      }
      const opened = FlowFile.open(path, registry, modules === undefined ? {} : { modules })
      for (const problem of opened.problems) io.stdout(`${Problem.format(shown, problem)}\n`)
      for (const hint of connectorHints(opened.problems)) io.stderr(`hint: ${shown}: ${hint}\n`)
      if (Problem.hasErrors(opened.problems)) failed = true
      else io.stdout(`ok ${shown}\n`)
    }
    return failed ? 1 : 0
  }
}
