/**
 * `jsonflow validate <file>...`: checks canonical flows and nFlow exports (told apart by their content)
 * against the node types the runner serves JSON flows with under `--config` / `JSONFLOW_*` (built-ins,
 * nFlow types, `http.request`, `js`/`ts`, the configured connectors such as `sql.query`).
 * Prints `ok <file>` for a file without errors, else one line per problem, `<file>: <pointer>: <message>`;
 * warnings are prefixed `warning:`. Exit code 0 when every file is valid, 1 otherwise.
 *
 * @module validate
 */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import type { Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import { ConfigError } from "../../RunnerError.ts"
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

const usage = `Usage: jsonflow validate <file>... [--modules <dir>] [--config <file>]

Checks canonical flow files ("dsl": 1) and nFlow designer exports against the node types the
runner serves them with.
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
    for (const file of positionals) {
      const opened = FlowFile.open(resolve(io.cwd, file), registry, modules === undefined ? {} : { modules })
      for (const problem of opened.problems) io.stdout(`${Problem.format(file, problem)}\n`)
      for (const hint of connectorHints(opened.problems)) io.stderr(`hint: ${file}: ${hint}\n`)
      if (Problem.hasErrors(opened.problems)) failed = true
      else io.stdout(`ok ${file}\n`)
    }
    return failed ? 1 : 0
  }
}
