/**
 * `@jsonflow/connectors/mail`: e-mail over SMTP with nodemailer. A scoped `Mailer` service (pooled
 * transport, credentials by name), the `mail.send` node type (text and HTML bodies, attachments as text or
 * base64) and typed errors that say whether a retry is safe.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Flow } from "@jsonflow/core"
 * import { Mail } from "@jsonflow/connectors"
 *
 * const notify = Flow.make({ id: "notify", input: Mail.MailMessage })
 *   .node("send", Mail.send, { from: "flows@example.com" }, (p) => p.$input)
 *   .build()
 * const program = Flow.run(notify, { to: "ops@example.com", subject: "Done", text: "All good." }).pipe(
 *   Effect.provide(Mail.layer({ host: "smtp.example.com", credential: "smtp" }))
 * )
 * ```
 *
 * @module mail
 */
import { Registry } from "@jsonflow/core"
import { definitions } from "./nodes.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export * from "./client.ts"
export * from "./config.ts"
export * from "./errors.ts"
export * from "./nodes.ts"

/** A registry holding `mail.send`, to merge into the registry JSON flows are compiled against. */
export const registry = Registry.make(...definitions)
