/**
 * `jsonflow script <file.js|file.ts>... [--input JSON | --input @file]`: runs each transform file in turn, in
 * one sandbox (the production `@jsonflow/sandbox` layer and its default limits), and prints one JSON line
 * per file: `{"file":…,"ok":true,"output":…}` or `{"file":…,"ok":false,"error":{"_tag":…,"message":…}}`.
 * Exit code 0 when every script ran to a result or a typed error, 2 when the tool itself failed (bad
 * arguments, an unreadable file, no sandbox).
 *
 * @module script
 */
import { readFile } from "node:fs/promises"
import { basename, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Sandbox, Script, type ScriptResult } from "@jsonflow/sandbox"
import { Effect, Exit } from "effect"
import type { Command, Io } from "../Command.ts"

const usage = `Usage: jsonflow script <file.js|file.ts>... [--input JSON | --input @file]

Runs each file in the sandbox and prints one JSON line per file.
A file is an ES module whose default export is the transform: export default (input, ctx) => output
(.ts, .mts and .cts files are TypeScript: types are stripped).

Options:
  -i, --input <JSON|@file>  The input given to every script (default: null); @file reads JSON from a file
  -h, --help                Show this help

Output: {"file":…,"ok":true,"output":…[,"logs":[…]]} or {"file":…,"ok":false,"error":{"_tag":…,"message":…}}
Exit code: 0 when every script ran to a result or a typed error, 2 when the tool itself failed.`

const fail = (io: Io, message: string) => {
  io.stderr(`jsonflow script: ${message}\n`)
  return 2
}

const readInput = async (value: string | undefined, cwd: string): Promise<unknown> => {
  if (value === undefined) return null
  const text = value.startsWith("@") ? await readFile(resolve(cwd, value.slice(1)), "utf8") : value
  return JSON.parse(text)
}

/** A typed error as JSON: its tag, its readable message, then its fields. */
const errorJson = (error: { readonly _tag: string; readonly message: string }): Record<string, unknown> => ({
  _tag: error._tag,
  message: error.message,
  ...Object.fromEntries(Object.entries(error).filter(([key]) => key !== "_tag" && key !== "message"))
})

// The file stands for the node: errors name it.
const where = (file: string) => ({ nodeId: basename(file), executionId: "cli" })

const line = (file: string, outcome: Exit.Exit<ScriptResult, { _tag: string; message: string }>): string => {
  if (Exit.isSuccess(outcome)) {
    const { output, logs, droppedLogs } = outcome.value
    return JSON.stringify({
      file,
      ok: true,
      output,
      ...(logs.length > 0 ? { logs } : {}),
      ...(droppedLogs > 0 ? { droppedLogs } : {})
    })
  }
  const failure = outcome.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure === undefined) throw new Error(`running ${file} failed unexpectedly`)
  return JSON.stringify({ file, ok: false, error: errorJson(failure.error) })
}

export const command: Command = {
  name: "script",
  summary: "Run transform scripts (.js/.ts) in the sandbox, one JSON line per file",
  usage,
  run: async (args, io) => {
    let parsed: ReturnType<typeof parse>
    const parse = (argv: Array<string>) =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: { input: { type: "string", short: "i" }, help: { type: "boolean", short: "h" } }
      })
    try {
      parsed = parse([...args])
    } catch (error) {
      return fail(io, `${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
    }
    if (parsed.values.help) {
      io.stdout(`${usage}\n`)
      return 0
    }
    const files = parsed.positionals
    if (files.length === 0) return fail(io, `no script file given\n\n${usage}`)
    let input: unknown
    try {
      input = await readInput(parsed.values.input, io.cwd)
    } catch (error) {
      return fail(io, `--input is not JSON (or its file cannot be read): ${(error as Error).message}`)
    }
    const sources: Array<{ readonly file: string; readonly source: string | undefined }> = []
    let unreadable = false
    for (const file of files) {
      try {
        sources.push({ file, source: await readFile(resolve(io.cwd, file), "utf8") })
      } catch (error) {
        unreadable = true
        io.stderr(`jsonflow script: cannot read ${file}: ${(error as Error).message}\n`)
        sources.push({ file, source: undefined })
      }
    }
    const program = Effect.gen(function* () {
      const sandbox = yield* Sandbox
      for (const { file, source } of sources) {
        if (source === undefined) continue
        const outcome = yield* Effect.exit(
          sandbox
            .compile(source, { language: Script.languageOf(file), ...where(file) })
            .pipe(Effect.flatMap((script) => sandbox.run(script, input, where(file))))
        )
        io.stdout(`${line(file, outcome)}\n`)
      }
    })
    const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(Sandbox.layer())))
    if (Exit.isFailure(exit)) {
      const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      return fail(io, failure === undefined ? "the sandbox failed" : failure.error.message)
    }
    return unreadable ? 2 : 0
  }
}
