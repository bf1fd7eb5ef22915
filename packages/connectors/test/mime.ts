/**
 * A small MIME reader for asserting what an SMTP test server received: headers (unfolded, encoded words
 * decoded), the text and HTML bodies, and the attachments' decoded bytes. Enough for messages nodemailer
 * writes; not a general-purpose parser.
 *
 * @module mime
 */

/** One part of a message. */
export interface Part {
  readonly headers: ReadonlyMap<string, string>
  /** The decoded body (empty for multipart containers). */
  readonly body: Buffer
  readonly parts: ReadonlyArray<Part>
}

/** What a test usually wants from a message. */
export interface Parsed {
  readonly headers: ReadonlyMap<string, string>
  readonly subject: string
  readonly text: string | undefined
  readonly html: string | undefined
  readonly attachments: ReadonlyArray<{
    readonly filename: string
    readonly contentType: string
    readonly content: Buffer
  }>
}

const decodeWords = (value: string): string =>
  value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, encoding: string, text: string) =>
    encoding.toUpperCase() === "B"
      ? Buffer.from(text, "base64").toString("utf8")
      : Buffer.from(
          text
            .replace(/_/g, " ")
            .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          "latin1"
        ).toString("utf8")
  )

const parseHeaders = (block: string): Map<string, string> => {
  const headers = new Map<string, string>()
  for (const line of block.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const colon = line.indexOf(":")
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()))
  }
  return headers
}

const param = (header: string | undefined, name: string): string | undefined => {
  const match = new RegExp(`${name}\\*?="?([^";]+)"?`, "i").exec(header ?? "")
  return match?.[1]
}

const decodeBody = (raw: string, encoding: string | undefined): Buffer => {
  switch ((encoding ?? "7bit").toLowerCase()) {
    case "base64":
      return Buffer.from(raw.replace(/\s+/g, ""), "base64")
    case "quoted-printable":
      return Buffer.from(
        raw
          .replace(/=\r\n/g, "")
          .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        "latin1"
      )
    default:
      return Buffer.from(raw, "latin1")
  }
}

/** Parses one part (or a whole message). */
export const parsePart = (raw: string): Part => {
  const split = raw.indexOf("\r\n\r\n")
  const headers = parseHeaders(split === -1 ? raw : raw.slice(0, split))
  const body = split === -1 ? "" : raw.slice(split + 4)
  const contentType = headers.get("content-type") ?? "text/plain"
  const boundary = param(contentType, "boundary")
  if (contentType.toLowerCase().startsWith("multipart/") && boundary !== undefined) {
    const sections = body.split(`--${boundary}`)
    const parts = sections.slice(1, -1).map((section) => parsePart(section.replace(/^\r\n/, "").replace(/\r\n$/, "")))
    return { headers, body: Buffer.alloc(0), parts }
  }
  return { headers, body: decodeBody(body, headers.get("content-transfer-encoding")), parts: [] }
}

const leaves = (part: Part): ReadonlyArray<Part> => (part.parts.length === 0 ? [part] : part.parts.flatMap(leaves))

/**
 * Parses a raw RFC 5322 message into subject, bodies and attachments.
 *
 * @example
 * ```ts
 * const mail = parseMessage(rawFromSmtpServer)
 * mail.attachments[0]?.content.toString("utf8")
 * ```
 */
export const parseMessage = (raw: string): Parsed => {
  const root = parsePart(raw)
  const all = leaves(root)
  const isAttachment = (p: Part) =>
    (p.headers.get("content-disposition") ?? "").toLowerCase().startsWith("attachment") ||
    param(p.headers.get("content-disposition"), "filename") !== undefined
  const body = (type: string) =>
    all
      .find((p) => !isAttachment(p) && (p.headers.get("content-type") ?? "text/plain").toLowerCase().startsWith(type))
      ?.body.toString("utf8")
  return {
    headers: root.headers,
    subject: root.headers.get("subject") ?? "",
    text: body("text/plain"),
    html: body("text/html"),
    attachments: all.filter(isAttachment).map((p) => ({
      filename: param(p.headers.get("content-disposition"), "filename") ?? "",
      contentType: (p.headers.get("content-type") ?? "").split(";")[0] ?? "",
      content: p.body
    }))
  }
}
