/**
 * Request bodies out, response bodies in. A request body is encoded as JSON, text, a URL-encoded form or
 * bytes given as base64; a response body (read up to a size cap, see `Dispatch`) is decoded by its content
 * type (or as configured) into JSON, text, or base64 for binary data, so every output stays plain JSON data.
 *
 * @module Body
 */
import { Schema } from "effect"

/** How a request body is encoded. `auto`: a string is sent as text, anything else as JSON. */
export const BodyEncoding = Schema.Literals(["auto", "json", "text", "form", "binary", "none"])
export type BodyEncoding = typeof BodyEncoding.Type

/** How a response body is decoded. `auto` follows the content type: JSON, text, else binary (base64). */
export const ResponseDecoding = Schema.Literals(["auto", "json", "text", "binary"])
export type ResponseDecoding = typeof ResponseDecoding.Type

/** An encoded request body and the content type it implies. */
export interface EncodedBody {
  readonly bytes: string | Uint8Array
  readonly contentType: string
}

/** A value that cannot be encoded as asked. */
export class BodyEncodingFailed extends Error {}

const formValue = (value: unknown): string =>
  typeof value === "string" ? value : value === null || value === undefined ? "" : JSON.stringify(value)

/**
 * Encodes a request body; `undefined` (or `none`) means no body.
 *
 * @example
 * ```ts
 * encodeBody({ name: "Ada" }, "auto") // { bytes: '{"name":"Ada"}', contentType: "application/json" }
 * encodeBody({ q: "a b", n: 1 }, "form") // { bytes: "q=a+b&n=1", contentType: "application/x-www-form-urlencoded" }
 * ```
 */
export const encodeBody = (value: unknown, encoding: BodyEncoding): EncodedBody | undefined => {
  if (encoding === "none" || value === undefined) return undefined
  switch (encoding) {
    case "text":
      return {
        bytes: typeof value === "string" ? value : JSON.stringify(value),
        contentType: "text/plain; charset=utf-8"
      }
    case "form": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new BodyEncodingFailed("a form body must be an object of fields")
      }
      const form = new URLSearchParams()
      for (const [key, field] of Object.entries(value)) {
        if (Array.isArray(field)) for (const item of field) form.append(key, formValue(item))
        else form.append(key, formValue(field))
      }
      return { bytes: form.toString(), contentType: "application/x-www-form-urlencoded" }
    }
    case "binary": {
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
        throw new BodyEncodingFailed("a binary body must be a base64 string")
      }
      return { bytes: Buffer.from(value, "base64"), contentType: "application/octet-stream" }
    }
    case "auto":
      if (typeof value === "string") return { bytes: value, contentType: "text/plain; charset=utf-8" }
      return { bytes: JSON.stringify(value), contentType: "application/json" }
    case "json":
      return { bytes: JSON.stringify(value), contentType: "application/json" }
  }
}

const isJsonType = (type: string) => type === "application/json" || type.endsWith("+json")
const isTextType = (type: string) =>
  type.startsWith("text/") ||
  type.endsWith("+xml") ||
  type === "application/xml" ||
  type === "application/javascript" ||
  type === "application/x-www-form-urlencoded" ||
  type === "application/x-ndjson"

/** The decoding `auto` picks for a content type (no content type: text). */
export const decodingFor = (contentType: string): "json" | "text" | "binary" => {
  const type = contentType.split(";")[0]!.trim().toLowerCase()
  if (type === "") return "text"
  if (isJsonType(type)) return "json"
  return isTextType(type) ? "text" : "binary"
}

/**
 * Decodes response bytes. JSON of an empty body is `null`; binary is base64. Throws `SyntaxError` on bad JSON.
 *
 * @example
 * ```ts
 * decodeBody(Buffer.from('{"ok":true}'), "application/json", "auto") // { ok: true }
 * ```
 */
export const decodeBody = (bytes: Buffer, contentType: string, decoding: ResponseDecoding): unknown => {
  const kind = decoding === "auto" ? decodingFor(contentType) : decoding
  if (kind === "binary") return bytes.toString("base64")
  if (kind === "json" && bytes.length === 0) return null
  const text = bytes.toString("utf8")
  if (kind === "text") return text
  return JSON.parse(text)
}

/** The body ran past the size cap. */
export class BodyTooLarge extends Error {
  readonly limitBytes: number
  constructor(limitBytes: number) {
    super(`response body exceeds ${limitBytes} bytes`)
    this.limitBytes = limitBytes
  }
}
