/**
 * Entry point of the `jsonflow` CLI: dispatches to the sub-commands in `commands/`.
 *
 * @module main
 */
import type { Command, Io } from "./Command.ts"

// Each command module is loaded only when used, so `jsonflow validate` never loads isolated-vm.
const commands: Record<string, { readonly summary: string; readonly load: () => Promise<Command> }> = {
  validate: {
    summary: "Check flow files (canonical or nFlow export)",
    load: async () => (await import("./commands/validate.ts")).command
  },
  run: {
    summary: "Run one execution of a flow and print the result as JSON",
    load: async () => (await import("./commands/run.ts")).command
  },
  test: {
    summary: "Run the flow test cases of *.test.json files (mocked connectors, no server)",
    load: async () => (await import("./commands/test.ts")).command
  },
  script: {
    summary: "Run transform scripts (.js/.ts) in the sandbox, one JSON line per file",
    load: async () => (await import("./commands/script.ts")).command
  },
  graph: {
    summary: "Print a Mermaid flowchart of a flow",
    load: async () => (await import("./commands/graph.ts")).command
  },
  "import-nflow": {
    summary: "Convert an nFlow designer export into canonical flow files",
    load: async () => (await import("./commands/import-nflow.ts")).command
  },
  catalog: {
    summary: "Print the node catalog (JSON Schema of configs and ports)",
    load: async () => (await import("./commands/catalog.ts")).command
  },
  eject: {
    summary: "Print TypeScript builder code for a JSON flow",
    load: async () => (await import("./commands/eject.ts")).command
  },
  executions: {
    summary: "List recorded executions, or show one as a timeline (text, JSON or HTML)",
    load: async () => (await import("./commands/executions.ts")).command
  },
  replay: {
    summary: "Run a recorded execution again, from the start or from a node",
    load: async () => (await import("./commands/replay.ts")).command
  },
  "audit-worker": {
    summary: "Move audit events from the Redis stream bus into PostgreSQL",
    load: async () => (await import("./commands/audit-worker.ts")).command
  },
  serve: {
    summary: "Serve flows over HTTP, cron and queues (watched, hot reload)",
    load: async () => (await import("./commands/serve.ts")).command
  },
  flows: {
    summary: "Publish, list and roll back flows in the PostgreSQL config DB",
    load: async () => (await import("./commands/flows.ts")).command
  }
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd()
}

const help = (io: Io) => {
  const width = Math.max(...Object.keys(commands).map((name) => name.length), 4)
  io.stdout("Usage: jsonflow <command> [options]\n\nCommands:\n")
  for (const [name, command] of Object.entries(commands)) io.stdout(`  ${name.padEnd(width)}  ${command.summary}\n`)
  io.stdout(`  ${"help".padEnd(width)}  Show help for a command\n`)
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code.
 *
 * @example
 * ```ts
 * import { main } from "@jsonflow/runner/cli"
 * process.exitCode = await main(["help"])
 * ```
 */
export const main = async (argv: ReadonlyArray<string>, io: Io = processIo): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const target = rest[0] === undefined ? undefined : commands[rest[0]]
    if (target) io.stdout(`${(await target.load()).usage}\n`)
    else help(io)
    return 0
  }
  const entry = commands[name]
  if (entry === undefined) {
    io.stderr(`jsonflow: unknown command "${name}"\n`)
    help(io)
    return 2
  }
  const command = await entry.load()
  try {
    return await command.run(rest, io)
  } catch (error) {
    io.stderr(`jsonflow ${name}: ${error instanceof Error ? error.message : String(error)}\n`)
    return 2
  }
}
