/**
 * Typed SMTP failures. A retry is safe when the message cannot have been accepted yet (the connection failed
 * before DATA, or the server answered with a temporary 4xx code); it is not when delivery may already have
 * happened (a failure after the message body was sent) or can never succeed (bad credentials, a recipient
 * the server refuses with 5xx, an invalid message).
 *
 * @module mail/errors
 */
import { Schema } from "effect"

/** The server could not be reached, the connection broke, or it spoke something that is not SMTP. */
export class MailConnectionError extends Schema.TaggedError<MailConnectionError>()("MailConnectionError", {
  /** nodemailer's code: `ECONNECTION`, `ESOCKET`, `ETIMEDOUT`, `EDNS`, `ETLS`, `EPROTOCOL`, ... */
  code: Schema.String,
  /** The SMTP command in progress, when known (`CONN`, `EHLO`, `DATA`, ...). */
  command: Schema.optionalKey(Schema.String),
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `SMTP connection failed (${this.code}${this.command ? ` during ${this.command}` : ""}): ${this.reason}`
  }
}

/** The server refused the credentials (or needs some and none were configured). Not retryable. */
export class MailAuthError extends Schema.TaggedError<MailAuthError>()("MailAuthError", {
  responseCode: Schema.optionalKey(Schema.Number),
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `SMTP authentication failed: ${this.reason}`
  }
}

/**
 * The server refused the sender, the recipients or the message. Retryable only for temporary (4xx) codes.
 */
export class MailRejected extends Schema.TaggedError<MailRejected>()("MailRejected", {
  stage: Schema.Literals(["sender", "recipients", "message"]),
  responseCode: Schema.optionalKey(Schema.Number),
  response: Schema.String,
  /** The refused recipient addresses (stage `recipients`). */
  rejected: Schema.Array(Schema.String),
  retryable: Schema.Boolean
}) {
  override get message() {
    const who = this.rejected.length > 0 ? ` (${this.rejected.join(", ")})` : ""
    return `SMTP server rejected the ${this.stage}${who}: ${this.response}`
  }
}

/** The whole send took longer than its limit; the message may or may not have been delivered. Not retryable. */
export class MailTimeout extends Schema.TaggedError<MailTimeout>()("MailTimeout", {
  timeoutMs: Schema.Number,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `sending the message took longer than ${this.timeoutMs} ms (delivery unknown)`
  }
}

/** The message cannot be sent as given (no sender, no recipients, ...). Not retryable. */
export class MailInvalidMessage extends Schema.TaggedError<MailInvalidMessage>()("MailInvalidMessage", {
  reason: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `invalid message: ${this.reason}`
  }
}

/** Any failure of a send. */
export type MailError = MailConnectionError | MailAuthError | MailRejected | MailTimeout | MailInvalidMessage

interface NodemailerError {
  readonly code?: unknown
  readonly command?: unknown
  readonly responseCode?: unknown
  readonly response?: unknown
  readonly rejected?: unknown
  readonly message?: unknown
}

const CONNECTION_CODES = new Set(["ECONNECTION", "ESOCKET", "ETIMEDOUT", "EDNS", "ECONNREFUSED", "EPROXY"])

/**
 * Maps a nodemailer failure to a typed error.
 *
 * @example
 * ```ts
 * import { Mail } from "@jsonflow/connectors"
 * Mail.fromNodemailerError(Object.assign(new Error("Invalid login"), { code: "EAUTH", responseCode: 535 }))
 * // MailAuthError
 * ```
 */
export const fromNodemailerError = (error: unknown): MailError => {
  const e: NodemailerError = typeof error === "object" && error !== null ? error : {}
  const code = typeof e.code === "string" ? e.code : "EUNKNOWN"
  const command = typeof e.command === "string" ? e.command : undefined
  const responseCode = typeof e.responseCode === "number" ? e.responseCode : undefined
  const reason = typeof e.message === "string" ? e.message : String(error)
  const response = typeof e.response === "string" ? e.response : reason
  const temporary = responseCode !== undefined && responseCode >= 400 && responseCode < 500
  const where = command === undefined ? {} : { command }
  switch (code) {
    case "EAUTH":
    case "ENOAUTH":
      return new MailAuthError({ ...(responseCode === undefined ? {} : { responseCode }), reason, retryable: false })
    case "EENVELOPE":
    case "EMESSAGE": {
      // Without a server response the envelope was refused locally (no recipients, bad address).
      if (responseCode === undefined) return new MailInvalidMessage({ reason, retryable: false })
      const rejected = Array.isArray(e.rejected) ? e.rejected.map(String) : []
      const stage =
        code === "EMESSAGE" ? "message" : command !== undefined && /^MAIL/i.test(command) ? "sender" : "recipients"
      return new MailRejected({ stage, responseCode, response, rejected, retryable: temporary })
    }
    case "ETLS":
    case "EREQUIRETLS":
    case "EPROTOCOL":
      return new MailConnectionError({ code, ...where, reason, retryable: false })
    default: {
      if (CONNECTION_CODES.has(code)) {
        // Once DATA started the server may have queued the message: a retry could deliver it twice.
        const mayHaveSent = command !== undefined && /^(DATA|BDAT)/i.test(command)
        return new MailConnectionError({ code, ...where, reason, retryable: !mayHaveSent })
      }
      if (temporary)
        return new MailRejected({ stage: "message", responseCode, response, rejected: [], retryable: true })
      return new MailInvalidMessage({ reason, retryable: false })
    }
  }
}
