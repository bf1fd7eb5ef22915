/**
 * `jsonflow audit-worker`: moves audit entries from the Redis stream bus into the audit store (PostgreSQL),
 * as one of a consumer group; runs until SIGINT or SIGTERM, finishing its batch first. Its Redis, stream,
 * store and retention default to the runner configuration's (`--config`, `JSONFLOW_AUDIT_*`), so a worker
 * started with the runners' settings drains what they append.
 *
 * @module audit-worker
 */
import { parseArgs } from "node:util"
import { Config as AuditConfig, Postgres, type Store, Worker } from "@jsonflow/audit"
import { Effect, Fiber } from "effect"
import * as RunnerAudit from "../../RunnerAudit.ts"
import { ConfigError } from "../../RunnerError.ts"
import type { Command } from "../Command.ts"
import * as Environment from "../environment.ts"

const usage = `Usage: jsonflow audit-worker [--config <file>] [--redis <url>] [--audit postgres://...] [--stream <key>]
                             [--group <name>] [--consumer <name>] [--count <n>] [--claim-idle-ms <ms>] [--quiet]

Options:
  --config <file>       the runner configuration; the options below default to its audit settings
  --redis <url>         Redis holding the stream (default: audit.redis, $JSONFLOW_AUDIT_REDIS, else redis.url,
                        else redis://127.0.0.1:6379)
  --audit <url>         the PostgreSQL audit store (default: audit.url, $JSONFLOW_AUDIT_URL); ?schema=<name>
                        picks a schema
  --stream <key>        stream key (default: audit.stream, $JSONFLOW_AUDIT_STREAM, else jsonflow:audit)
  --group <name>        consumer group (default jsonflow-audit)
  --consumer <name>     this worker's name (default <host>-<pid>)
  --count <n>           stream entries per read (default 20; each holds up to 500 events)
  --claim-idle-ms <ms>  take over a dead worker's entries after this idle time (default 30000)`

const int = (text: string | undefined, name: string): number | undefined => {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`)
  return n
}

export const command: Command = {
  name: "audit-worker",
  summary: "Move audit events from the Redis stream bus into PostgreSQL",
  usage,
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        redis: { type: "string" },
        audit: { type: "string" },
        stream: { type: "string" },
        group: { type: "string" },
        consumer: { type: "string" },
        count: { type: "string" },
        "claim-idle-ms": { type: "string" },
        quiet: { type: "boolean" },
        config: { type: "string" }
      }
    })
    const settings = Environment.settingsOf(io, values)
    let config: Environment.Resolved
    let target: AuditConfig.Target | undefined
    try {
      config = Environment.loadConfig(settings)
      // The worker's store is the PostgreSQL one, whatever the runners' sink (they append to Redis).
      target =
        values.audit !== undefined
          ? AuditConfig.target(values.audit, settings.cwd, settings.env)
          : config.audit.url !== undefined
            ? AuditConfig.target(config.audit.url, settings.cwd, settings.env)
            : RunnerAudit.storeTarget(config, settings)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      io.stderr(`jsonflow audit-worker: ${error.message}\n`)
      return 2
    }
    if (target?._tag !== "Postgres") {
      io.stderr(
        "jsonflow audit-worker: the store must be PostgreSQL: --audit postgres://..., audit.url or JSONFLOW_AUDIT_URL\n"
      )
      return 2
    }
    const count = int(values.count, "count")
    const claimIdleMs = int(values["claim-idle-ms"], "claim-idle-ms")
    const redis = values.redis ?? config.audit.redis ?? "redis://127.0.0.1:6379"
    const stream = values.stream ?? config.audit.stream
    const retentionDays = config.audit.retentionDays
    const stats: Worker.WorkerStats = { batches: 0, entries: 0, claimed: 0, deadLettered: 0, failures: 0 }
    const program = Effect.scoped(
      Effect.gen(function* () {
        const store: Store.AuditStoreShape = yield* Postgres.open({
          ...AuditConfig.postgresOptions(target),
          ...(retentionDays === undefined ? {} : { retentionDays })
        })
        if (!values.quiet)
          io.stderr(
            `audit-worker: ${Environment.redactUrl(redis)} ${stream} -> ${Environment.describeTarget(target, io.cwd)}\n`
          )
        return yield* Worker.run(
          {
            store,
            redis,
            stream,
            ...(values.group === undefined ? {} : { group: values.group }),
            ...(values.consumer === undefined ? {} : { consumer: values.consumer }),
            ...(count === undefined ? {} : { count }),
            ...(claimIdleMs === undefined ? {} : { claimIdleMs }),
            ...(values.quiet
              ? {}
              : {
                  onBatch: (b: { readonly ids: number; readonly entries: number; readonly claimed: boolean }) =>
                    io.stderr(`audit-worker: wrote ${b.entries} event(s)${b.claimed ? " (taken over)" : ""}\n`)
                })
          },
          stats
        )
      })
    )
    const fiber = Effect.runFork(program)
    const stop = () => {
      Effect.runFork(Fiber.interrupt(fiber))
    }
    process.once("SIGINT", stop)
    process.once("SIGTERM", stop)
    const exit = await Effect.runPromise(Fiber.await(fiber))
    process.off("SIGINT", stop)
    process.off("SIGTERM", stop)
    if (!values.quiet) io.stderr(`audit-worker: stopped after ${stats.batches} batch(es), ${stats.entries} event(s)\n`)
    if (exit._tag === "Failure" && !exit.cause.reasons.every((r) => r._tag === "Interrupt")) {
      io.stderr(`jsonflow audit-worker: ${String(exit.cause.reasons[0])}\n`)
      return 1
    }
    return 0
  }
}
