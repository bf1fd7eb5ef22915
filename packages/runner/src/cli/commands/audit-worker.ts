/**
 * `jsonflow audit-worker`: moves audit entries from the Redis stream bus into the audit store (PostgreSQL),
 * as one of a consumer group; runs until SIGINT or SIGTERM, finishing its batch first.
 *
 * @module audit-worker
 */
import { parseArgs } from "node:util"
import { Config, Postgres, type Store, Worker } from "@jsonflow/audit"
import { Effect, Fiber } from "effect"
import type { Command } from "../Command.ts"

const usage = `Usage: jsonflow audit-worker [--redis <url>] [--audit postgres://...] [--stream <key>] [--group <name>]
                             [--consumer <name>] [--count <n>] [--claim-idle-ms <ms>] [--quiet]

Options:
  --redis <url>         Redis holding the stream (default: $JSONFLOW_AUDIT_REDIS, else redis://127.0.0.1:6379)
  --audit <url>         the PostgreSQL audit store (default: $JSONFLOW_AUDIT); ?schema=<name> picks a schema
  --stream <key>        stream key (default jsonflow:audit)
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
        quiet: { type: "boolean" }
      }
    })
    const target = Config.target(values.audit, io.cwd)
    if (target._tag !== "Postgres") {
      io.stderr("jsonflow audit-worker: --audit (or JSONFLOW_AUDIT) must be a postgres:// URL\n")
      return 2
    }
    const count = int(values.count, "count")
    const claimIdleMs = int(values["claim-idle-ms"], "claim-idle-ms")
    const redis = values.redis ?? process.env.JSONFLOW_AUDIT_REDIS ?? "redis://127.0.0.1:6379"
    const stats: Worker.WorkerStats = { batches: 0, entries: 0, claimed: 0, deadLettered: 0, failures: 0 }
    const program = Effect.scoped(
      Effect.gen(function* () {
        const store: Store.AuditStoreShape = yield* Postgres.open(Config.postgresOptions(target))
        if (!values.quiet) io.stderr(`audit-worker: ${redis} -> ${target.url.replace(/\/\/[^@/]*@/, "//***@")}\n`)
        return yield* Worker.run(
          {
            store,
            redis,
            ...(values.stream === undefined ? {} : { stream: values.stream }),
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
