/**
 * The admin API under `/admin`, behind a bearer token (compared in constant time; without a configured
 * token the API does not exist). Routes:
 *
 * - `GET  /admin/flows`: loaded flows (id, version, trigger, source)
 * - `GET  /admin/flows/:id`: one flow's IR; `GET /admin/flows/:id/versions`: stored versions (config DB)
 * - `POST /admin/flows/:id/trigger`: runs the flow with the JSON body as input; answers the result
 * - `POST /admin/reload`: reloads every source; answers what changed and what failed
 * - `GET  /admin/executions`: recent executions of this replica (newest first)
 * - `GET  /admin/queues`, `GET /admin/queues/:name/dead`, `POST /admin/queues/:name/dead/:jobId/retry`
 * - `GET  /admin/audit/...`: the audit store's query protocol (`Remote` of `@jsonflow/audit`: executions,
 *   traces, where an execution stopped), when the configured sink has a queryable store; read only
 *
 * @module admin
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Outcome, Recent } from "../internal/executor.ts"
import type { FlowTable } from "../internal/flowTable.ts"
import type { StoredVersion } from "../sources/postgres.ts"
import type { QueueService } from "../triggers/queue.ts"
import { readBody } from "./body.ts"
import { failureOf, sendError, sendJson } from "./reply.ts"

/** What a reload did. */
export interface ReloadReport {
  readonly flows: number
  readonly added: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly failures: ReadonlyArray<{ readonly source: string; readonly flowId?: string; readonly message: string }>
}

/** What the admin API reads and does. */
export interface AdminDeps {
  readonly token: string
  readonly table: () => FlowTable
  readonly versions: ((flowId: string) => Promise<ReadonlyArray<StoredVersion>>) | undefined
  readonly trigger: (flowId: string, input: unknown) => Promise<Outcome | undefined>
  readonly reload: () => Promise<ReloadReport>
  readonly executions: () => ReadonlyArray<Recent>
  readonly queues: QueueService | undefined
  readonly bodyLimitBytes: number
  /** The audit store's query protocol (path relative to `/admin/audit`), when a queryable store is configured. */
  readonly audit?:
    | ((request: {
        readonly method: string
        readonly path: string
        readonly query: string
      }) => Promise<{ readonly status: number; readonly body: unknown }>)
    | undefined
}

const digest = (text: string) => createHash("sha256").update(text).digest()

/**
 * Makes the admin handler; `path` is the request path, starting with `/admin`.
 *
 * @example
 * ```ts
 * const admin = makeAdmin({ token, table, versions: undefined, trigger, reload, executions, queues: undefined, bodyLimitBytes })
 * ```
 */
export const makeAdmin = (deps: AdminDeps) => {
  const expected = digest(`Bearer ${deps.token}`)
  const authorized = (req: IncomingMessage) => {
    const given = req.headers.authorization
    return given !== undefined && timingSafeEqual(digest(given), expected)
  }
  const route = async (req: IncomingMessage, res: ServerResponse, path: string, query: string) => {
    const method = req.method ?? "GET"
    const parts = path.split("/").slice(2).map(decodeURIComponent) // after "", "admin"
    const [a, b, c, d, e] = parts
    if (method === "GET" && a === "flows" && b === undefined) {
      return sendJson(
        res,
        200,
        [...deps.table().flows.values()].map((f) => ({
          id: f.id,
          version: f.version,
          kind: f.kind,
          source: f.source,
          trigger: f.ir.trigger,
          ...(f.queue === undefined ? {} : { queue: f.queue })
        }))
      )
    }
    if (a === "flows" && b !== undefined) {
      const entry = deps.table().flows.get(b)
      if (method === "GET" && c === undefined) {
        if (!entry) return sendError(res, 404, { _tag: "FlowNotFound", message: `no flow "${b}" is loaded` })
        return sendJson(res, 200, { id: entry.id, version: entry.version, source: entry.source, flow: entry.ir })
      }
      if (method === "GET" && c === "versions") {
        if (deps.versions === undefined) {
          if (!entry) return sendError(res, 404, { _tag: "FlowNotFound", message: `no flow "${b}" is loaded` })
          return sendJson(res, 200, [
            { flowId: entry.id, flowVersion: entry.version, active: true, source: entry.source }
          ])
        }
        return sendJson(res, 200, await deps.versions(b))
      }
      if (method === "POST" && c === "trigger") {
        const body = await readBody(req, deps.bodyLimitBytes, 10_000)
        if (body._tag !== "Body")
          return sendError(res, 400, { _tag: "BodyInvalid", message: `cannot read the body (${body._tag})` })
        const outcome = await deps.trigger(b, body.value)
        if (outcome === undefined)
          return sendError(res, 404, { _tag: "FlowNotFound", message: `no flow "${b}" is loaded` })
        if (outcome._tag === "Succeeded") {
          return sendJson(res, 200, {
            executionId: outcome.executionId,
            output: outcome.result.output,
            reply: outcome.result.reply,
            steps: outcome.result.steps,
            durationMs: outcome.result.durationMs
          })
        }
        const failure = failureOf(outcome, b)
        return sendError(res, failure.status, failure.error)
      }
    }
    if (method === "POST" && a === "reload" && b === undefined) return sendJson(res, 200, await deps.reload())
    if (method === "GET" && a === "executions") {
      const all = deps.executions().map((x) => ({ ...x, startedAt: new Date(x.startedAt).toISOString() }))
      if (b !== undefined) {
        const one = all.find((x) => x.executionId === b)
        return one
          ? sendJson(res, 200, one)
          : sendError(res, 404, { _tag: "ExecutionNotFound", message: `execution "${b}" is not among the recent ones` })
      }
      const params = new URLSearchParams(query)
      const flow = params.get("flow")
      const status = params.get("status")
      return sendJson(
        res,
        200,
        all.filter((x) => (flow === null || x.flowId === flow) && (status === null || x.status === status))
      )
    }
    if (a === "audit") {
      if (deps.audit === undefined) {
        return sendError(res, 404, {
          _tag: "AuditStoreOff",
          message: "the configured audit sink keeps no queryable store (use embedded or postgres)"
        })
      }
      req.resume() // read only: a body is not read
      const answer = await deps.audit({ method, path: path.slice("/admin/audit".length) || "/", query })
      return answer.body === undefined
        ? sendJson(res, answer.status, undefined)
        : sendJson(res, answer.status, answer.body)
    }
    if (a === "queues") {
      const queues = deps.queues
      if (queues === undefined) return sendError(res, 404, { _tag: "QueuesOff", message: "no Redis is configured" })
      if (method === "GET" && b === undefined) return sendJson(res, 200, await queues.counts())
      if (method === "GET" && b !== undefined && c === "dead" && d === undefined) {
        return sendJson(res, 200, await queues.dead(b, Number(new URLSearchParams(query).get("limit") ?? 50)))
      }
      if (method === "POST" && b !== undefined && c === "dead" && d !== undefined && e === "retry") {
        return (await queues.retry(b, d))
          ? sendJson(res, 202, { jobId: d, status: "retrying" })
          : sendError(res, 404, { _tag: "JobNotFound", message: `no failed job "${d}" in queue "${b}"` })
      }
    }
    sendError(res, 404, { _tag: "RouteNotFound", message: `no admin route ${method} ${path}` })
  }
  return (req: IncomingMessage, res: ServerResponse, path: string, query: string): void => {
    if (!authorized(req)) {
      sendError(
        res,
        401,
        { _tag: "Unauthorized", message: "the admin API needs Authorization: Bearer <token>" },
        { "www-authenticate": "Bearer" }
      )
      return
    }
    route(req, res, path, query).catch((error: unknown) => {
      if (!res.headersSent) {
        sendError(res, 500, { _tag: "AdminError", message: error instanceof Error ? error.message : String(error) })
      }
    })
  }
}
