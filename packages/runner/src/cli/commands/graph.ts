/**
 * `jsonflow graph <file> [--flow <id>]`: a Mermaid flowchart of a flow (labels, types, ports on edges).
 *
 * @module graph
 */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { FlowFile, Mermaid, Problem } from "@jsonflow/json-dsl"
import type { Command } from "../Command.ts"
import { registryFor } from "./validate.ts"

const usage = `Usage: jsonflow graph <file> [--flow <id>] [--modules <dir>]

Prints a Mermaid flowchart of the flow (of one flow of an nFlow export: choose it with --flow).`

export const command: Command = {
  name: "graph",
  summary: "Print a Mermaid flowchart of a flow",
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
    if (flows.length !== 1) {
      for (const problem of opened.problems) io.stderr(`${Problem.format(file, problem)}\n`)
      io.stderr(
        flows.length === 0
          ? `jsonflow graph: no flow${values.flow === undefined ? "" : ` "${values.flow}"`} in ${file}\n`
          : `jsonflow graph: ${file} has ${flows.length} flows, choose one with --flow: ${flows.map((f) => f.flow.id).join(", ")}\n`
      )
      return 1
    }
    io.stdout(Mermaid.toMermaid(flows[0]!.flow))
    return 0
  }
}
