/**
 * Writing responses: a flow's reply, its output when it set none, and the typed error bodies of every
 * failure, `{ "error": { "_tag", "message", ... } }`, never with a stack trace. The status table:
 * 400 bad input (with the problem's JSON Pointer), 404 no route, 405 wrong method, 408 body too slow,
 * 413 body too large, 415 unsupported body type, 429 shed (with `Retry-After`), 500 flow error,
 * 503 draining, 504 time limit.
 *
 * @module reply
 */
import type { ServerResponse } from "node:http"
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
