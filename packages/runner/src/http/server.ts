/**
 * The HTTP front of the runner on plain `node:http`: operations routes (`/health`, `/ready`, `/metrics`,
 * `/admin/...`) and one route per HTTP-triggered flow under the configured prefix. A request is routed,
 * rate-limited (per client, per flow), admitted by the flow's concurrency gate (or shed with 429), its body
 * read within limits, its input checked against the flow's input schema (400 with the problem's path),
 * then executed inline, or enqueued (202) for flows configured so, and answered with the flow's reply.
 *
 * Plain `node:http` with a small router rather than an HTTP framework: the runner's overhead per request
 * is what the benchmark measures against raw `node:http`, and the handler mounts into any existing server.
 *
 * @module server
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { HttpRequest } from "@jsonflow/json-dsl"
import type * as Config from "../Config.ts"
import { IdempotencyKeyInvalid } from "../idempotency/IdempotencyError.ts"
import type { IdempotencyStoreShape } from "../idempotency/IdempotencyStore.ts"
import type { Executor } from "../internal/executor.ts"
import type { FlowEntry, FlowTable } from "../internal/flowTable.ts"
import type { ClientIp } from "../ops/clientIp.ts"
import * as Concurrency from "../ops/concurrency.ts"
import type { Logger } from "../ops/logger.ts"
import type { RunnerMetrics } from "../ops/metrics.ts"
import type { Limiter } from "../ops/rateLimit.ts"
import { readBody } from "./body.ts"
import * as Idempotent from "./idempotent.ts"
import {
  failureOf,
  type Rendered,
  renderJson,
  renderOutcome,
  sendError,
  sendJson,
  sendRendered,
  sendReply
} from "./reply.ts"

/** What the handler needs from the runner. */
export interface HttpDeps {
  readonly config: Config.Resolved
  readonly table: () => FlowTable
  readonly executor: Executor
  readonly metrics: RunnerMetrics
  readonly logger: Logger
  readonly clientIp: ClientIp
  readonly clientLimiter: Limiter
  readonly flowLimiter: Limiter
  readonly gate: (entry: FlowEntry) => Concurrency.Gate
  readonly isReady: () => boolean
  readonly isDraining: () => boolean
  readonly admin: ((req: IncomingMessage, res: ServerResponse, path: string, query: string) => void) | undefined
  /** Enqueues under `executionId` (a fresh one when absent); resolves to the execution id of the job. */
  readonly enqueue: (entry: FlowEntry, input: unknown, trigger: unknown, executionId?: string) => Promise<string>
  /** The key store of idempotent routes and its defaults; without it `idempotency` is not honoured. */
  readonly idempotency?: { readonly store: IdempotencyStoreShape; readonly config: Config.Resolved["idempotency"] }
}

/** The request a flow sees as `$trigger` (the shape `@jsonflow/json-dsl`'s `HttpRequest` describes). */
export interface HttpTrigger {
  readonly method: string
  readonly path: string
  readonly params: Readonly<Record<string, string>>
  readonly query: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  readonly clientIp: string
}

const queryOf = (text: string): Record<string, string | Array<string>> => {
  const query: Record<string, string | Array<string>> = {}
  if (text === "") return query
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = query[key]
    query[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value]
  }
  return query
}

// Node already lower-cases header names; only `set-cookie` arrives as an array. Copy only then.
const headersOf = (req: IncomingMessage): Readonly<Record<string, string>> => {
  const raw = req.headers
  if (raw["set-cookie"] === undefined) return raw as Record<string, string>
  return { ...raw, "set-cookie": raw["set-cookie"].join(", ") } as Record<string, string>
}

/** A `(req, res, next?)` handler, usable as connect/Express middleware: unmatched requests go to `next`. */
export type Handler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void

/**
 * Makes the request handler.
 *
 * @example
 * ```ts
 * const handler = makeHandler(deps)
 * http.createServer((req, res) => handler(req, res)).listen(8080)
 * ```
 */
export const makeHandler = (deps: HttpDeps): Handler => {
  const { config, metrics } = deps
  const prefix = config.server.prefix
  const perClient = config.limits.perClient
  const count = (flow: string, method: string, status: number) =>
    metrics.httpRequests.inc({ flow, method, status: String(status) })

  const handleFlow = async (
    req: IncomingMessage,
    res: ServerResponse,
    entry: FlowEntry,
    params: Readonly<Record<string, string>>,
    path: string,
    queryText: string
  ) => {
    const method = req.method ?? "GET"
    const ip = deps.clientIp(req.socket.remoteAddress, req.headers["x-forwarded-for"])
    const shed = (reason: "rate" | "client-rate" | "concurrency", retryAfter: number) => {
      metrics.shed.inc({ flow: entry.id, reason })
      count(entry.id, method, 429)
      sendError(
        res,
        429,
        {
          _tag: "Shed",
          message: `flow "${entry.id}" is over its ${reason} limit; retry later`,
          reason,
          flowId: entry.id
        },
        { "retry-after": String(Math.max(1, Math.ceil(retryAfter))) }
      )
    }
    if (deps.isDraining()) {
      count(entry.id, method, 503)
      sendError(
        res,
        503,
        { _tag: "Shed", message: "the runner is shutting down", reason: "draining", flowId: entry.id },
        { connection: "close", "retry-after": "1" }
      )
      return
    }
    if (perClient !== undefined) {
      const wait = deps.clientLimiter.take(ip, perClient)
      if (wait > 0) return shed("client-rate", wait)
    }
    if (entry.limits.rate !== undefined) {
      const wait = deps.flowLimiter.take(entry.id, entry.limits.rate)
      if (wait > 0) return shed("rate", wait)
    }
    // Admission before reading the body: a shed request costs no buffering.
    const enqueue = entry.queue !== undefined && entry.ir.trigger.type === "http"
    const gate = enqueue ? undefined : deps.gate(entry)
    if (gate !== undefined) {
      const slot = gate.acquire()
      if (slot === false) return shed("concurrency", 1)
      if (slot !== true) await slot
    }
    try {
      const body = await readBody(req, config.server.bodyLimitBytes, config.server.bodyTimeoutMs)
      if (body._tag !== "Body") {
        const [status, error] =
          body._tag === "TooLarge"
            ? [413, { _tag: "BodyTooLarge", message: `the body is larger than ${body.limit} bytes` }]
            : body._tag === "Timeout"
              ? [408, { _tag: "BodyTimeout", message: `the body did not arrive within ${body.timeoutMs} ms` }]
              : body._tag === "Invalid"
                ? [400, { _tag: "BodyInvalid", message: body.message, path: "" }]
                : body._tag === "Unsupported"
                  ? [415, { _tag: "UnsupportedMediaType", message: `cannot decode a ${body.contentType} body` }]
                  : [400, { _tag: "Aborted", message: "the request was aborted" }]
        count(entry.id, method, status)
        // An unread body makes the connection unusable for the next request.
        sendError(res, status, { ...error, flowId: entry.id }, { connection: "close" })
        return
      }
      const query = queryOf(queryText)
      const trigger: HttpTrigger = {
        method,
        path,
        params,
        query,
        headers: headersOf(req),
        body: body.value,
        clientIp: ip
      }
      let input: unknown = HttpRequest.inputOf(body, trigger)
      if (entry.checkInput !== undefined) {
        const checked = entry.checkInput(input)
        if (checked._tag === "Invalid") {
          count(entry.id, method, 400)
          const first = checked.issues[0]
          sendError(res, 400, {
            _tag: "InputInvalid",
            message: checked.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; "),
            path: first?.path ?? "",
            flowId: entry.id
          })
          return
        }
        input = checked.value
      }
      const enqueued = async (executionId: string | undefined): Promise<Rendered> => {
        try {
          const id = await deps.enqueue(entry, input, trigger, executionId)
          return renderJson(202, { executionId: id, flowId: entry.id, status: "queued" }, { "x-execution-id": id })
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          return renderJson(503, { error: { _tag: "QueueUnavailable", message, flowId: entry.id } })
        }
      }
      const idempotency = deps.idempotency && Idempotent.settingsOf(entry, deps.idempotency.config)
      if (deps.idempotency && idempotency) {
        const key = Idempotent.keyOf(req, idempotency)
        if (key._tag === "Bad") {
          const error = new IdempotencyKeyInvalid({
            flowId: entry.id,
            header: idempotency.header,
            problem: key.problem
          })
          count(entry.id, method, 400)
          sendError(res, 400, { ...error, message: error.message })
          return
        }
        if (key._tag === "Key") {
          await Idempotent.serve({
            res,
            entry,
            settings: idempotency,
            key: key.key,
            fingerprint: Idempotent.fingerprintOf(method, path, query, body.present ? body.value : undefined),
            store: deps.idempotency.store,
            maxReplyBytes: deps.idempotency.config.maxReplyBytes,
            logger: deps.logger,
            count: (status) => count(entry.id, method, status),
            execute: enqueue
              ? enqueued
              : async (executionId) => {
                  const outcome = await deps.executor.execute(entry, input, {
                    triggerType: "http",
                    trigger,
                    timeoutMs: entry.limits.timeoutMs,
                    executionId
                  })
                  if (deps.isDraining()) res.setHeader("connection", "close")
                  return renderOutcome(outcome, entry.id)
                }
          })
          return
        }
      }
      if (enqueue) {
        const rendered = await enqueued(undefined)
        count(entry.id, method, rendered.status)
        sendRendered(res, rendered)
        return
      }
      const outcome = await deps.executor.execute(entry, input, {
        triggerType: "http",
        trigger,
        timeoutMs: entry.limits.timeoutMs
      })
      if (deps.isDraining()) res.setHeader("connection", "close")
      res.setHeader("x-execution-id", outcome.executionId)
      if (outcome._tag === "Succeeded") {
        const reply = outcome.result.reply
        try {
          if (reply !== undefined) sendReply(res, reply)
          else if (outcome.result.output === undefined) sendJson(res, 204, undefined)
          else sendJson(res, 200, outcome.result.output)
        } catch (error) {
          // An invalid header name or value in the reply: the flow's bug, reported as such.
          if (!res.headersSent) {
            res.removeHeader("content-type")
            sendError(res, 500, {
              _tag: "ReplyInvalid",
              message: error instanceof Error ? error.message : String(error),
              flowId: entry.id,
              executionId: outcome.executionId
            })
          } else res.destroy()
        }
        count(entry.id, method, res.statusCode)
        return
      }
      const failure = failureOf(outcome, entry.id)
      count(entry.id, method, failure.status)
      sendError(res, failure.status, failure.error)
    } finally {
      gate?.release()
    }
  }

  return (req, res, next) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const queryText = q === -1 ? "" : url.slice(q + 1)
    const method = req.method ?? "GET"
    if (method === "GET" || method === "HEAD") {
      if (path === "/health") return sendJson(res, 200, { status: "ok" })
      if (path === "/ready") {
        const ready = deps.isReady() && !deps.isDraining()
        return sendJson(res, ready ? 200 : 503, {
          status: ready ? "ready" : deps.isDraining() ? "draining" : "starting",
          flows: deps.table().flows.size
        })
      }
      if (path === "/metrics") {
        void metrics.registry.render().then((text) => {
          res.setHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
          res.end(text)
        })
        return
      }
    }
    if (deps.admin !== undefined && (path === "/admin" || path.startsWith("/admin/"))) {
      deps.admin(req, res, path, queryText)
      return
    }
    let routePath = path
    if (prefix !== "") {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) {
        if (next) return next()
        count("", method, 404)
        return sendError(res, 404, { _tag: "RouteNotFound", message: `no flow serves ${method} ${path}` })
      }
      routePath = path.slice(prefix.length) || "/"
    }
    const found = deps.table().router.lookup(method, routePath)
    if (found._tag === "Match") {
      handleFlow(req, res, found.match.target, found.match.params, routePath, queryText).catch((error: unknown) => {
        deps.logger.log("error", "request handler failed", { error: String(error), path })
        if (!res.headersSent) sendError(res, 500, { _tag: "InternalError", message: "the runner failed unexpectedly" })
        else res.destroy()
      })
      return
    }
    if (next) return next()
    if (found._tag === "MethodNotAllowed") {
      count("", method, 405)
      return sendError(
        res,
        405,
        { _tag: "MethodNotAllowed", message: `${method} is not allowed on ${path}`, allow: found.allow },
        { allow: found.allow.join(", ") }
      )
    }
    count("", method, 404)
    sendError(res, 404, { _tag: "RouteNotFound", message: `no flow serves ${method} ${path}` })
  }
}

/** Creates a gate per flow id, resized when a reload changes its limits. */
export const gates = () => {
  const byFlow = new Map<string, Concurrency.Gate>()
  return (entry: FlowEntry): Concurrency.Gate => {
    let gate = byFlow.get(entry.id)
    if (gate === undefined) {
      gate = Concurrency.make(entry.limits.maxConcurrent, entry.limits.maxQueued)
      byFlow.set(entry.id, gate)
    } else gate.resize(entry.limits.maxConcurrent, entry.limits.maxQueued)
    return gate
  }
}
