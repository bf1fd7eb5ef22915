import { createServer, type Server } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Credentials, Flow } from "@jsonflow/core"
import { Effect, Fiber, Layer } from "effect"
import { SMTPServer } from "smtp-server"
import { parseMessage } from "../../test/mime.ts"
import { runOut } from "../../test/node-context.ts"
import * as Mail from "./index.ts"

interface Received {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly user: string | undefined
  readonly raw: string
}

interface Smtp {
  readonly port: number
  readonly received: Array<Received>
  /** Sessions the server saw start (one per TCP connection). */
  readonly opened: Array<string>
  /** Sessions the server saw end (QUIT or a dropped connection). */
  readonly closed: Array<string>
  /** Sessions whose DATA was fully received but never acknowledged (`hang`). */
  readonly hung: Array<string>
}

const reject = (message: string, responseCode: number) => Object.assign(new Error(message), { responseCode })

/** A real SMTP server (smtp-server) on an ephemeral loopback port, closed with the scope. */
const smtpServer = (options: { readonly requireAuth?: boolean; readonly hang?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: SMTPServer; readonly smtp: Smtp }>((resume) => {
      const smtp: Smtp = { port: 0, received: [], opened: [], closed: [], hung: [] }
      const server = new SMTPServer({
        authOptional: !options.requireAuth,
        allowInsecureAuth: true,
        disabledCommands: ["STARTTLS"],
        logger: false,
        closeTimeout: 200,
        onAuth(auth, _session, callback) {
          if (auth.username === "mailer" && auth.password === "s3cret") callback(null, { user: auth.username })
          else callback(reject("Invalid username or password", 535))
        },
        onRcptTo(address, _session, callback) {
          if (address.address.endsWith("@blocked.test")) callback(reject("Mailbox unavailable", 550))
          else if (address.address.endsWith("@greylist.test")) callback(reject("Greylisted, try again later", 450))
          else callback()
        },
        onData(stream, session, callback) {
          const chunks: Array<Buffer> = []
          stream.on("data", (chunk: Buffer) => chunks.push(chunk))
          stream.on("end", () => {
            if (options.hang) {
              smtp.hung.push(session.id)
              return
            }
            smtp.received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((r) => r.address),
              user: typeof session.user === "string" ? session.user : undefined,
              raw: Buffer.concat(chunks).toString("latin1")
            })
            callback(null)
          })
        },
        onConnect(session, callback) {
          smtp.opened.push(session.id)
          callback()
        },
        onClose(session) {
          smtp.closed.push(session.id)
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.server.address()
        resume(
          Effect.succeed({
            server,
            smtp: { ...smtp, port: typeof address === "object" && address !== null ? address.port : 0 }
          })
        )
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ smtp }) => smtp))

const layerFor = (smtp: Smtp, extra: Partial<Mail.MailConfig> = {}) =>
  Mail.layer({ host: "127.0.0.1", port: smtp.port, ignoreTLS: true, from: "flows@example.test", ...extra })

const waitFor = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (check()) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

/** SMTP sessions still open on the server. */
const openSessions = (smtp: Smtp) => smtp.opened.filter((id) => !smtp.closed.includes(id)).length

/** Once the layer is gone, the server must have seen every session end (QUIT or a closed socket). */
const noSessionLeft = (smtp: Smtp) => waitFor(() => openSessions(smtp) === 0, "every SMTP session to end")

const listen = (onSocket: (socket: import("node:net").Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<Server>((resume) => {
      const server = createServer(onSocket)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

const portOf = (server: Server) => {
  const info = server.address()
  return typeof info === "object" && info !== null ? info.port : 0
}

describe("mail.send", () => {
  it.live("delivers text and HTML bodies with text and base64 attachments", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer()
      const pdfBytes = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x10])
      const out = yield* runOut(
        Mail.send,
        {
          to: ["ada@example.test", "Bob <bob@example.test>"],
          cc: "carol@example.test",
          text: "Your order 42 has shipped.",
          html: "<p>Your order <b>42</b> has shipped.</p>",
          headers: { "X-Order-Id": "42" },
          attachments: [
            { filename: "order.csv", content: "id,total\n42,99.50\n" },
            { filename: "invoice.pdf", content: pdfBytes.toString("base64"), encoding: "base64" }
          ]
        },
        { subject: "Order shipped" }
      ).pipe(Effect.provide(layerFor(smtp)))

      assert.deepStrictEqual([...out.accepted].sort(), ["ada@example.test", "bob@example.test", "carol@example.test"])
      assert.deepStrictEqual(out.rejected, [])
      assert.match(out.response, /^250/)
      assert.strictEqual(smtp.received.length, 1)
      const [mail] = smtp.received
      assert.strictEqual(mail?.from, "flows@example.test")
      const parsed = parseMessage(mail?.raw ?? "")
      assert.strictEqual(parsed.subject, "Order shipped")
      assert.strictEqual(parsed.headers.get("x-order-id"), "42")
      assert.strictEqual(parsed.text, "Your order 42 has shipped.")
      assert.strictEqual(parsed.html, "<p>Your order <b>42</b> has shipped.</p>")
      assert.deepStrictEqual(
        parsed.attachments.map((a) => a.filename),
        ["order.csv", "invoice.pdf"]
      )
      assert.strictEqual(parsed.attachments[0]?.content.toString("utf8"), "id,total\n42,99.50\n")
      assert.deepStrictEqual([...(parsed.attachments[1]?.content ?? [])], [...pdfBytes])
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("authenticates with a credential resolved by name; a wrong password is a MailAuthError", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ requireAuth: true })
      const message = { to: "ada@example.test", subject: "Hi", text: "Hello" }
      const withCredential = (password: string) =>
        layerFor(smtp, { credential: "smtp" }).pipe(
          Layer.provide(Credentials.layerRecord({ smtp: { user: "mailer", password } }))
        )
      yield* runOut(Mail.send, message, {}).pipe(Effect.provide(withCredential("s3cret")))
      assert.strictEqual(smtp.received[0]?.user, "mailer")

      const error = yield* Effect.flip(runOut(Mail.send, message, {}).pipe(Effect.provide(withCredential("nope"))))
      assert.strictEqual(error._tag, "MailAuthError")
      assert.isFalse(error.retryable)
      assert.notInclude(error.message, "nope")
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("rejected recipients: 5xx is final, 4xx is retryable, partial rejection still sends", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer()
      const send = (to: ReadonlyArray<string>) =>
        runOut(Mail.send, { to, subject: "x", text: "y" }, {}).pipe(Effect.provide(layerFor(smtp)))

      const blocked = yield* Effect.flip(send(["nobody@blocked.test"]))
      assert.strictEqual(blocked._tag, "MailRejected")
      if (blocked._tag === "MailRejected") {
        assert.strictEqual(blocked.stage, "recipients")
        assert.strictEqual(blocked.responseCode, 550)
        assert.deepStrictEqual(blocked.rejected, ["nobody@blocked.test"])
      }
      assert.isFalse(blocked.retryable)

      const greylisted = yield* Effect.flip(send(["later@greylist.test"]))
      assert.strictEqual(greylisted._tag, "MailRejected")
      assert.isTrue(greylisted.retryable)

      const partial = yield* send(["ada@example.test", "nobody@blocked.test"])
      assert.deepStrictEqual(partial.accepted, ["ada@example.test"])
      assert.deepStrictEqual(partial.rejected, ["nobody@blocked.test"])
      assert.strictEqual(smtp.received.length, 1)
      assert.deepStrictEqual(smtp.received[0]?.to, ["ada@example.test"])
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("a message without sender or recipients is a MailInvalidMessage", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer()
      const noSender = yield* Effect.flip(
        runOut(Mail.send, { to: "ada@example.test", text: "x" }, {}).pipe(
          Effect.provide(Mail.layer({ host: "127.0.0.1", port: smtp.port, ignoreTLS: true }))
        )
      )
      assert.strictEqual(noSender._tag, "MailInvalidMessage")
      const noRecipient = yield* Effect.flip(
        runOut(Mail.send, { to: [], text: "x" }, {}).pipe(Effect.provide(layerFor(smtp)))
      )
      assert.strictEqual(noRecipient._tag, "MailInvalidMessage")
      assert.strictEqual(smtp.received.length, 0)
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("a refused connection is a retryable MailConnectionError", () =>
    Effect.gen(function* () {
      const server = yield* listen((socket) => socket.destroy())
      const port = portOf(server)
      yield* Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
      const error = yield* Effect.flip(
        runOut(Mail.send, { to: "ada@example.test", text: "x" }, {}).pipe(
          Effect.provide(Mail.layer({ host: "127.0.0.1", port, from: "a@example.test" }))
        )
      )
      assert.strictEqual(error._tag, "MailConnectionError")
      assert.isTrue(error.retryable)
    }).pipe(Effect.scoped)
  )

  it.live("a server that does not speak SMTP is a non-retryable protocol error", () =>
    Effect.gen(function* () {
      const server = yield* listen((socket) => {
        socket.on("error", () => {})
        socket.end("HTTP/1.1 400 Bad Request\r\n\r\n")
      })
      const error = yield* Effect.flip(
        runOut(Mail.send, { to: "ada@example.test", text: "x" }, {}).pipe(
          Effect.provide(Mail.layer({ host: "127.0.0.1", port: portOf(server), from: "a@example.test", pool: false }))
        )
      )
      assert.strictEqual(error._tag, "MailConnectionError")
      assert.isFalse(error.retryable)
    }).pipe(Effect.scoped)
  )

  it.live("a send past its time limit is a MailTimeout and the connection is closed", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ hang: true })
      const started = Date.now()
      const error = yield* Effect.flip(
        runOut(Mail.send, { to: "ada@example.test", text: "x" }, { timeoutMs: 300 }).pipe(
          Effect.provide(layerFor(smtp))
        )
      )
      assert.strictEqual(error._tag, "MailTimeout")
      assert.isFalse(error.retryable, "the server may have queued the message")
      assert.isBelow(Date.now() - started, 2_000)
      yield* waitFor(
        () => smtp.hung.length === 1 && smtp.closed.includes(smtp.hung[0] ?? ""),
        "the server to see the close"
      )
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("interrupting a send mid-DATA drops the connection; nothing is delivered", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ hang: true })
      const fiber = yield* runOut(Mail.send, { to: "ada@example.test", text: "x" }, {}).pipe(
        Effect.provide(layerFor(smtp)),
        Effect.forkChild
      )
      yield* waitFor(() => smtp.hung.length === 1, "the server to receive the DATA")
      yield* Fiber.interrupt(fiber)
      yield* waitFor(() => smtp.closed.includes(smtp.hung[0] ?? ""), "the server to see the connection close")
      assert.strictEqual(smtp.received.length, 0)
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("pool exhaustion: a send waiting for a pooled connection times out, leaves the queue, is never sent", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer({ hang: true })
      yield* Effect.gen(function* () {
        const holder = yield* Effect.forkChild(runOut(Mail.send, { to: "ada@example.test", text: "first" }, {}))
        yield* waitFor(() => smtp.hung.length === 1, "the first message to hold the only connection")
        const waiting = yield* Effect.flip(
          runOut(Mail.send, { to: "bob@example.test", text: "second" }, { timeoutMs: 300 })
        )
        assert.strictEqual(waiting._tag, "MailTimeout")
        assert.strictEqual(smtp.opened.length, 1, "the pool did not grow past maxConnections")
        yield* Fiber.interrupt(holder)
        yield* waitFor(() => openSessions(smtp) === 0, "the held connection to be dropped")
        // Give a queued send the chance to go out on a fresh connection: it must not.
        yield* Effect.sleep("200 millis")
        assert.strictEqual(smtp.hung.length, 1, "the timed-out message was taken out of the queue")
      }).pipe(Effect.provide(layerFor(smtp, { maxConnections: 1 })))
      assert.strictEqual(smtp.received.length, 0)
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )

  it.live("runs in a compiled flow", () =>
    Effect.gen(function* () {
      const smtp = yield* smtpServer()
      const notify = Flow.make({ id: "notify", input: Mail.MailMessage })
        .node("send", Mail.send, { subject: "Flow done" }, (p) => p.$input)
        .build()
      const result = yield* Flow.run(notify, { to: "ops@example.test", text: "All good." }).pipe(
        Effect.provide(layerFor(smtp))
      )
      assert.deepStrictEqual(result.output.accepted, ["ops@example.test"])
      assert.strictEqual(parseMessage(smtp.received[0]?.raw ?? "").subject, "Flow done")
      yield* noSessionLeft(smtp)
    }).pipe(Effect.scoped)
  )
})
