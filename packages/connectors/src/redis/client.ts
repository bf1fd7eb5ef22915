/**
 * The `RedisClient` service: one ioredis client (single node, cluster or sentinel) opened when the layer is
 * built and closed when its scope ends. Commands are Effects with typed errors; a command's time limit is
 * `commandTimeoutMs`. Commands issued while the connection is down fail at once with a retryable
 * `RedisUnavailable` (the offline queue is off), so the engine's retry policy, not a hidden queue, decides
 * what happens next.
 *
 * Interrupting a command stops waiting for it. Blocking reads (`xread` with `blockMs`) run on a dedicated
 * connection that is closed on interruption, so the server stops blocking for it too.
 *
 * @module redis/client
 */

import type { ConnectionOptions } from "node:tls"
import { Credentials } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted } from "effect"
import { Cluster, Redis } from "ioredis"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { defaults, RedisConfig, type RedisTls } from "./config.ts"
import { fromIoredisError, type RedisError, RedisReplyError, RedisUnavailable } from "./errors.ts"

/** One entry of a Redis stream. */
export interface StreamEntry {
  readonly id: string
  readonly fields: Readonly<Record<string, string>>
}

/** Options of `SET`. */
export interface SetOptions {
  /** Expire after this many milliseconds (`PX`). */
  readonly ttlMs?: number
  /** `NX`: only if absent; `XX`: only if present. */
  readonly condition?: "NX" | "XX"
}

/** Options of `XADD`. */
export interface XAddOptions {
  /** Entry id; default `*` (server-assigned). */
  readonly id?: string
  /** Trim the stream to about (or exactly, with `approximate: false`) this many entries. */
  readonly maxLen?: number
  readonly approximate?: boolean
}

/** Options of `XREAD`. */
export interface XReadOptions {
  readonly count?: number
  /** Block up to this long for new entries (0 = forever); absent = do not block. */
  readonly blockMs?: number
}

/** The Redis commands a flow needs, as Effects. Keys are relative to the configured `keyPrefix`. */
export interface RedisClientShape {
  readonly get: (key: string) => Effect.Effect<string | null, RedisError>
  /** `SET`; `false` when an `NX`/`XX` condition prevented the write. */
  readonly set: (key: string, value: string, options?: SetOptions) => Effect.Effect<boolean, RedisError>
  readonly del: (keys: ReadonlyArray<string>) => Effect.Effect<number, RedisError>
  readonly hget: (key: string, field: string) => Effect.Effect<string | null, RedisError>
  /** `HSET`; returns the number of fields that were added (not updated). */
  readonly hset: (key: string, fields: Readonly<Record<string, string>>) => Effect.Effect<number, RedisError>
  readonly hgetall: (key: string) => Effect.Effect<Readonly<Record<string, string>>, RedisError>
  /** `LPUSH`; returns the new length. */
  readonly lpush: (key: string, values: ReadonlyArray<string>) => Effect.Effect<number, RedisError>
  /** `RPUSH`; returns the new length. */
  readonly rpush: (key: string, values: ReadonlyArray<string>) => Effect.Effect<number, RedisError>
  readonly lrange: (key: string, start: number, stop: number) => Effect.Effect<ReadonlyArray<string>, RedisError>
  /** `LPOP key count`; an empty array when the list is empty or absent. */
  readonly lpop: (key: string, count: number) => Effect.Effect<ReadonlyArray<string>, RedisError>
  /** `PUBLISH`; returns the number of subscribers that received it. */
  readonly publish: (channel: string, message: string) => Effect.Effect<number, RedisError>
  /** `XADD`; returns the entry id. */
  readonly xadd: (
    stream: string,
    fields: Readonly<Record<string, string>>,
    options?: XAddOptions
  ) => Effect.Effect<string, RedisError>
  readonly xrange: (
    stream: string,
    options?: { readonly start?: string; readonly end?: string; readonly count?: number }
  ) => Effect.Effect<ReadonlyArray<StreamEntry>, RedisError>
  /** `XREAD` from several streams (stream -> last id seen, `$` for only new entries). */
  readonly xread: (
    streams: Readonly<Record<string, string>>,
    options?: XReadOptions
  ) => Effect.Effect<
    ReadonlyArray<{ readonly stream: string; readonly entries: ReadonlyArray<StreamEntry> }>,
    RedisError
  >
  /**
   * Any other command, by name (`call`): the escape hatch for what the typed methods do not cover.
   * Retries of its failures are classified as for a non-idempotent command.
   */
  readonly command: (name: string, args: ReadonlyArray<string | number>) => Effect.Effect<unknown, RedisError>
}

/**
 * The Redis client service. Provide it with {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Redis } from "@jsonflow/connectors"
 * const program = Effect.gen(function* () {
 *   const redis = yield* Redis.RedisClient
 *   yield* redis.set("greeting", "hello", { ttlMs: 60_000 })
 *   return yield* redis.get("greeting")
 * }).pipe(Effect.provide(Redis.layer({ host: "127.0.0.1", port: 6379 })))
 * ```
 */
export class RedisClient extends Context.Service<RedisClient, RedisClientShape>()("@jsonflow/connectors/RedisClient") {}

type Client = Redis | Cluster

const tlsOptions = (tls: RedisTls | undefined): ConnectionOptions | undefined => {
  if (tls === undefined || tls === false) return undefined
  if (tls === true) return {}
  return {
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername })
  }
}

interface Secrets {
  readonly password?: string
  readonly username?: string
}

const secretsOf = Effect.fn("Redis.secrets")(function* (name: string | undefined) {
  const secrets: { password?: string; username?: string } = {}
  if (name === undefined) return secrets as Secrets
  const credential = yield* (yield* Credentials.Credentials).resolve(name)
  if (credential.password !== undefined) secrets.password = Redacted.value(credential.password)
  if (credential.username !== undefined) secrets.username = Redacted.value(credential.username)
  return secrets as Secrets
})

/**
 * Creates (does not connect) an ioredis client for `config`. `commandTimeout` is separate because blocking
 * reads get their own connection with a longer (or no) command timeout.
 */
const build = (config: RedisConfig, secrets: Secrets, sentinel: Secrets, commandTimeout: number | undefined) => {
  const tls = tlsOptions(config.tls)
  const base = {
    ...secrets,
    lazyConnect: true,
    // Fail fast while disconnected: a queued command would otherwise wait out its timeout invisibly.
    enableOfflineQueue: false,
    connectTimeout: config.connectTimeoutMs ?? defaults.connectTimeoutMs,
    connectionName: config.connectionName ?? defaults.connectionName,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
    ...(config.keyPrefix === undefined ? {} : { keyPrefix: config.keyPrefix }),
    ...(tls === undefined ? {} : { tls })
  }
  if (config.mode === "cluster") {
    return new Cluster(
      config.nodes.map((node) => ({ host: node.host, port: node.port })),
      {
        lazyConnect: true,
        enableOfflineQueue: false,
        redisOptions: base,
        ...(config.keyPrefix === undefined ? {} : { keyPrefix: config.keyPrefix })
      }
    ) as Client
  }
  if (config.mode === "sentinel") {
    return new Redis({
      ...base,
      sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: config.name,
      role: config.role === "replica" ? ("slave" as const) : ("master" as const),
      ...(config.db === undefined ? {} : { db: config.db }),
      ...(sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }),
      ...(sentinel.username === undefined ? {} : { sentinelUsername: sentinel.username }),
      ...(tls === undefined ? {} : { enableTLSForSentinelMode: true })
    }) as Client
  }
  return new Redis({
    ...base,
    host: config.host ?? defaults.host,
    port: config.port ?? defaults.port,
    ...(config.db === undefined ? {} : { db: config.db })
  }) as Client
}

/** Opens the client and waits until it is ready; on failure it is disconnected (no reconnect loop left behind). */
const connect = (client: Client, timeoutMs: number): Effect.Effect<Client, RedisUnavailable | RedisReplyError> => {
  let lastError: unknown
  // ioredis emits connection errors as events; without a listener they would be printed, and we want the
  // cause (ECONNREFUSED, WRONGPASS, ...) rather than the generic "Connection is closed." of the rejection.
  client.on("error", (error: unknown) => {
    lastError = error
  })
  const failure = (error: unknown): RedisUnavailable | RedisReplyError => {
    const cause = lastError ?? error
    // The server answered (wrong password, missing ACL permission): retrying the same settings cannot help.
    if (cause instanceof Error && cause.name === "ReplyError") {
      const code = /^[A-Z]+/.exec(cause.message)?.[0] ?? "ERR"
      return new RedisReplyError({ operation: "connect", code, reason: cause.message, retryable: false })
    }
    const reason = cause instanceof Error ? cause.message : String(cause)
    return new RedisUnavailable({ operation: "connect", reason, retryable: true })
  }
  return Effect.tryPromise({ try: () => client.connect(), catch: failure }).pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () =>
        Effect.fail(
          new RedisUnavailable({ operation: "connect", reason: `not ready within ${timeoutMs} ms`, retryable: true })
        )
    }),
    Effect.as(client),
    Effect.tapError(() => Effect.sync(() => client.disconnect()))
  )
}

const close = (client: Client): Effect.Effect<void> =>
  Effect.promise(() =>
    client.quit().then(
      () => undefined,
      () => undefined
    )
  ).pipe(
    // QUIT waits for pending replies; do not let a dead server hold the scope open.
    Effect.timeoutOrElse({ duration: 1_000, orElse: () => Effect.void }),
    Effect.ensuring(Effect.sync(() => client.disconnect()))
  )

const toRecord = (flat: ReadonlyArray<unknown>): Record<string, string> => {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1])
  return record
}

/**
 * XREAD replies with a map of stream -> entries: under RESP2 an array of `[stream, entries]` pairs, under
 * RESP3 (ioredis' default, "legacy" reply mapping) a flat `[stream, entries, stream, entries, ...]` array.
 */
const pairsOf = (reply: unknown): ReadonlyArray<readonly [unknown, unknown]> => {
  if (!Array.isArray(reply)) return []
  if (reply.every((item) => Array.isArray(item) && item.length === 2 && !Array.isArray(item[0]))) {
    return reply.map((item: ReadonlyArray<unknown>) => [item[0], item[1]] as const)
  }
  const pairs: Array<readonly [unknown, unknown]> = []
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i], reply[i + 1]])
  return pairs
}

const toEntries = (reply: unknown): ReadonlyArray<StreamEntry> =>
  Array.isArray(reply)
    ? reply.map((entry: unknown) => {
        const [id, fields] = Array.isArray(entry) ? entry : []
        return { id: String(id), fields: toRecord(Array.isArray(fields) ? fields : []) }
      })
    : []

/**
 * Builds the service over an open ioredis client; `spawn` creates (unconnected) clients for blocking reads.
 * The caller keeps ownership of `client`.
 */
export const fromClient = (
  client: Client,
  config: RedisConfig,
  spawn: (commandTimeout: number | undefined) => Client
): RedisClientShape => {
  const timeoutMs = config.commandTimeoutMs ?? defaults.commandTimeoutMs
  const prefix = config.keyPrefix ?? ""
  const run = <A>(operation: string, f: (client: Client) => Promise<A>): Effect.Effect<A, RedisError> =>
    Effect.tryPromise({ try: () => f(client), catch: (error) => fromIoredisError(operation, error, timeoutMs) })
  const unprefix = (name: string) => (prefix !== "" && name.startsWith(prefix) ? name.slice(prefix.length) : name)

  const xreadArgs = (streams: Readonly<Record<string, string>>, options: XReadOptions | undefined) => [
    ...(options?.count === undefined ? [] : ["COUNT", options.count]),
    ...(options?.blockMs === undefined ? [] : ["BLOCK", options.blockMs]),
    "STREAMS",
    ...Object.keys(streams),
    ...Object.values(streams)
  ]
  const parseXread = (reply: unknown) =>
    pairsOf(reply).map(([stream, entries]) => ({ stream: unprefix(String(stream)), entries: toEntries(entries) }))

  // A blocking read gets its own connection: closing it is the only way to make the server stop blocking.
  const blockingXread = (args: ReadonlyArray<string | number>, blockMs: number) =>
    Effect.acquireUseRelease(
      Effect.suspend(() => {
        // BLOCK 0 waits forever: then only interruption ends it, not a client-side timeout.
        const connection = spawn(blockMs === 0 ? undefined : blockMs + timeoutMs)
        return connect(connection, config.connectTimeoutMs ?? defaults.connectTimeoutMs)
      }),
      (connection) =>
        Effect.tryPromise({
          try: () => connection.call("XREAD", ...args),
          catch: (error) => fromIoredisError("xread", error, blockMs + timeoutMs)
        }),
      (connection) => Effect.sync(() => connection.disconnect())
    )

  return {
    get: (key) => run("get", (c) => c.get(key)),
    set: (key, value, options) =>
      run("set", (c) =>
        c.call(
          "SET",
          key,
          value,
          ...(options?.ttlMs === undefined ? [] : ["PX", options.ttlMs]),
          ...(options?.condition === undefined ? [] : [options.condition])
        )
      ).pipe(Effect.map((reply) => reply === "OK")),
    del: (keys) => (keys.length === 0 ? Effect.succeed(0) : run("del", (c) => c.del(...keys))),
    hget: (key, field) => run("hget", (c) => c.hget(key, field)),
    hset: (key, fields) => run("hset", (c) => c.hset(key, fields)),
    hgetall: (key) => run("hgetall", (c) => c.hgetall(key)),
    lpush: (key, values) => run("lpush", (c) => c.lpush(key, ...values)),
    rpush: (key, values) => run("rpush", (c) => c.rpush(key, ...values)),
    lrange: (key, start, stop) => run("lrange", (c) => c.lrange(key, start, stop)),
    lpop: (key, count) => run("lpop", (c) => c.lpop(key, count)).pipe(Effect.map((values) => values ?? [])),
    publish: (channel, message) => run("publish", (c) => c.publish(channel, message)),
    xadd: (stream, fields, options) =>
      run("xadd", (c) =>
        c.call(
          "XADD",
          stream,
          ...(options?.maxLen === undefined
            ? []
            : ["MAXLEN", options.approximate === false ? "=" : "~", options.maxLen]),
          options?.id ?? "*",
          ...Object.entries(fields).flat()
        )
      ).pipe(Effect.map(String)),
    xrange: (stream, options) =>
      run("xrange", (c) =>
        c.call(
          "XRANGE",
          stream,
          options?.start ?? "-",
          options?.end ?? "+",
          ...(options?.count === undefined ? [] : ["COUNT", options.count])
        )
      ).pipe(Effect.map(toEntries)),
    xread: (streams, options) => {
      const args = xreadArgs(streams, options)
      const reply =
        options?.blockMs === undefined
          ? run("xread", (c) => c.call("XREAD", ...args))
          : blockingXread(args, options.blockMs)
      return Effect.map(reply, parseXread)
    },
    command: (name, args) => run(name.toLowerCase(), (c) => c.call(name, ...args))
  }
}

/**
 * The live layer: opens the client (waiting up to `connectTimeoutMs` for it to be ready) and closes it when
 * the layer's scope ends. Fails with `RedisUnavailable` when the server cannot be reached,
 * `RedisReplyError` when it refuses the connection (`WRONGPASS`, `NOPERM`), or `CredentialNotFound` when the
 * named credential is missing.
 *
 * @example
 * ```ts
 * import { Redis } from "@jsonflow/connectors"
 * const RedisLive = Redis.layer({ host: "cache.internal", port: 6379, credential: "cache", keyPrefix: "orders:" })
 * const ClusterLive = Redis.layer({ mode: "cluster", nodes: [{ host: "10.0.0.1", port: 7000 }] })
 * ```
 */
export const layer = (
  input: RedisConfig
): Layer.Layer<
  RedisClient,
  RedisUnavailable | RedisReplyError | Credentials.CredentialNotFound | ConnectorConfigError
> =>
  Layer.effect(
    RedisClient,
    Effect.gen(function* () {
      const config = yield* decodeConfig("redis", RedisConfig, input)
      const secrets = yield* secretsOf(config.credential)
      const sentinel = yield* secretsOf(config.mode === "sentinel" ? config.sentinelCredential : undefined)
      const timeoutMs = config.commandTimeoutMs ?? defaults.commandTimeoutMs
      const client = yield* Effect.acquireRelease(
        Effect.suspend(() =>
          connect(build(config, secrets, sentinel, timeoutMs), config.connectTimeoutMs ?? defaults.connectTimeoutMs)
        ),
        close
      )
      return RedisClient.of(
        fromClient(client, config, (commandTimeout) => build(config, secrets, sentinel, commandTimeout))
      )
    })
  )
