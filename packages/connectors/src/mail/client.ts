/**
 * The `Mailer` service: a nodemailer SMTP transport (pooled by default) created when the layer is built and
 * closed when its scope ends. `send` takes a {@link MailMessage} (text and/or HTML bodies, attachments given
 * as content, never as file paths or URLs) and returns what the server accepted.
 *
 * Every send has a time limit (`sendTimeoutMs`), and interrupting it aborts it: nodemailer closes the
 * connection carrying the message, so the server never sees a completed DATA.
 *
 * `nodemailer` is an optional peer dependency: it is imported when the layer is built, and without it the
 * layer fails with `MissingPackage` (`npm install nodemailer@^10.6.0`).
 *
 * @module mail/client
 */
import { Credentials, OptionalPackage } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { abortable } from "../shared/Abortable.ts"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { defaults, MailConfig } from "./config.ts"
import { fromNodemailerError, type MailError, MailInvalidMessage, MailTimeout } from "./errors.ts"

const Addresses = Schema.Union([Schema.String, Schema.Array(Schema.String)])

/** An attachment: its bytes as UTF-8 text or base64. */
export const MailAttachment = Schema.Struct({
  filename: Schema.String,
  content: Schema.String,
  /** How `content` is written. Default `utf8`. */
  encoding: Schema.optionalKey(Schema.Literals(["utf8", "base64"])),
  /** Default: guessed from the file name. */
  contentType: Schema.optionalKey(Schema.String),
  /** Content-ID, to reference an inline image from the HTML body (`<img src="cid:...">`). */
  cid: Schema.optionalKey(Schema.String)
})
export type MailAttachment = typeof MailAttachment.Type

/**
 * A message. `to`, `cc` and `bcc` take one address or a list (`"Ada <ada@example.com>"` forms included).
 *
 * @example
 * ```ts
 * import { Mail } from "@jsonflow/connectors"
 * const message: Mail.MailMessage = {
 *   to: "ops@example.com",
 *   subject: "Nightly report",
 *   text: "See attachment.",
 *   attachments: [{ filename: "report.csv", content: "id,total\n1,42\n" }]
 * }
 * ```
 */
export const MailMessage = Schema.Struct({
  from: Schema.optionalKey(Schema.String),
  to: Addresses,
  cc: Schema.optionalKey(Addresses),
  bcc: Schema.optionalKey(Addresses),
  replyTo: Schema.optionalKey(Schema.String),
  subject: Schema.optionalKey(Schema.String),
  text: Schema.optionalKey(Schema.String),
  html: Schema.optionalKey(Schema.String),
  attachments: Schema.optionalKey(Schema.Array(MailAttachment)),
  /** Extra headers (`X-Request-Id`, ...). */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
export type MailMessage = typeof MailMessage.Type

/** What the server accepted. */
export const SendResult = Schema.Struct({
  messageId: Schema.String,
  accepted: Schema.Array(Schema.String),
  /** Recipients the server refused while accepting others (the message went to the accepted ones). */
  rejected: Schema.Array(Schema.String),
  /** The server's final reply, e.g. `250 OK: queued as ...`. */
  response: Schema.String
})
export type SendResult = typeof SendResult.Type

export interface MailerShape {
  /** Sends one message; `timeoutMs` overrides the configured `sendTimeoutMs`. */
  readonly send: (
    message: MailMessage,
    options?: { readonly timeoutMs?: number }
  ) => Effect.Effect<SendResult, MailError>
}

/**
 * The mail service. Provide it with {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mail } from "@jsonflow/connectors"
 * const program = Mail.Mailer.use((mailer) => mailer.send({ to: "ops@example.com", subject: "Hi", text: "Hello" }))
 * Effect.runPromise(program.pipe(Effect.provide(Mail.layer({ host: "smtp.example.com", credential: "smtp" }))))
 * ```
 */
export class Mailer extends Context.Service<Mailer, MailerShape>()("@jsonflow/connectors/Mailer") {}

/** The `nodemailer` package, imported on the first layer build (never when this module loads). */
const loadNodemailer = OptionalPackage.load("nodemailer", () => import("nodemailer"), {
  feature: "the mail connector",
  install: "npm install nodemailer@^10.6.0"
})

const authOf = Effect.fn("Mail.auth")(function* (name: string | undefined) {
  if (name === undefined) return undefined
  const credential = yield* (yield* Credentials.Credentials).resolve(name)
  const user = credential.user ?? credential.username
  const password = credential.password
  if (user === undefined) {
    return yield* new Credentials.CredentialNotFound({ name, field: "user", retryable: false })
  }
  if (password === undefined) {
    return yield* new Credentials.CredentialNotFound({ name, field: "password", retryable: false })
  }
  return { user: Redacted.value(user), pass: Redacted.value(password) }
})

const list = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : typeof value === "string" ? [value] : value

const addressesOf = (value: unknown): Array<string> =>
  Array.isArray(value)
    ? value.map((item: unknown) =>
        typeof item === "object" && item !== null && "address" in item ? String(item.address) : String(item)
      )
    : []

/**
 * The live layer: creates the SMTP transport (credentials resolved once, by name) and closes it with the
 * scope. No connection is opened until the first send, so a mail server that is down does not stop a
 * runner from starting; sends then fail with a retryable `MailConnectionError`. Without the `nodemailer`
 * package the layer fails with `MissingPackage`.
 *
 * @example
 * ```ts
 * import { Mail } from "@jsonflow/connectors"
 * const MailLive = Mail.layer({ host: "smtp.example.com", port: 587, requireTLS: true, credential: "smtp", from: "flows@example.com" })
 * ```
 */
export const layer = (
  input: MailConfig
): Layer.Layer<Mailer, Credentials.CredentialNotFound | ConnectorConfigError | OptionalPackage.MissingPackage> =>
  Layer.effect(
    Mailer,
    Effect.gen(function* () {
      const config = yield* decodeConfig("mail", MailConfig, input)
      const nodemailer = (yield* loadNodemailer).default
      const auth = yield* authOf(config.credential)
      const secure = config.secure ?? false
      const transport = yield* Effect.acquireRelease(
        Effect.sync(() =>
          nodemailer.createTransport({
            host: config.host,
            port: config.port ?? (secure ? defaults.portSecure : defaults.portPlain),
            secure,
            ...(config.requireTLS === undefined ? {} : { requireTLS: config.requireTLS }),
            ...(config.ignoreTLS === undefined ? {} : { ignoreTLS: config.ignoreTLS }),
            ...(config.tls === undefined ? {} : { tls: { ...config.tls } }),
            ...(auth === undefined ? {} : { auth }),
            ...(config.clientName === undefined ? {} : { name: config.clientName }),
            pool: config.pool ?? defaults.pool,
            maxConnections: config.maxConnections ?? defaults.maxConnections,
            connectionTimeout: config.connectionTimeoutMs ?? defaults.connectionTimeoutMs,
            greetingTimeout: config.greetingTimeoutMs ?? defaults.greetingTimeoutMs,
            socketTimeout: config.socketTimeoutMs ?? defaults.socketTimeoutMs,
            // Messages come from flow data: never let them read local files or fetch URLs.
            disableFileAccess: true,
            disableUrlAccess: true,
            logger: false
          })
        ),
        (transport) => Effect.sync(() => transport.close())
      )
      const send: MailerShape["send"] = (message, options) => {
        const from = message.from ?? config.from
        if (from === undefined) {
          return Effect.fail(
            new MailInvalidMessage({ reason: "no sender: set `from` on the message, node or layer", retryable: false })
          )
        }
        if (list(message.to).length + list(message.cc).length + list(message.bcc).length === 0) {
          return Effect.fail(new MailInvalidMessage({ reason: "no recipients", retryable: false }))
        }
        const timeoutMs = options?.timeoutMs ?? config.sendTimeoutMs ?? defaults.sendTimeoutMs
        return abortable({
          run: (signal) =>
            transport.sendMail({
              from,
              to: [...list(message.to)],
              cc: [...list(message.cc)],
              bcc: [...list(message.bcc)],
              ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
              ...(message.subject === undefined ? {} : { subject: message.subject }),
              ...(message.text === undefined ? {} : { text: message.text }),
              ...(message.html === undefined ? {} : { html: message.html }),
              ...(message.headers === undefined ? {} : { headers: { ...message.headers } }),
              attachments: (message.attachments ?? []).map((a) => ({
                filename: a.filename,
                content: a.content,
                encoding: a.encoding ?? "utf8",
                ...(a.contentType === undefined ? {} : { contentType: a.contentType }),
                ...(a.cid === undefined ? {} : { cid: a.cid })
              })),
              signal
            }),
          timeoutMs,
          onTimeout: (ms): MailError => new MailTimeout({ timeoutMs: ms, retryable: false }),
          onError: fromNodemailerError
        }).pipe(
          Effect.map(
            (info): SendResult => ({
              messageId: String(info.messageId),
              accepted: addressesOf(info.accepted),
              rejected: addressesOf(info.rejected),
              response: String(info.response)
            })
          ),
          Effect.withSpan("Mail.send")
        )
      }
      return Mailer.of({ send })
    })
  )
