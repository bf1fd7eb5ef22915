/**
 * `jsonflow import-nflow <export.json> [--modules <dir>] [--out <dir>]`: converts an nFlow designer export
 * into canonical flow files, one per HTTP starter, and prints what it wrote and every problem.
 *
 * @module import-nflow
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { FlowFile, Problem, Save } from "@jsonflow/json-dsl"
import type { Command } from "../Command.ts"

const usage = `Usage: jsonflow import-nflow <export.json> [--modules <dir>] [--out <dir>]

Writes one canonical flow file (<flow id>.flow.json) per HTTP starter of an nFlow designer export.
  --modules <dir>   directory of custom box modules (<name>.js) for boxes with "script": "<name>"
  --out <dir>       where to write (default: the current directory)
Flows with errors are not written; every problem is printed as "<file>: <json-pointer>: <message>".`

export const command: Command = {
  name: "import-nflow",
  summary: "Convert an nFlow designer export into canonical flow files",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { modules: { type: "string" }, out: { type: "string" } },
      allowPositionals: true
    })
    const file = positionals[0]
    if (file === undefined || positionals.length > 1) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const modules = values.modules === undefined ? {} : FlowFile.readModules(resolve(io.cwd, values.modules))
    // FlowFile.open checks the size before reading and the content before importing.
    const opened = FlowFile.open(resolve(io.cwd, file), FlowFile.validationRegistry, { modules })
    if (opened.imported === undefined) {
      for (const problem of opened.problems) io.stdout(`${Problem.format(file, problem)}\n`)
      if (opened.kind === "canonical") io.stdout(`${file}: /: not an nFlow export (it has no "drawflow")\n`)
      return 1
    }
    const result = opened.imported
    const out = resolve(io.cwd, values.out ?? ".")
    let wrote = 0
    for (const imported of result.flows) {
      if (Problem.hasErrors(imported.problems)) continue
      mkdirSync(out, { recursive: true })
      const target = join(out, imported.file)
      writeFileSync(target, Save.save(imported.flow, { layout: imported.layout, schema: true }))
      wrote++
      io.stdout(
        `wrote ${join(values.out ?? ".", imported.file)} (${imported.starter.method} ${imported.starter.urlpattern})\n`
      )
    }
    for (const problem of result.problems) io.stdout(`${Problem.format(file, problem)}\n`)
    const skipped = result.flows.length - wrote
    if (skipped > 0) io.stdout(`${skipped} flow(s) not written because of errors\n`)
    return Problem.hasErrors(result.problems) ? 1 : 0
  }
}
