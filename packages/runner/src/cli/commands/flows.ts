/**
 * `jsonflow flows push|list|versions|rollback`: the PostgreSQL config DB of versioned flows. `push`
 * validates each file first (the same registry the runner uses for JSON flows) and stores it as the flow's
 * next version; runners listening on the DB reload at once. `rollback` re-activates an earlier version.
 *
 * @module flows
 */
import { parseArgs } from "node:util"
import type { Command } from "../Command.ts"

const usage = `Usage: jsonflow flows <push|list|versions|rollback> [args] [--db <url>] [--schema <name>]

  push <file>... [--by <name>]     validate and publish flow files (canonical or nFlow export)
  list                             flows and their active version
  versions <flow-id>               every stored version of a flow
  rollback <flow-id> [--to <n>]    activate version n (default: the one before the active one)

The database comes from --db, else JSONFLOW_CONFIG_DB_URL, else configDb.url of --config <file>.`

export const command: Command = {
  name: "flows",
  summary: "Publish, list and roll back flows in the PostgreSQL config DB",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        db: { type: "string" },
        schema: { type: "string" },
        config: { type: "string" },
        by: { type: "string" },
        to: { type: "string" }
      },
      allowPositionals: true
    })
    const [action, ...rest] = positionals
    if (action === undefined || !["push", "list", "versions", "rollback"].includes(action)) {
      io.stderr(`${usage}\n`)
      return 2
    }
    const { Config, ConfigDb, JsonEnvironment } = await import("../../index.ts")
    let url = values.db
    let schema = values.schema
    if (url === undefined) {
      try {
        const { config } = Config.load(values.config === undefined ? {} : { file: values.config })
        url = config.configDb?.url
        schema ??= config.configDb?.schema
      } catch (error) {
        io.stderr(`jsonflow flows: ${error instanceof Error ? error.message : String(error)}\n`)
        return 1
      }
    }
    if (url === undefined) {
      io.stderr("jsonflow flows: no database: pass --db <url> or set JSONFLOW_CONFIG_DB_URL\n")
      return 2
    }
    const db = ConfigDb.make(url, schema)
    try {
      if (action === "push") {
        if (rest.length === 0) {
          io.stderr(`${usage}\n`)
          return 2
        }
        const { FlowFile, Problem, Save } = await import("@jsonflow/json-dsl")
        const registry = JsonEnvironment.registry()
        let failed = false
        for (const file of rest) {
          const opened = FlowFile.open(file, registry)
          if (Problem.hasErrors(opened.problems) || opened.flows.length === 0) {
            for (const p of opened.problems) io.stderr(`${Problem.format(file, p)}\n`)
            failed = true
            continue
          }
          for (const f of opened.flows) {
            const document = Save.toDocument(f.flow, { layout: f.layout })
            const version = await db.push(f.flow.id, document, values.by)
            io.stdout(`pushed ${f.flow.id} (flow version ${f.flow.version}) as version ${version}\n`)
          }
        }
        return failed ? 1 : 0
      }
      if (action === "list") {
        const rows = await db.list()
        if (rows.length === 0) io.stdout("no flows\n")
        for (const r of rows) {
          io.stdout(
            `${r.flowId}\tversion ${r.version}\t(flow version ${r.flowVersion})\tpushed ${r.pushedAt}${r.pushedBy ? ` by ${r.pushedBy}` : ""}\n`
          )
        }
        return 0
      }
      const flowId = rest[0]
      if (flowId === undefined) {
        io.stderr(`${usage}\n`)
        return 2
      }
      if (action === "versions") {
        const rows = await db.versions(flowId)
        if (rows.length === 0) {
          io.stderr(`jsonflow flows: no flow "${flowId}" in the config DB\n`)
          return 1
        }
        for (const r of rows) {
          io.stdout(
            `${r.active ? "*" : " "} ${r.version}\t(flow version ${r.flowVersion})\t${r.pushedAt}${r.pushedBy ? ` by ${r.pushedBy}` : ""}\n`
          )
        }
        return 0
      }
      const to = values.to === undefined ? undefined : Number(values.to)
      if (to !== undefined && !Number.isInteger(to)) {
        io.stderr(`jsonflow flows: --to must be a version number, got "${values.to}"\n`)
        return 2
      }
      const active = await db.rollback(flowId, to)
      io.stdout(`${flowId} now runs version ${active}\n`)
      return 0
    } catch (error) {
      io.stderr(`jsonflow flows: ${error instanceof Error ? error.message : String(error)}\n`)
      return 1
    } finally {
      await db.close()
    }
  }
}
