/**
 * One HTTP exchange on undici's low-level `dispatch` API: the response body is collected straight from the
 * parser into a buffer, capped at `maxBytes`, and an abort signal stops the request on its connection.
 * This skips the body stream, async-resource and listener bookkeeping of `request()` that a connector which
 * always reads the whole body does not need, which keeps the node's cost close to a bare undici call.
 *
 * @module Dispatch
 */
import type { IncomingHttpHeaders } from "node:http"
import type { Dispatcher } from "undici"
import { BodyTooLarge } from "./Body.ts"

/** A complete response: status, parsed headers and the whole body. */
export interface Buffered {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly bytes: Buffer
}

const EMPTY = Buffer.alloc(0)

/**
 * Sends one request and resolves with the whole response; rejects with the transport error, with
 * {@link BodyTooLarge} (the connection is dropped, not drained), or with the signal's reason once aborted.
 *
 * @example
 * ```ts
 * const { status, bytes } = await dispatchBuffered(agent, { origin, path: "/", method: "GET" }, signal, 1_048_576)
 * ```
 */
export const dispatchBuffered = (
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal,
  maxBytes: number
): Promise<Buffered> =>
  new Promise<Buffered>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined
    let status = 0
    let headers: IncomingHttpHeaders = {}
    let chunks: Array<Buffer> = []
    let size = 0
    let settled = false
    const onAbort = () => {
      // Before the request reached a connection there is nothing to stop yet: undici aborts it at start.
      if (controller === undefined) fail(signal.reason)
      else controller.abort(signal.reason)
    }
    const fail = (error: unknown) => {
      if (settled) return
      settled = true
      signal.removeEventListener("abort", onAbort)
      reject(error)
    }
    if (signal.aborted) return reject(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    dispatcher.dispatch(options, {
      onRequestStart(started) {
        controller = started
        if (signal.aborted) started.abort(signal.reason)
      },
      onResponseStart(started, statusCode, responseHeaders) {
        if (statusCode < 200) return // 1xx informational: the final response follows
        status = statusCode
        headers = responseHeaders
        if (Number(responseHeaders["content-length"]) > maxBytes) started.abort(new BodyTooLarge(maxBytes))
      },
      onResponseData(started, chunk) {
        size += chunk.length
        if (size > maxBytes) {
          chunks = []
          started.abort(new BodyTooLarge(maxBytes))
          return
        }
        chunks.push(chunk)
      },
      onResponseEnd() {
        if (settled) return
        settled = true
        signal.removeEventListener("abort", onAbort)
        resolve({
          status,
          headers,
          bytes: chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
        })
      },
      onResponseError(_controller, error) {
        fail(error)
      }
    })
  })
