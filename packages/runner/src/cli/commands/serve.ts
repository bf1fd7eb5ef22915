/**
 * `jsonflow serve <files|dirs...> [--port] [--config]`: starts the runner on the given flows, prints the
 * URLs of the HTTP flows and a `curl` line to try, and runs until SIGTERM or SIGINT, then shuts down
 * gracefully (a second signal exits at once).
 *
 * @module serve
 */
import { parseArgs } from "node:util"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

const usage = `Usage: jsonflow serve [<file|dir>...] [options]

Serves flows: canonical JSON, nFlow exports and TypeScript modules exporting built flows.
Directories are watched and reloaded on change.

  --port <n>        port (default 8080; env PORT or JSONFLOW_SERVER_PORT)
  --host <addr>     interface (default 0.0.0.0)
  --config <file>   JSON config file (JSONFLOW_* env variables override it)
  --prefix <path>   path prefix of the flow routes, e.g. /flows
  --flow <id>       single-flow mode: serve only this flow (env FLOW_ID)
  --no-watch        do not reload on file changes

Operations: GET /health, /ready, /metrics; /admin/... with admin.token set.`

type JsonSchemaLike = { readonly type?: unknown; readonly properties?: unknown; readonly required?: unknown }

// A small example value from an input JSON Schema, for the curl line.
const sample = (schema: JsonSchemaLike | undefined, depth = 0): unknown => {
  if (schema === undefined || depth > 3) return {}
  if (schema.type === "number" || schema.type === "integer") return 21
  if (schema.type === "string") return "world"
  if (schema.type === "boolean") return true
  if (schema.type === "array") return []
  const properties = (schema.properties ?? {}) as Record<string, JsonSchemaLike>
  const required = Array.isArray(schema.required) ? (schema.required as Array<string>) : Object.keys(properties)
  return Object.fromEntries(required.map((key) => [key, sample(properties[key], depth + 1)]))
}

// A path parameter's example: what the input schema's property of that name samples to, else "world".
const paramExample = (name: string, input: JsonSchemaLike | undefined): string => {
  const properties = (input?.properties ?? {}) as Record<string, JsonSchemaLike>
  const value = Object.hasOwn(properties, name) ? sample(properties[name]) : "world"
  return typeof value === "string" || typeof value === "number" ? encodeURIComponent(String(value)) : "world"
}

const pathExample = (path: string, input: JsonSchemaLike | undefined) =>
  path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => paramExample(name, input))

/** Where the runner records executions, for the banner's last lines. */
export interface BannerAudit {
  readonly sink: string
  /** The store or file, as the user knows it (`.jsonflow/audit`, a URL without password). */
  readonly where: string
  /** The options `jsonflow executions list` needs to find the same store (e.g. `--config runner.json`). */
  readonly listArgs?: string
}

/**
 * Prints where to go once the runner listens: one line per flow, the operations URLs, a `curl` line that
 * works as printed (the first HTTP flow, with an example body from its input schema), and where the
 * executions are recorded with the command that lists them.
 *
 * @example
 * ```ts
 * banner(runner.url, runner.config.server.prefix, runner.flows(), io, { sink: "embedded", where: ".jsonflow/audit" })
 * ```
 */
export const banner = (
  url: string,
  prefix: string,
  flows: ReadonlyArray<{
    readonly id: string
    readonly kind: string
    readonly trigger: { readonly type: string; readonly method?: string; readonly path?: string }
    readonly input?: JsonSchemaLike
  }>,
  io: Io,
  audit?: BannerAudit
) => {
  io.stdout(`\nJSON-Flow runner on ${url}  (${flows.length} flow${flows.length === 1 ? "" : "s"})\n`)
  let curl: string | undefined
  for (const flow of flows) {
    const t = flow.trigger
    if (t.type === "http" && t.path !== undefined) {
      io.stdout(`  ${(t.method ?? "").padEnd(6)} ${url}${prefix}${t.path}  (${flow.id})\n`)
      if (curl === undefined) {
        const target = `${url}${prefix}${pathExample(t.path, flow.input)}`
        const method = t.method === "ANY" ? "POST" : (t.method ?? "GET")
        curl =
          method === "GET" || method === "HEAD" || method === "DELETE"
            ? `curl -s ${method === "GET" ? "" : `-X ${method} `}${target}`
            : `curl -s -X ${method} ${target} -H 'content-type: application/json' -d '${JSON.stringify(sample(flow.input))}'`
      }
    } else io.stdout(`  ${t.type.padEnd(6)} ${flow.id}\n`)
  }
  io.stdout(`  health ${url}/health   ready ${url}/ready   metrics ${url}/metrics\n`)
  if (curl !== undefined) io.stdout(`\nTry:\n  ${curl}\n`)
  if (audit !== undefined && QUERYABLE.has(audit.sink)) {
    const list = `npx jsonflow executions list${audit.listArgs ? ` ${audit.listArgs}` : ""}`
    io.stdout(`\nExecutions are recorded in ${audit.where}; list them (also while the runner is up) with:\n  ${list}\n`)
  } else if (audit !== undefined && audit.sink !== "none") {
    io.stdout(`\nExecutions are written to ${audit.where}.\n`)
  }
  io.stdout("\n")
}

// Sinks `jsonflow executions` can read (redis: through the PostgreSQL store its worker writes).
const QUERYABLE = new Set(["embedded", "postgres", "redis"])

export const command: Command = {
  name: "serve",
  summary: "Serve flows over HTTP, cron and queues (watched, hot reload)",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        config: { type: "string" },
        prefix: { type: "string" },
        flow: { type: "string" },
        "no-watch": { type: "boolean" }
      },
      allowPositionals: true
    })
    const { Runner, RunnerError } = await import("../../index.ts")
    const port = values.port === undefined ? undefined : Number(values.port)
    if (port !== undefined && !Number.isInteger(port)) {
      io.stderr(`jsonflow serve: --port must be a number, got "${values.port}"\n`)
      return 2
    }
    const server = {
      ...(port === undefined ? {} : { port }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(values.prefix === undefined ? {} : { prefix: values.prefix })
    }
    const flowsConfig = {
      ...(values["no-watch"] ? { watch: false } : {}),
      ...(values.flow === undefined ? {} : { only: values.flow })
    }
    let runner: Awaited<ReturnType<typeof Runner.start>>
    try {
      runner = await Runner.start({
        flows: positionals,
        ...(values.config === undefined ? {} : { configFile: values.config }),
        config: {
          ...(Object.keys(server).length > 0 ? { server } : {}),
          ...(Object.keys(flowsConfig).length > 0 ? { flows: flowsConfig } : {})
        },
        log: (line) => io.stderr(line)
      })
    } catch (error) {
      const known =
        error instanceof RunnerError.ConfigError ||
        error instanceof RunnerError.FlowLoadError ||
        error instanceof RunnerError.StartError
      io.stderr(
        `jsonflow serve: ${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
      )
      return 1
    }
    if (runner.config.flows.paths.length === 0 && runner.config.configDb === undefined) {
      io.stderr("jsonflow serve: no flows given (pass files or directories, or set configDb.url)\n")
      await runner.stop()
      return 2
    }
    if (runner.url !== undefined) {
      banner(runner.url, runner.config.server.prefix, runner.flows(), io, auditOf(runner.config, io, values.config))
    }
    return new Promise<number>((resolve) => {
      let signals = 0
      const onSignal = (signal: NodeJS.Signals) => {
        signals++
        if (signals > 1) process.exit(1)
        io.stderr(`jsonflow serve: ${signal}, shutting down (drains in-flight executions)\n`)
        runner.stop().then(
          () => {
            process.off("SIGTERM", onSignal)
            process.off("SIGINT", onSignal)
            resolve(0)
          },
          () => resolve(1)
        )
      }
      process.on("SIGTERM", onSignal)
      process.on("SIGINT", onSignal)
    })
  }
}

// The banner's audit lines; a store the CLI cannot name (a bad audit.url) leaves them out rather than fail.
const auditOf = (config: Environment.Resolved, io: Io, configFile: string | undefined): BannerAudit | undefined => {
  const settings = Environment.settingsOf(io, { config: configFile })
  try {
    return {
      sink: config.audit.sink,
      where: Environment.describeAudit(config, settings),
      ...(configFile === undefined ? {} : { listArgs: `--config ${configFile}` })
    }
  } catch {
    return undefined
  }
}
