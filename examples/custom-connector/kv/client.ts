/**
 * The `KvClient` service: typed KV commands as Effects, provided by a scoped layer.
 *
 * The layer resolves the token by credential name and checks the server answers (`PING`) when it starts,
 * so a wrong address fails at startup, not at the first flow. Each command opens a connection, sends its
 * lines and reads the replies; the number of connections is capped by a semaphore. A command's time limit
 * and fiber interruption both end in the same finalizer, which destroys the socket: the server sees the
 * connection close, nothing is left open. When the layer's scope closes, any socket still open is destroyed.
 *
 * @module kv/client
 */
import { connect, type Socket } from "node:net"
import { Credentials } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted, Schema, Semaphore } from "effect"
import { KvAuthError, KvBusy, type KvError, KvProtocolError, KvTimeout, KvUnavailable } from "./errors.ts"
import { parseReply, type Reply, request } from "./protocol.ts"

/** Settings of the KV client: a Schema, so a runner can read them from a config file. */
export const KvConfig = Schema.Struct({
  /** Default `127.0.0.1`. */
  host: Schema.optionalKey(Schema.String),
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  /** Credential name; its `token` field is sent with `AUTH`. Absent: no authentication. */
  credential: Schema.optionalKey(Schema.String),
  /** Time limit of one command. Default 5000 ms. */
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** At most this many commands in flight. Default 8. */
  maxConnections: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0)))
})
export type KvConfig = typeof KvConfig.Type

/** What the service offers. Values are any JSON. */
export interface KvClientShape {
  readonly get: (key: string) => Effect.Effect<{ readonly found: boolean; readonly value: unknown }, KvError>
  readonly put: (key: string, value: unknown) => Effect.Effect<void, KvError>
  /** Adds `by` to an integer and returns the new value. Not idempotent. */
  readonly incr: (key: string, by: number) => Effect.Effect<number, KvError>
}

/**
 * The service tag. Node definitions that `yield* KvClient` carry it in their requirements, so a flow
 * using them cannot run until a layer provides it.
 */
export class KvClient extends Context.Service<KvClient, KvClientShape>()("example/KvClient") {}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Turns an `ERR` reply into a typed error. */
const replyError = (reply: Extract<Reply, { type: "error" }>): KvError => {
  switch (reply.code) {
    case "AUTH":
      return new KvAuthError({ reason: reply.message, retryable: false })
    case "BUSY":
      return new KvBusy({ reason: reply.message, retryable: true })
    default:
      return new KvProtocolError({ reason: `${reply.code} ${reply.message}`, retryable: false })
  }
}

const make = Effect.fn("Kv.make")(function* (config: KvConfig) {
  const host = config.host ?? "127.0.0.1"
  const timeoutMs = config.timeoutMs ?? 5_000
  const token =
    config.credential === undefined
      ? undefined
      : (yield* (yield* Credentials.Credentials).resolve(config.credential)).token
  if (config.credential !== undefined && token === undefined) {
    return yield* new Credentials.CredentialNotFound({ name: config.credential, field: "token", retryable: false })
  }
  const permits = yield* Semaphore.make(config.maxConnections ?? 8)
  const open = new Set<Socket>()
  // Whatever is still open when the layer closes goes with it.
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const socket of open) socket.destroy()
    })
  )

  /**
   * Sends `lines` on a fresh connection and reads one reply per line. `idempotent` says whether a retry
   * after an unknown outcome is safe.
   */
  const exchange = (command: string, lines: ReadonlyArray<string>, idempotent: boolean) =>
    Effect.callback<ReadonlyArray<Reply>, KvError>((resume) => {
      const socket = connect({ host, port: config.port })
      open.add(socket)
      const replies: Array<Reply> = []
      let buffer = ""
      let sent = false
      let settled = false
      const done = (effect: Effect.Effect<ReadonlyArray<Reply>, KvError>) => {
        if (settled) return
        settled = true
        open.delete(socket)
        socket.destroy()
        resume(effect)
      }
      socket.setEncoding("utf8")
      socket.on("connect", () => {
        sent = true
        socket.write(lines.join(""))
      })
      socket.on("data", (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n")) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 1)
          const reply = parseReply(line)
          if (reply === undefined) {
            return done(Effect.fail(new KvProtocolError({ reason: `unexpected reply "${line}"`, retryable: false })))
          }
          replies.push(reply)
          if (replies.length === lines.length) return done(Effect.succeed(replies))
        }
      })
      socket.on("error", (error) =>
        // Refused before anything was sent: always safe to retry; broken mid-call: only if idempotent.
        done(Effect.fail(new KvUnavailable({ reason: describe(error), retryable: !sent || idempotent })))
      )
      socket.on("close", () =>
        done(Effect.fail(new KvUnavailable({ reason: "connection closed", retryable: idempotent })))
      )
      // Runs on interruption (a timeout included): the server sees the connection close.
      return Effect.sync(() => {
        settled = true
        open.delete(socket)
        socket.destroy()
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.fail(new KvTimeout({ command, timeoutMs, retryable: idempotent }))
      }),
      permits.withPermit,
      Effect.withSpan(`Kv.${command}`)
    )

  /** Runs one command (after `AUTH` when a token is configured) and returns its reply. */
  const command = Effect.fnUntraced(function* (name: string, line: string, idempotent: boolean) {
    const lines = token === undefined ? [line] : [request("AUTH", Redacted.value(token)), line]
    const replies = yield* exchange(name, lines, idempotent)
    for (const reply of replies) if (reply.type === "error") return yield* replyError(reply)
    return replies[replies.length - 1]!
  })

  const parse = (json: string) =>
    Effect.try({
      try: (): unknown => JSON.parse(json),
      catch: () => new KvProtocolError({ reason: `not JSON: ${json.slice(0, 40)}`, retryable: false })
    })

  const unexpected = (reply: Reply) =>
    Effect.fail(new KvProtocolError({ reason: `unexpected reply ${reply.type}`, retryable: false }))

  // Fail fast at startup: a layer that cannot reach its server should not start.
  const ping = yield* command("PING", request("PING"), true).pipe(Effect.result)
  if (ping._tag === "Failure") return yield* ping.failure

  return KvClient.of({
    get: (key) =>
      Effect.gen(function* () {
        const reply = yield* command("GET", request("GET", key), true)
        if (reply.type === "notFound") return { found: false, value: null }
        if (reply.type === "value") return { found: true, value: yield* parse(reply.json) }
        return yield* unexpected(reply)
      }),
    put: (key, value) =>
      Effect.flatMap(command("PUT", request("PUT", key, JSON.stringify(value) ?? "null"), true), (reply) =>
        reply.type === "ok" ? Effect.void : unexpected(reply)
      ),
    incr: (key, by) =>
      Effect.flatMap(command("INCR", request("INCR", key, by), false), (reply) =>
        reply.type === "value" ? Effect.succeed(Number(reply.json)) : unexpected(reply)
      )
  })
})

/**
 * The live layer. Fails with `KvUnavailable` (or `KvAuthError`) when the server does not answer a `PING`,
 * and `CredentialNotFound` when the credential is missing.
 *
 * @example
 * ```ts
 * import * as Kv from "./kv/index.ts"
 * const KvLive = Kv.layer({ port: 7070, credential: "kv" })
 * ```
 */
export const layer = (config: KvConfig): Layer.Layer<KvClient, KvError | Credentials.CredentialNotFound> =>
  Layer.effect(KvClient, make(config))
