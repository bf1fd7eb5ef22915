/**
 * `jsonflow eject <file> [--flow <id>]`: TypeScript builder code that builds the same flow.
 *
 * @module eject
 */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { Eject, FlowFile, Problem } from "@jsonflow/json-dsl"
import type { Command } from "../Command.ts"
import { registryFor } from "./validate.ts"

const usage = `Usage: jsonflow eject <file> [--flow <id>] [--modules <dir>]

Prints a TypeScript module that builds the flow with the typed builder (Flow.make(...)...build()).`

export const command: Command = {
  name: "eject",
  summary: "Print TypeScript builder code for a JSON flow",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { flow: { type: "string" }, modules: { type: "string" } },
      allowPositionals: true
    })
    const file = positionals[0]
    if (file === undefined || positionals.length > 1) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const modules = values.modules === undefined ? undefined : FlowFile.readModules(resolve(io.cwd, values.modules))
    const opened = FlowFile.open(resolve(io.cwd, file), await registryFor(io), modules === undefined ? {} : { modules })
    const flows = values.flow === undefined ? opened.flows : opened.flows.filter((f) => f.flow.id === values.flow)
    const chosen = flows[0]
    if (chosen === undefined || flows.length > 1 || Problem.hasErrors(chosen.problems)) {
      for (const problem of chosen?.problems ?? opened.problems) io.stderr(`${Problem.format(file, problem)}\n`)
      if (flows.length > 1) io.stderr(`jsonflow eject: ${file} has ${flows.length} flows, choose one with --flow\n`)
      return 1
    }
    try {
      io.stdout(Eject.toTypeScript(chosen.flow))
      return 0
    } catch (error) {
      if (!(error instanceof Eject.EjectError)) throw error
      io.stderr(`jsonflow eject: ${error.message}\n`)
      return 1
    }
  }
}
