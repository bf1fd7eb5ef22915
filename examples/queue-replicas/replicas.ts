/**
 * What a deployment of several runners looks like from the outside: each replica is a `jsonflow serve`
 * process with the same flows and the same Redis and audit settings; producers put jobs on the queue with
 * the BullMQ API; the PostgreSQL audit store is the record of what ran.
 *
 * @module replicas
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Query } from "@jsonflow/audit"
import * as Postgres from "@jsonflow/audit/postgres"
import { Effect } from "effect"
import type { Redis } from "ioredis"
import postgres from "postgres"

/** The `jsonflow` CLI of the installed `@jsonflow/runner` (what `npx jsonflow` runs). */
const jsonflow = join(dirname(fileURLToPath(import.meta.resolve("@jsonflow/runner"))), "../bin/jsonflow.js")

/** The settings every replica shares, as the `JSONFLOW_*` environment of a container would carry them. */
export interface Deployment {
  readonly flows: string
  readonly redisUrl: string
  readonly redisPrefix: string
  readonly queue: string
  readonly databaseUrl: string
  readonly auditSchema: string
}

/** A running replica. */
export interface Replica {
  readonly name: string
  readonly url: string
  readonly child: ChildProcessWithoutNullStreams
  /** Executions of `flowId` this replica finished successfully, from its `/metrics`. */
  readonly succeeded: (flowId: string) => Promise<number>
  /** SIGTERM: stop taking jobs, finish the active ones, flush the audit, exit. Resolves with the exit code. */
  readonly stop: () => Promise<number | null>
}

/**
 * Starts one replica and resolves once it listens (its queue workers are running by then).
 *
 * @example
 * ```ts
 * const [a, b] = await Promise.all([startReplica("a", deployment), startReplica("b", deployment)])
 * ```
 */
export const startReplica = (name: string, deployment: Deployment): Promise<Replica> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [jsonflow, "serve", deployment.flows, "--no-watch", "--port", "0"], {
      env: {
        ...process.env,
        JSONFLOW_SERVER_HOST: "127.0.0.1",
        JSONFLOW_REDIS_URL: deployment.redisUrl,
        JSONFLOW_REDIS_PREFIX: deployment.redisPrefix,
        JSONFLOW_QUEUE_CONCURRENCY: "2",
        JSONFLOW_AUDIT_SINK: "postgres",
        JSONFLOW_AUDIT_URL: `${deployment.databaseUrl}?schema=${deployment.auditSchema}`,
        JSONFLOW_LOGS_LEVEL: "warn",
        INVOICE_QUEUE: deployment.queue
      }
    })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`replica ${name} did not start in time\n${out}\n${err}`))
    }, 20_000)
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /runner on (http:\/\/\S+)/.exec(out)
      if (!match) return
      clearTimeout(timer)
      const url = match[1]!
      resolve({
        name,
        url,
        child,
        succeeded: async (flowId) => {
          const text = await (await fetch(`${url}/metrics`)).text()
          const line = text
            .split("\n")
            .find((l) => l.startsWith(`jsonflow_executions_total{flow="${flowId}",trigger="queue",status="succeeded"}`))
          return line === undefined ? 0 : Number(line.split(" ").pop())
        },
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
          return exited
        }
      })
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`replica ${name} exited with ${code}\n${out}\n${err}`))
    })
  })

/**
 * The executions of `flowId` in the PostgreSQL audit store (newest first), through `@jsonflow/audit`'s
 * query API: what `jsonflow executions list --audit <url>?schema=<schema> --flow <id>` prints.
 *
 * @example
 * ```ts
 * const runs = await auditedExecutions(deployment, "send-invoice")
 * ```
 */
export const auditedExecutions = (deployment: Deployment, flowId: string) =>
  Effect.runPromise(
    Query.executions({ flowId, limit: 10_000 }).pipe(
      Effect.provide(Postgres.layerStore({ url: deployment.databaseUrl, schema: deployment.auditSchema }))
    )
  )

/**
 * Removes what a run left: the Redis keys under its prefix (SCAN, not KEYS) and the audit schema.
 *
 * @example
 * ```ts
 * await cleanup(deployment, redis)
 * ```
 */
export const cleanup = async (deployment: Deployment, redis: Redis) => {
  let cursor = "0"
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${deployment.redisPrefix}:*`, "COUNT", 500)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== "0")
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(deployment.auditSchema)) throw new Error("not a plain schema name")
  const sql = postgres(deployment.databaseUrl, { max: 1, onnotice: () => {} })
  try {
    await sql.unsafe(`drop schema if exists ${deployment.auditSchema} cascade`)
  } finally {
    await sql.end()
  }
}
