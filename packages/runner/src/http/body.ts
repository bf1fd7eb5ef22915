/**
 * Reading a request body: refused early when `Content-Length` is over the limit, cut off (413) when a
 * chunked body grows past it, 408 when it does not arrive in time, then decoded by content type: JSON,
 * form fields, text; other types are refused (415) rather than guessed at.
 *
 * @module body
 */
import type { IncomingMessage } from "node:http"

/** The decoded body, or why there is none. */
export type BodyResult =
  | { readonly _tag: "Body"; readonly value: unknown; readonly present: boolean }
  | { readonly _tag: "TooLarge"; readonly limit: number }
  | { readonly _tag: "Timeout"; readonly timeoutMs: number }
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "Unsupported"; readonly contentType: string }
  | { readonly _tag: "Aborted" }

const NONE: BodyResult = { _tag: "Body", value: undefined, present: false }

// `curl -d '{"a":1}'` sends JSON labelled as a form, `fetch(url, { body: "{...}" })` as text/plain: a body of
// those types that is a JSON object or array is taken as JSON.
const looksLikeJson = (bytes: Buffer) => {
  for (const byte of bytes) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue
    return byte === 0x7b || byte === 0x5b // { or [
  }
  return false
}

const decode = (bytes: Buffer, contentType: string): BodyResult => {
  if (bytes.length === 0) return NONE
  const type = contentType.split(";")[0]!.trim().toLowerCase()
  if ((type === "application/x-www-form-urlencoded" || type === "text/plain") && looksLikeJson(bytes)) {
    try {
      return { _tag: "Body", value: JSON.parse(bytes.toString("utf8")), present: true }
    } catch {
      // Not JSON after all: decode by the declared type.
    }
  }
  if (type === "" || type === "application/json" || type.endsWith("+json")) {
    try {
      return { _tag: "Body", value: JSON.parse(bytes.toString("utf8")), present: true }
    } catch (error) {
      return { _tag: "Invalid", message: `the body is not valid JSON: ${(error as Error).message}` }
    }
  }
  if (type === "application/x-www-form-urlencoded") {
    const form: Record<string, string | Array<string>> = {}
    for (const [key, value] of new URLSearchParams(bytes.toString("utf8"))) {
      const existing = form[key]
      form[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value]
    }
    return { _tag: "Body", value: form, present: true }
  }
  if (type.startsWith("text/") || type === "application/xml") {
    return { _tag: "Body", value: bytes.toString("utf8"), present: true }
  }
  return { _tag: "Unsupported", contentType: type }
}

// Body deadlines are checked by one coarse sweeper instead of a timer per request: a read costs a Set
// insertion, and a stalled one is cut off within about a tenth of its deadline.
const pending = new Set<{ readonly deadline: number; readonly expire: () => void }>()
let sweeper: ReturnType<typeof setInterval> | undefined
const watch = (timeoutMs: number, expire: () => void) => {
  const entry = { deadline: performance.now() + timeoutMs, expire }
  pending.add(entry)
  if (sweeper === undefined) {
    sweeper = setInterval(
      () => {
        const now = performance.now()
        for (const e of pending) if (e.deadline <= now) e.expire()
        if (pending.size === 0) {
          clearInterval(sweeper)
          sweeper = undefined
        }
      },
      Math.max(10, Math.min(250, timeoutMs / 10))
    )
    sweeper.unref()
  }
  return () => pending.delete(entry)
}

/**
 * Reads and decodes a body.
 *
 * @example
 * ```ts
 * const body = await readBody(req, 1024 * 1024, 10_000)
 * if (body._tag === "TooLarge") sendError(res, 413, ...)
 * ```
 */
export const readBody = (req: IncomingMessage, limit: number, timeoutMs: number): Promise<BodyResult> => {
  const declared = req.headers["content-length"]
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ _tag: "TooLarge", limit })
  if (declared === "0" || (declared === undefined && req.headers["transfer-encoding"] === undefined)) {
    return Promise.resolve(NONE)
  }
  const contentType = req.headers["content-type"] ?? ""
  return new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    const finish = (result: BodyResult) => {
      if (done) return
      done = true
      unwatch()
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onError)
      req.off("aborted", onAborted)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        finish({ _tag: "TooLarge", limit })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => finish(decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), contentType))
    const onError = () => finish({ _tag: "Aborted" })
    const onAborted = () => finish({ _tag: "Aborted" })
    const unwatch = watch(timeoutMs, () => finish({ _tag: "Timeout", timeoutMs }))
    req.on("data", onData)
    req.on("end", onEnd)
    req.on("error", onError)
    req.on("aborted", onAborted)
  })
}
