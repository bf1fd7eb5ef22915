/**
 * The wire format of "KV", a made-up line protocol standing in for a protocol JSON-Flow does not ship.
 * One request per line, one reply line per request:
 *
 * ```
 * PING                 -> PONG
 * AUTH <token>         -> OK | ERR AUTH <message>
 * GET <key>            -> VALUE <json> | NOTFOUND
 * PUT <key> <json>     -> OK
 * INCR <key> <by>      -> VALUE <integer>
 * any                  -> ERR BUSY <message> (server overloaded) | ERR BAD <message>
 * ```
 *
 * @module kv/protocol
 */

/** A parsed reply line. */
export type Reply =
  | { readonly type: "pong" }
  | { readonly type: "ok" }
  | { readonly type: "notFound" }
  | { readonly type: "value"; readonly json: string }
  | { readonly type: "error"; readonly code: string; readonly message: string }

/** Encodes a request line. */
export const request = (command: string, ...args: ReadonlyArray<string | number>): string =>
  `${[command, ...args].join(" ")}\n`

/**
 * Parses a reply line, or returns `undefined` for a line that is not KV.
 *
 * @example
 * ```ts
 * parseReply("VALUE 42") // { type: "value", json: "42" }
 * ```
 */
export const parseReply = (line: string): Reply | undefined => {
  if (line === "PONG") return { type: "pong" }
  if (line === "OK") return { type: "ok" }
  if (line === "NOTFOUND") return { type: "notFound" }
  if (line.startsWith("VALUE ")) return { type: "value", json: line.slice(6) }
  const error = /^ERR ([A-Z]+) ?(.*)$/.exec(line)
  if (error) return { type: "error", code: error[1] ?? "", message: error[2] ?? "" }
  return undefined
}
