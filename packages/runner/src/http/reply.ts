/**
 * Writing responses: a flow's reply, its output when it set none, and the typed error bodies of every
 * failure, `{ "error": { "_tag", "message", ... } }`, never with a stack trace. The status table:
 * 400 bad input (with the problem's JSON Pointer), 404 no route, 405 wrong method, 408 body too slow,
 * 413 body too large, 415 unsupported body type, 429 shed (with `Retry-After`), 500 flow error,
 * 503 draining, 504 time limit.
 *
 * @module reply
 */
import { type ServerResponse, validateHeaderName, validateHeaderValue } from "node:http"
import type { Node } from "@jsonflow/core"
import type { Outcome } from "../internal/executor.ts"

/** A typed error body. */
export interface ErrorBody {
  readonly _tag: string
  readonly message: string
  readonly [key: string]: unknown
}

const JSON_TYPE = "application/json; charset=utf-8"

/**
 * Sends a JSON value (or an empty body when `body` is undefined).
 *
 * @example
 * ```ts
 * sendJson(res, 200, { result: 42 })
 * ```
 */
export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>
): void => {
  if (res.headersSent) {
    res.end()
    return
  }
  const text = body === undefined ? "" : JSON.stringify(body)
  res.statusCode = status
  if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  if (text !== "") res.setHeader("content-type", JSON_TYPE)
  res.setHeader("content-length", Buffer.byteLength(text))
  res.end(text)
}

/**
 * Sends a typed error.
 *
 * @example
 * ```ts
 * sendError(res, 404, { _tag: "RouteNotFound", message: "no flow serves GET /x" })
 * ```
 */
export const sendError = (
  res: ServerResponse,
  status: number,
  error: ErrorBody,
  headers?: Readonly<Record<string, string>>
): void => sendJson(res, status, { error }, headers)

const hasHeader = (headers: Readonly<Record<string, string>>, name: string) =>
  Object.keys(headers).some((k) => k.toLowerCase() === name)

/**
 * Writes a respond node's reply: strings and bytes as they are (text/plain unless the reply sets a
 * content type), anything else as JSON.
 */
export const sendReply = (res: ServerResponse, reply: Node.Reply): void => {
  const body = reply.body
  res.statusCode = reply.status
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value)
  if (body === undefined || body === null || reply.status === 204 || reply.status === 304) {
    res.setHeader("content-length", 0)
    res.end()
    return
  }
  if (typeof body === "string" || body instanceof Uint8Array) {
    if (!hasHeader(reply.headers, "content-type")) {
      res.setHeader("content-type", typeof body === "string" ? "text/plain; charset=utf-8" : "application/octet-stream")
    }
    res.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.byteLength)
    res.end(body)
    return
  }
  const text = JSON.stringify(body)
  if (!hasHeader(reply.headers, "content-type")) res.setHeader("content-type", JSON_TYPE)
  res.setHeader("content-length", Buffer.byteLength(text))
  res.end(text)
}

/** The status and typed body of a failed outcome. */
export const failureOf = (
  outcome: Exclude<Outcome, { readonly _tag: "Succeeded" }>,
  flowId: string
): { readonly status: number; readonly error: ErrorBody } => {
  const executionId = outcome.executionId
  switch (outcome._tag) {
    case "TimedOut":
      return {
        status: 504,
        error: {
          _tag: "FlowTimeout",
          message: `flow "${flowId}" ran past its ${outcome.timeoutMs} ms time limit`,
          flowId,
          executionId
        }
      }
    case "Interrupted":
      return {
        status: 503,
        error: { _tag: "Interrupted", message: "the execution was interrupted (shutdown)", flowId, executionId }
      }
    case "Defect":
      // A defect is a bug; its text may reveal internals, so the client gets only the execution id to look up.
      return {
        status: 500,
        error: { _tag: "InternalError", message: "the runner failed unexpectedly", flowId, executionId }
      }
    case "Failed": {
      const error = outcome.error
      switch (error._tag) {
        case "InputInvalid":
          return error.nodeId === "$input"
            ? {
                status: 400,
                error: { _tag: "InputInvalid", message: error.problem, path: error.path, flowId, executionId }
              }
            : {
                status: 500,
                error: {
                  _tag: "InputInvalid",
                  message: error.message,
                  nodeId: error.nodeId,
                  path: error.path,
                  flowId,
                  executionId
                }
              }
        case "FlowTimeout":
          return { status: 504, error: { _tag: error._tag, message: error.message, flowId, executionId } }
        case "MaxStepsExceeded":
          return {
            status: 500,
            error: { _tag: error._tag, message: error.message, nodeId: error.nodeId, flowId, executionId }
          }
        case "NodeFailed": {
          // A crash (a thrown exception, not a typed failure) may carry internals: the client gets its kind only.
          const defect = error.error._tag === "NodeDefect"
          const causeMessage = defect ? "the node crashed (see the execution's audit trace)" : error.error.message
          return {
            status: 500,
            error: {
              _tag: "NodeFailed",
              message: `node "${error.nodeId}" (${error.nodeType}) failed: ${error.error._tag}: ${causeMessage}`,
              nodeId: error.nodeId,
              nodeType: error.nodeType,
              cause: { _tag: error.error._tag, message: causeMessage, retryable: error.error.retryable },
              flowId,
              executionId
            }
          }
        }
      }
    }
  }
}

/** A response as data: what idempotent routes send, store and replay. */
export interface Rendered {
  readonly status: number
  /** Without `content-length` (derived from the body when sent). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

const EMPTY = new Uint8Array(0)

/**
 * A JSON response (or an empty one when `body` is undefined) as data.
 *
 * @example
 * ```ts
 * renderJson(202, { executionId: "e1" }).headers["content-type"] // "application/json; charset=utf-8"
 * ```
 */
export const renderJson = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Rendered =>
  body === undefined
    ? { status, headers, body: EMPTY }
    : { status, headers: { ...headers, "content-type": JSON_TYPE }, body: Buffer.from(JSON.stringify(body)) }

/**
 * A respond node's reply as data, by the rules of {@link sendReply}; throws on a header name or value
 * Node would refuse (the flow's bug, a 500 `ReplyInvalid`).
 *
 * @example
 * ```ts
 * renderReply({ status: 201, headers: {}, body: { id: 7 } }).status // 201
 * ```
 */
export const renderReply = (reply: Node.Reply): Rendered => {
  for (const [name, value] of Object.entries(reply.headers)) {
    validateHeaderName(name)
    validateHeaderValue(name, value)
  }
  const body = reply.body
  const headers = { ...reply.headers }
  if (body === undefined || body === null || reply.status === 204 || reply.status === 304)
    return { status: reply.status, headers, body: EMPTY }
  if (typeof body === "string" || body instanceof Uint8Array) {
    if (!hasHeader(headers, "content-type"))
      headers["content-type"] = typeof body === "string" ? "text/plain; charset=utf-8" : "application/octet-stream"
    return { status: reply.status, headers, body: typeof body === "string" ? Buffer.from(body) : body }
  }
  if (!hasHeader(headers, "content-type")) headers["content-type"] = JSON_TYPE
  return { status: reply.status, headers, body: Buffer.from(JSON.stringify(body)) }
}

/**
 * An execution's outcome as the HTTP trigger answers it: the flow's reply, else its output (204 when
 * none), else the typed failure; always with `x-execution-id`.
 *
 * @example
 * ```ts
 * renderOutcome(outcome, "orders").status // 200, 4xx from a respond node, 500, 504, ...
 * ```
 */
export const renderOutcome = (outcome: Outcome, flowId: string): Rendered => {
  const id = { "x-execution-id": outcome.executionId }
  if (outcome._tag !== "Succeeded") {
    const failure = failureOf(outcome, flowId)
    return renderJson(failure.status, { error: failure.error }, id)
  }
  const result = outcome.result
  try {
    if (result.reply !== undefined) {
      const rendered = renderReply(result.reply)
      return { ...rendered, headers: { ...rendered.headers, ...id } }
    }
  } catch (error) {
    return renderJson(
      500,
      {
        error: {
          _tag: "ReplyInvalid",
          message: error instanceof Error ? error.message : String(error),
          flowId,
          executionId: outcome.executionId
        }
      },
      id
    )
  }
  return result.output === undefined ? renderJson(204, undefined, id) : renderJson(200, result.output, id)
}

/**
 * Sends a rendered response, with `extra` headers over its own.
 *
 * @example
 * ```ts
 * sendRendered(res, stored, { "idempotent-replayed": "true" })
 * ```
 */
export const sendRendered = (
  res: ServerResponse,
  rendered: Rendered,
  extra: Readonly<Record<string, string>> = {}
): void => {
  if (res.headersSent) {
    res.end()
    return
  }
  res.statusCode = rendered.status
  for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value)
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value)
  res.setHeader("content-length", rendered.body.byteLength)
  res.end(rendered.body)
}
