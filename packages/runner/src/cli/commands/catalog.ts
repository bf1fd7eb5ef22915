/**
 * `jsonflow catalog`: every node type JSON flows get under the runner configuration (`--config`,
 * `JSONFLOW_*`: built-ins, nFlow types, `http.request`, `js`/`ts`, the configured connectors), with the JSON
 * Schema of its config, input and output ports (what a visual designer needs to draw and check nodes).
 *
 * @module catalog
 */
import { parseArgs } from "node:util"
import { Registry } from "@jsonflow/core"
import type { Command } from "../Command.ts"
import { registryFor } from "./validate.ts"

const usage = `Usage: jsonflow catalog [--type <node type>] [--config <file>]

Prints the node catalog as JSON: for each type its description, the JSON Schema of its config,
input and output ports, and whether its ports depend on its config. The types are those the
runner serves JSON flows with under --config (and JSONFLOW_* variables).`

export const command: Command = {
  name: "catalog",
  summary: "Print the node catalog (JSON Schema of each node type's config and ports)",
  usage,
  run: async (args, io) => {
    const { values } = parseArgs({ args: [...args], options: { type: { type: "string" }, config: { type: "string" } } })
    const catalog = Registry.catalog(await registryFor(io, values.config))
    const entries = values.type === undefined ? catalog : catalog.filter((entry) => entry.type === values.type)
    if (entries.length === 0) {
      io.stderr(`jsonflow catalog: no node type "${values.type}"\n`)
      return 1
    }
    io.stdout(`${JSON.stringify(values.type === undefined ? entries : entries[0], null, 2)}\n`)
    return 0
  }
}
