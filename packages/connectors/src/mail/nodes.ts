/**
 * The `mail.send` node type: its input is the message (usually built by a `map` node from the data), its
 * config holds defaults that do not vary per message (sender, reply-to, subject) and the time limit.
 *
 * @module mail/nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import { Mailer, MailMessage, SendResult } from "./client.ts"

/** Config of `mail.send`: defaults for the message, and the time limit of one send. */
export const SendConfig = Schema.Struct({
  /** Sender when the message has none (overrides the layer's `from`). */
  from: Schema.optionalKey(Schema.String),
  replyTo: Schema.optionalKey(Schema.String),
  /** Subject when the message has none. */
  subject: Schema.optionalKey(Schema.String),
  /** Limit for this send; default the layer's `sendTimeoutMs` (60000 ms). */
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0)))
})
export type SendConfig = typeof SendConfig.Type

/**
 * `mail.send`: sends one message over SMTP and emits what the server accepted.
 *
 * @example
 * ```json
 * { "type": "mail.send", "config": { "from": "flows@example.com", "subject": "Order received" } }
 * ```
 */
export const send = Node.define({
  type: "mail.send",
  description: "Sends an e-mail (text/HTML bodies, attachments) over SMTP. Emits { messageId, accepted, rejected }.",
  config: SendConfig,
  input: MailMessage,
  output: SendResult,
  run: (message, config) =>
    Mailer.use((mailer) =>
      mailer.send(
        {
          ...message,
          ...(message.from === undefined && config.from !== undefined ? { from: config.from } : {}),
          ...(message.replyTo === undefined && config.replyTo !== undefined ? { replyTo: config.replyTo } : {}),
          ...(message.subject === undefined && config.subject !== undefined ? { subject: config.subject } : {})
        },
        config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }
      )
    ).pipe(Effect.withSpan("mail.send"))
})

/** Every mail node definition. */
export const definitions = [send] as const
