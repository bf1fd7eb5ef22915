import { Mail } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect } from "effect"

const MailLive = Mail.layer({
  host: "smtp.example.com",
  port: 587,
  requireTLS: true,
  credential: "smtp", // fields `user` and `password`
  from: "flows@example.com"
})

const notify = Flow.make({ id: "notify", input: Mail.MailMessage })
  .node("send", Mail.send, { subject: "Your invoice" }, (p) => p.$input)
  .build()

export const sent = await Effect.runPromise(
  Flow.run(notify, {
    to: "ada@example.com",
    text: "Your invoice is attached.",
    html: "<p>Your invoice is attached.</p>",
    attachments: [
      { filename: "invoice.csv", content: "id,total\n42,99.50\n" },
      { filename: "logo.png", content: "iVBORw0KGgo=", encoding: "base64", cid: "logo" }
    ]
  }).pipe(Effect.provide(MailLive))
)
