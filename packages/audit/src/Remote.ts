/**
 * The live query path: the {@link AuditStoreShape} API as a small JSON-over-HTTP protocol, so that a process
 * which cannot open a store itself (the embedded store is open in one process only) reads through the
 * process that has it open. Two halves:
 *
 * - {@link handler}: `(request) => Promise<response>` over a store, independent of any server; mount it with
 *   {@link nodeListener} on a `node:http` server (the embedded store serves it on a unix socket next to its
 *   data directory; the runner can also mount it under its admin API, behind the admin token).
 * - {@link client}: an `AuditStoreShape` that calls it, over a unix socket or an HTTP(S) URL with a bearer token.
 *
 * Protocol (version {@link PROTOCOL}); paths are relative to where the handler is mounted, bodies are JSON:
 *
 * | request                                                                                   | answer                                      |
 * | ----------------------------------------------------------------------------------------- | ------------------------------------------- |
 * | `GET /`                                                                                   | `{ protocol: 1, store, write }`             |
 * | `GET /executions?flowId=&status=&since=&until=&errorText=&replayOf=&limit=` (ms, 1-10000) | `ExecutionRecord[]`, newest first           |
 * | `GET /executions/:id/trace`                                                               | `Trace`; 404 `ExecutionNotFound`            |
 * | `GET /executions/:id/stop`                                                                | `StopPoint`; 404 `ExecutionNotFound`        |
 * | `GET /flows/:flowId/:flowVersion`                                                         | the recorded `Ir.Flow`; 404 `FlowNotFound`  |
 * | `GET /count`                                                                              | `{ executions, events }`                    |
 * | `POST /entries` with `Entry[]` (only when the handler allows writes)                      | 204; 403 `WriteForbidden`                   |
 *
 * Errors are `{ _tag, message, ... }`: 400 `QueryInvalid` (with `parameter`) or `EntriesInvalid`, 404
 * `RouteNotFound`, 405 `MethodNotAllowed`, 413 `BodyTooLarge`, 500/503 `StoreError` (`operation`, `reason`,
 * `retryable`; 503 when retryable).
 *
 * @module Remote
 */
import { chmodSync, lstatSync, rmSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { Cause, Effect, Exit, Redacted, Schema } from "effect"
import { Entry, type ExecutionRecord, ExecutionStatus } from "./Record.ts"
import { type AuditStoreShape, type ExecutionFilter, StoreError } from "./Store.ts"

/** The protocol version; {@link client} refuses a server speaking another. */
export const PROTOCOL = 1

/** The largest `limit` a list request may ask for. */
export const MAX_LIMIT = 10_000

/** A request to the {@link handler}: `path` relative to the mount point, `body` already parsed JSON. */
export interface RemoteRequest {
  readonly method: string
  readonly path: string
  /** The query string (with or without `?`), or its parameters. */
  readonly query?: string | URLSearchParams
  readonly body?: unknown
}

/** What the {@link handler} answers: a status and a JSON body (`undefined`: no body). */
export interface RemoteResponse {
  readonly status: number
  readonly body: unknown
}

export interface HandlerOptions {
  /** Whether `POST /entries` writes (default false: the query API only). */
  readonly allowWrite?: boolean
}

const failure = (status: number, _tag: string, message: string, extra: Record<string, unknown> = {}) => ({
  status,
  body: { _tag, message, ...extra }
})

const storeFailure = (error: StoreError): RemoteResponse =>
  failure(error.retryable ? 503 : 500, "StoreError", error.message, {
    operation: error.operation,
    reason: error.reason,
    retryable: error.retryable
  })

const run = async <A>(effect: Effect.Effect<A, StoreError>, ok: (a: A) => RemoteResponse): Promise<RemoteResponse> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return ok(exit.value)
  const error = Cause.findError(exit.cause)
  if (error._tag === "Success") return storeFailure(error.success)
  const reason = String(Cause.squash(exit.cause))
  return failure(500, "StoreError", `audit store: ${reason}`, { operation: "remote", reason, retryable: false })
}

const STATUSES = new Set<string>(ExecutionStatus.literals)

/** Reads the list filter of a query string; a string naming the bad parameter when it is not one. */
const filterOf = (params: URLSearchParams): ExecutionFilter | { readonly invalid: string; readonly why: string } => {
  const filter: { -readonly [K in keyof ExecutionFilter]: ExecutionFilter[K] } = {}
  for (const [key, value] of params) {
    switch (key) {
      case "flowId":
      case "errorText":
      case "replayOf":
        filter[key] = value
        break
      case "status":
        if (!STATUSES.has(value)) return { invalid: key, why: `one of ${[...STATUSES].join(", ")}` }
        filter.status = value as ExecutionStatus
        break
      case "since":
      case "until": {
        const n = Number(value)
        if (value === "" || !Number.isFinite(n)) return { invalid: key, why: "epoch milliseconds" }
        filter[key] = n
        break
      }
      case "limit": {
        const n = Number(value)
        if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) return { invalid: key, why: `an integer 1-${MAX_LIMIT}` }
        filter.limit = n
        break
      }
      default:
        return { invalid: key, why: "one of flowId, status, since, until, errorText, replayOf, limit" }
    }
  }
  return filter
}

const decodeEntries = Schema.decodeUnknownExit(Schema.Array(Entry))

/**
 * The protocol over a store, as a function of a request. It never throws: store failures and bad requests
 * are answers.
 *
 * @example
 * ```ts
 * import { Remote } from "@jsonflow/audit"
 * declare const store: import("@jsonflow/audit").Store.AuditStoreShape
 * const handle = Remote.handler(store)
 * const answer = await handle({ method: "GET", path: "/executions", query: "status=failed&limit=20" })
 * answer.status // 200; answer.body: ExecutionRecord[]
 * ```
 */
export const handler =
  (store: AuditStoreShape, options: HandlerOptions = {}) =>
  async (request: RemoteRequest): Promise<RemoteResponse> => {
    let parts: Array<string>
    try {
      parts = request.path
        .split("/")
        .filter((p) => p !== "")
        .map(decodeURIComponent)
    } catch {
      return failure(400, "QueryInvalid", "the path is not valid percent-encoding", { parameter: "path" })
    }
    const method = request.method.toUpperCase()
    const [a, b, c, d] = parts
    const get = method === "GET" || method === "HEAD"
    const only = (allowed: string) =>
      failure(405, "MethodNotAllowed", `${method} ${request.path}: use ${allowed}`, { allowed })

    if (a === undefined) {
      if (!get) return only("GET")
      return { status: 200, body: { protocol: PROTOCOL, store: store.name, write: options.allowWrite === true } }
    }
    if (a === "executions" && b === undefined) {
      if (!get) return only("GET")
      const query = request.query ?? ""
      const filter = filterOf(typeof query === "string" ? new URLSearchParams(query) : query)
      if ("invalid" in filter) {
        return failure(400, "QueryInvalid", `query parameter "${filter.invalid}" must be ${filter.why}`, {
          parameter: filter.invalid
        })
      }
      return run(store.listExecutions(filter), (rows) => ({ status: 200, body: rows }))
    }
    if (a === "executions" && b !== undefined && (c === "trace" || c === "stop") && d === undefined) {
      if (!get) return only("GET")
      const notFound = () =>
        failure(404, "ExecutionNotFound", `no execution ${b} in the audit store`, { executionId: b })
      return c === "trace"
        ? run(store.trace(b), (t) => (t === undefined ? notFound() : { status: 200, body: t }))
        : run(store.whereStopped(b), (s) => (s === undefined ? notFound() : { status: 200, body: s }))
    }
    if (a === "flows" && b !== undefined && c !== undefined && d === undefined) {
      if (!get) return only("GET")
      return run(store.flow(b, c), (flow) =>
        flow === undefined
          ? failure(404, "FlowNotFound", `flow ${b} version ${c} was not recorded`, { flowId: b, flowVersion: c })
          : { status: 200, body: flow }
      )
    }
    if (a === "count" && b === undefined) {
      if (!get) return only("GET")
      return run(store.count(), (counts) => ({ status: 200, body: counts }))
    }
    if (a === "entries" && b === undefined) {
      if (method !== "POST") return only("POST")
      if (options.allowWrite !== true) return failure(403, "WriteForbidden", "this audit endpoint is read-only")
      const decoded = decodeEntries(request.body)
      if (Exit.isFailure(decoded)) {
        return failure(400, "EntriesInvalid", `the body must be an array of audit entries: ${decoded.cause}`)
      }
      return run(store.write(decoded.value), () => ({ status: 204, body: undefined }))
    }
    return failure(404, "RouteNotFound", `no audit route ${method} ${request.path}`)
  }

export interface ListenerOptions {
  /** A path prefix to strip (e.g. `/admin/audit` when mounted there); requests outside it get 404. */
  readonly prefix?: string
  /** Largest request body (default 64 MiB). */
  readonly bodyLimitBytes?: number
}

const sendJson = (res: http.ServerResponse, response: RemoteResponse) => {
  if (response.body === undefined) {
    res.writeHead(response.status).end()
    return
  }
  const text = JSON.stringify(response.body)
  res.writeHead(response.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text)
  })
  res.end(text)
}

/**
 * A `node:http` request listener over a {@link handler}. Authentication is the mount's business: the
 * embedded store serves it on a socket only its user can open; an HTTP mount must check a token first.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { Remote } from "@jsonflow/audit"
 * declare const store: import("@jsonflow/audit").Store.AuditStoreShape
 * const listen = Remote.nodeListener(Remote.handler(store), { prefix: "/admin/audit" })
 * createServer((req, res) => (authorized(req) ? listen(req, res) : res.writeHead(401).end())).listen(8081)
 * ```
 */
export const nodeListener = (
  handle: (request: RemoteRequest) => Promise<RemoteResponse>,
  options: ListenerOptions = {}
): ((req: http.IncomingMessage, res: http.ServerResponse) => void) => {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "")
  const limit = options.bodyLimitBytes ?? 64 * 1024 * 1024
  return (req, res) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const fullPath = q === -1 ? url : url.slice(0, q)
    if (prefix !== "" && fullPath !== prefix && !fullPath.startsWith(`${prefix}/`)) {
      sendJson(res, failure(404, "RouteNotFound", `no audit route under ${fullPath}`))
      return
    }
    const path = fullPath.slice(prefix.length) || "/"
    const query = q === -1 ? "" : url.slice(q + 1)
    const method = req.method ?? "GET"
    const answer = (body: unknown) =>
      handle({ method, path, query, body }).then(
        (response) => sendJson(res, response),
        (error: unknown) => sendJson(res, failure(500, "StoreError", String(error)))
      )
    if (method !== "POST" && method !== "PUT") {
      req.resume()
      void answer(undefined)
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        sendJson(res, failure(413, "BodyTooLarge", `the body exceeds ${limit} bytes`))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (size > limit) return
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch (error) {
        sendJson(res, failure(400, "EntriesInvalid", `the body is not JSON: ${(error as Error).message}`))
        return
      }
      void answer(body)
    })
  }
}

/** Where the client finds a server: a unix socket (no token: its file mode admits only its user) or a URL. */
export type ClientOptions = (
  | { readonly socketPath: string; readonly url?: never }
  | {
      /** The mount point, e.g. `http://127.0.0.1:8081/admin/audit`. */
      readonly url: string
      /** Sent as `Authorization: Bearer <token>`. */
      readonly token?: Redacted.Redacted<string> | string
      readonly socketPath?: never
    }
) & {
  /** Per request (default 30 s). */
  readonly timeoutMs?: number
  /** The store name the client reports (default `remote`). */
  readonly name?: string
}

interface Answer {
  readonly status: number
  readonly body: unknown
}

const transport = (options: ClientOptions) => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const base = options.socketPath === undefined ? new URL(options.url.replace(/\/*$/, "/")) : undefined
  const token =
    options.socketPath === undefined && options.token !== undefined
      ? typeof options.token === "string"
        ? options.token
        : Redacted.value(options.token)
      : undefined
  const where = options.socketPath === undefined ? base!.origin + base!.pathname : `unix socket ${options.socketPath}`
  return {
    where,
    request: (method: string, path: string, body?: unknown): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body)
        const headers: Record<string, string | number> = { accept: "application/json" }
        if (payload !== undefined) {
          headers["content-type"] = "application/json"
          headers["content-length"] = Buffer.byteLength(payload)
        }
        if (token !== undefined) headers.authorization = `Bearer ${token}`
        const relative = path.replace(/^\//, "")
        const target = base === undefined ? undefined : new URL(relative, base)
        const requestOptions: http.RequestOptions = {
          method,
          headers,
          // A fresh connection per request: nothing keeps a CLI alive afterwards.
          agent: false,
          timeout: timeoutMs,
          ...(target === undefined
            ? { socketPath: options.socketPath!, path: `/${relative}` }
            : {
                protocol: target.protocol,
                hostname: target.hostname,
                port: target.port,
                path: target.pathname + target.search
              })
        }
        const send = target?.protocol === "https:" ? https.request : http.request
        const req = send(requestOptions, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("error", reject)
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8")
            let parsed: unknown
            try {
              parsed = text === "" ? undefined : JSON.parse(text)
            } catch {
              parsed = { message: text.slice(0, 200) }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed })
          })
        })
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
        req.on("error", reject)
        req.end(payload)
      })
  }
}

type Transport = ReturnType<typeof transport>

const call = <A>(
  t: Transport,
  operation: string,
  method: string,
  path: string,
  decode: (answer: Answer) => A | StoreError,
  body?: unknown
): Effect.Effect<A, StoreError> =>
  Effect.flatMap(
    Effect.tryPromise({
      try: () => t.request(method, path, body),
      catch: (error) =>
        new StoreError({
          operation,
          reason: `${t.where} does not answer: ${error instanceof Error ? error.message : String(error)}`,
          retryable: true
        })
    }),
    (answer) => {
      const result = decode(answer)
      return result instanceof StoreError ? Effect.fail(result) : Effect.succeed(result)
    }
  )

const errorOf = (operation: string, answer: Answer): StoreError => {
  const body = (answer.body ?? {}) as {
    readonly _tag?: unknown
    readonly message?: unknown
    readonly reason?: unknown
    readonly retryable?: unknown
  }
  if (body._tag === "StoreError" && typeof body.reason === "string") {
    return new StoreError({ operation, reason: body.reason, retryable: body.retryable === true })
  }
  const message = typeof body.message === "string" ? body.message : `HTTP ${answer.status}`
  return new StoreError({
    operation,
    reason: `${answer.status} ${typeof body._tag === "string" ? `${body._tag}: ` : ""}${message}`,
    retryable: answer.status >= 502 && answer.status <= 504
  })
}

// 200 is the value; a 404 naming a missing execution or flow is `undefined` when `missing` allows it.
const expect =
  <A>(operation: string, missing = false) =>
  (answer: Answer): A | StoreError => {
    if (answer.status === 200) return answer.body as A
    if (answer.status === 204) return undefined as A
    const tag = (answer.body as { readonly _tag?: unknown } | undefined)?._tag
    if (missing && answer.status === 404 && (tag === "ExecutionNotFound" || tag === "FlowNotFound")) {
      return undefined as A
    }
    return errorOf(operation, answer)
  }

const id = encodeURIComponent

/**
 * An {@link AuditStoreShape} over the protocol. `prune` is refused (retention belongs to the process that
 * owns the store).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Remote } from "@jsonflow/audit"
 * const store = Remote.client({ url: "http://127.0.0.1:8081/admin/audit", token: process.env.ADMIN_TOKEN! })
 * const failed = await Effect.runPromise(store.listExecutions({ status: "failed", limit: 20 }))
 * ```
 */
export const client = (options: ClientOptions): AuditStoreShape => {
  const t = transport(options)
  const list = (filter: ExecutionFilter = {}) => {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) params.set(key, String(value))
    const query = params.size === 0 ? "" : `?${params}`
    return call(t, "listExecutions", "GET", `executions${query}`, (answer) => {
      const rows = expect<ReadonlyArray<ExecutionRecord>>("listExecutions")(answer)
      return rows instanceof StoreError || Array.isArray(rows)
        ? rows
        : new StoreError({ operation: "listExecutions", reason: `${t.where} answered no list`, retryable: false })
    })
  }
  return {
    name: options.name ?? "remote",
    write: (entries) =>
      entries.length === 0
        ? Effect.void
        : call(t, "write", "POST", "entries", expect<void>("write"), entries as ReadonlyArray<unknown>),
    listExecutions: list,
    trace: (executionId) => call(t, "trace", "GET", `executions/${id(executionId)}/trace`, expect("trace", true)),
    whereStopped: (executionId) =>
      call(t, "whereStopped", "GET", `executions/${id(executionId)}/stop`, expect("whereStopped", true)),
    flow: (flowId, flowVersion) =>
      call(t, "flow", "GET", `flows/${id(flowId)}/${id(flowVersion)}`, expect("flow", true)),
    prune: () =>
      Effect.fail(
        new StoreError({
          operation: "prune",
          reason: `retention runs in the process that owns the store, not through ${t.where}`,
          retryable: false
        })
      ),
    count: () => call(t, "count", "GET", "count", expect("count"))
  }
}

/** What `GET /` answers. */
export interface Hello {
  readonly protocol: number
  readonly store: string
  readonly write: boolean
}

/**
 * Asks a server who it is; fails unless it speaks {@link PROTOCOL}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Remote } from "@jsonflow/audit"
 * const hello = await Effect.runPromise(Remote.hello({ socketPath: "/srv/app/.jsonflow/audit.sock" }))
 * ```
 */
export const hello = (options: ClientOptions): Effect.Effect<Hello, StoreError> => {
  const t = transport(options)
  return call(t, "hello", "GET", "", (answer) => {
    const body = expect<Hello>("hello")(answer)
    if (body instanceof StoreError) return body
    return body?.protocol === PROTOCOL
      ? body
      : new StoreError({
          operation: "hello",
          reason: `${t.where} speaks audit protocol ${String(body?.protocol)}, not ${PROTOCOL}`,
          retryable: false
        })
  })
}

/** A server on a unix socket; `close` stops it and removes the socket file. */
export interface SocketServer {
  readonly socketPath: string
  readonly close: () => Promise<void>
}

/**
 * Serves the protocol on a unix socket, mode 0600 (only this user may connect). A socket file left by a
 * dead process is replaced; the server does not keep the process alive.
 *
 * @example
 * ```ts
 * import { Remote } from "@jsonflow/audit"
 * declare const store: import("@jsonflow/audit").Store.AuditStoreShape
 * const server = await Remote.serveSocket(Remote.handler(store), "/srv/app/.jsonflow/audit.sock")
 * // ... later: await server.close()
 * ```
 */
export const serveSocket = (
  handle: (request: RemoteRequest) => Promise<RemoteResponse>,
  socketPath: string
): Promise<SocketServer> =>
  new Promise((resolve, reject) => {
    try {
      if (lstatSync(socketPath, { throwIfNoEntry: false })?.isSocket()) rmSync(socketPath, { force: true })
    } catch (error) {
      reject(error)
      return
    }
    const server = http.createServer(nodeListener(handle))
    server.once("error", reject)
    server.listen({ path: socketPath, readableAll: false, writableAll: false }, () => {
      server.off("error", reject)
      try {
        chmodSync(socketPath, 0o600)
      } catch (error) {
        server.close()
        reject(error)
        return
      }
      server.unref()
      resolve({
        socketPath,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }).finally(() => rmSync(socketPath, { force: true }))
      })
    })
  })
