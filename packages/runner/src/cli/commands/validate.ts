/**
 * `jsonflow validate <file>...`: checks canonical flows and nFlow exports (told apart by their content).
 * Prints `ok <file>` for a file without errors, else one line per problem, `<file>: <pointer>: <message>`;
 * warnings are prefixed `warning:`. Exit code 0 when every file is valid, 1 otherwise.
 *
 * @module validate
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import type { Command } from "../Command.ts"

const USES_CODE_NODES = /"type"\s*:\s*"(?:js|ts)"/

/**
 * The registry to check `files` with: built-ins and nFlow types, plus the sandbox's `js`/`ts` definitions
 * when a file uses them (loading the sandbox costs about a second, so only then).
 */
export const registryFor = async (files: ReadonlyArray<string>): Promise<Registry.Registry<unknown>> => {
  const usesCode = files.some((file) => {
    try {
      return USES_CODE_NODES.test(readFileSync(file, "utf8"))
    } catch {
      return false
    }
  })
  if (!usesCode) return FlowFile.validationRegistry
  const { Nodes } = await import("@jsonflow/sandbox")
  return Registry.merge(FlowFile.validationRegistry, Registry.make(...Nodes.definitions))
}

const usage = `Usage: jsonflow validate <file>... [--modules <dir>]

Checks canonical flow files ("dsl": 1) and nFlow designer exports.
  --modules <dir>   directory of custom nFlow box modules (<name>.js)

Prints "ok <file>" per valid file, or "<file>: <json-pointer>: <message>" per problem
(warnings prefixed "warning:"). Exits 1 if any file has an error.`

export const command: Command = {
  name: "validate",
  summary: "Check flow files (canonical or nFlow export): every problem with its JSON pointer",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { modules: { type: "string" } },
      allowPositionals: true
    })
    if (positionals.length === 0) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const modules = values.modules === undefined ? undefined : FlowFile.readModules(values.modules)
    let failed = false
    const registry = await registryFor(positionals)
    for (const file of positionals) {
      const opened = FlowFile.open(file, registry, modules === undefined ? {} : { modules })
      for (const problem of opened.problems) io.stdout(`${Problem.format(file, problem)}\n`)
      if (Problem.hasErrors(opened.problems)) failed = true
      else io.stdout(`ok ${file}\n`)
    }
    return failed ? 1 : 0
  }
}
