import { randomUUID } from "node:crypto"
import { createServer, type Server } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Builtins, Compiler, Credentials, Flow, Registry } from "@jsonflow/core"
import { Effect, Fiber, Layer, Schema } from "effect"
import { Redis as IoRedis } from "ioredis"
import { runOut } from "../../test/node-context.ts"
import * as Services from "../../test/services.ts"
import * as Redis from "./index.ts"

const service = await Services.redis()
const address = new URL(Services.redisUrl)
const host = address.hostname
const port = Number(address.port || 6379)

/** A raw client for assertions and cleanup, independent of the code under test. */
const withRaw = <A>(f: (raw: IoRedis) => Promise<A>): Effect.Effect<A> =>
  Effect.promise(async () => {
    const raw = new IoRedis({ host, port, lazyConnect: true })
    await raw.connect()
    try {
      return await f(raw)
    } finally {
      raw.disconnect()
    }
  })

const deleteByPrefix = (prefix: string) =>
  withRaw(async (raw) => {
    let cursor = "0"
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
      if (keys.length > 0) await raw.del(...keys)
      cursor = next
    } while (cursor !== "0")
  })

const clientsNamed = (name: string) =>
  withRaw(async (raw) => {
    const list = String(await raw.call("CLIENT", "LIST"))
    return list.split("\n").filter((line) => line.includes(` name=${name} `))
  })

const waitFor = (check: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (yield* check) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

/**
 * Runs `f` with a RedisClient whose keys live under a fresh prefix (deleted afterwards) and whose
 * connections carry a fresh `CLIENT SETNAME`; once the layer is closed, no connection of that name may be
 * left on the server, whatever `f` did (failures included).
 */
const withRedis = <A, E>(
  f: (ctx: { readonly prefix: string; readonly name: string }) => Effect.Effect<A, E, Redis.RedisClient>,
  extra: Partial<typeof Redis.StandaloneConfig.Type> = {}
) => {
  const prefix = `jftest:${randomUUID()}:`
  const name = `jftest-${randomUUID().slice(0, 8)}`
  const gone = Effect.map(clientsNamed(name), (lines) => lines.length === 0)
  return f({ prefix, name }).pipe(
    Effect.provide(Redis.layer({ host, port, keyPrefix: prefix, connectionName: name, ...extra })),
    Effect.tap(() => waitFor(gone, `no connection named ${name} after the layer closed`)),
    Effect.ensuring(deleteByPrefix(prefix))
  )
}

/** Connections a local test server has open. */
const connectionsOf = (server: Server) =>
  Effect.callback<number>((resume) => {
    server.getConnections((_error, count) => resume(Effect.succeed(count)))
  })

/** A TCP server that speaks just enough RESP to pass ioredis' handshake and then never answers `stalled`. */
const stallingServer = (stalled: string): Promise<Server> =>
  new Promise((resolve) => {
    const server = createServer((socket) => {
      let buffer = ""
      socket.on("data", (chunk) => {
        buffer += chunk.toString("latin1")
        for (;;) {
          const match = /^\*(\d+)\r\n/.exec(buffer)
          if (!match) return
          let offset = match[0].length
          const args: Array<string> = []
          for (let i = 0; i < Number(match[1]); i++) {
            const header = /^\$(\d+)\r\n/.exec(buffer.slice(offset))
            if (!header) return
            const length = Number(header[1])
            if (buffer.length < offset + header[0].length + length + 2) return
            args.push(buffer.slice(offset + header[0].length, offset + header[0].length + length))
            offset += header[0].length + length + 2
          }
          buffer = buffer.slice(offset)
          const command = (args[0] ?? "").toUpperCase()
          if (command === stalled) continue
          socket.write(command === "INFO" ? "$9\r\nloading:0\r\n" : "+OK\r\n")
        }
      })
      socket.on("error", () => {})
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

const portOf = (server: Server) => {
  const info = server.address()
  return typeof info === "object" && info !== null ? info.port : 0
}

const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const p = portOf(server)
      server.close(() => resolve(p))
    })
  })

Services.describeWith(service, "redis", () => {
  it.live("set/get with strings, JSON and a TTL; NX does not overwrite", () =>
    withRedis(({ prefix }) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* runOut(Redis.set, { key: "plain", value: 42 }, {}), { written: true })
        assert.deepStrictEqual(yield* runOut(Redis.get, { key: "plain" }, {}), { found: true, value: "42" })

        const order = { id: 7, lines: [{ sku: "a", qty: 2 }] }
        yield* runOut(Redis.set, { key: "order", value: order }, { encoding: "json", ttlMs: 60_000 })
        assert.deepStrictEqual(yield* runOut(Redis.get, { key: "order" }, { encoding: "json" }), {
          found: true,
          value: order
        })
        const ttl = yield* withRaw((raw) => raw.pttl(`${prefix}order`))
        assert.isTrue(ttl > 50_000 && ttl <= 60_000, `pttl ${ttl}`)

        assert.deepStrictEqual(yield* runOut(Redis.set, { key: "plain", value: "x" }, { condition: "NX" }), {
          written: false
        })
        assert.deepStrictEqual(yield* runOut(Redis.get, { key: "missing" }, {}), { found: false, value: null })
        assert.deepStrictEqual(yield* runOut(Redis.del, { keys: ["plain", "order", "missing"] }, {}), { deleted: 2 })
      })
    )
  )

  it.live("hashes: hset, hget, hgetall", () =>
    withRedis(() =>
      Effect.gen(function* () {
        const added = yield* runOut(Redis.hset, { key: "customer", fields: { name: "Ada", vip: true } }, {})
        assert.deepStrictEqual(added, { added: 2 })
        assert.deepStrictEqual(yield* runOut(Redis.hget, { key: "customer", field: "name" }, {}), {
          found: true,
          value: "Ada"
        })
        assert.deepStrictEqual(yield* runOut(Redis.hgetall, { key: "customer" }, {}), { name: "Ada", vip: "true" })
        assert.deepStrictEqual(yield* runOut(Redis.hgetall, { key: "nobody" }, {}), {})
        yield* runOut(Redis.hset, { key: "doc", fields: { tags: ["a", "b"] } }, { encoding: "json" })
        assert.deepStrictEqual(yield* runOut(Redis.hgetall, { key: "doc" }, { encoding: "json" }), { tags: ["a", "b"] })
      })
    )
  )

  it.live("lists: rpush, lpush, lrange, lpop", () =>
    withRedis(() =>
      Effect.gen(function* () {
        assert.deepStrictEqual(
          yield* runOut(Redis.rpush, { key: "q", values: [{ n: 1 }, { n: 2 }] }, { encoding: "json" }),
          {
            length: 2
          }
        )
        assert.deepStrictEqual(yield* runOut(Redis.lpush, { key: "q", values: [{ n: 0 }] }, { encoding: "json" }), {
          length: 3
        })
        assert.deepStrictEqual(yield* runOut(Redis.lrange, { key: "q" }, { encoding: "json" }), [
          { n: 0 },
          { n: 1 },
          { n: 2 }
        ])
        assert.deepStrictEqual(yield* runOut(Redis.lpop, { key: "q", count: 2 }, { encoding: "json" }), [
          { n: 0 },
          { n: 1 }
        ])
        assert.deepStrictEqual(yield* runOut(Redis.lpop, { key: "q" }, { encoding: "json", count: 5 }), [{ n: 2 }])
        assert.deepStrictEqual(yield* runOut(Redis.lpop, { key: "q" }, {}), [])
      })
    )
  )

  it.live("publish reaches a subscriber", () =>
    withRedis(({ prefix }) =>
      Effect.gen(function* () {
        const channel = `${prefix}events`
        const subscriber = new IoRedis({ host, port, lazyConnect: true })
        yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.disconnect()))
        yield* Effect.promise(() => subscriber.connect())
        const received = new Promise<string>((resolve) => subscriber.on("message", (_channel, m: string) => resolve(m)))
        yield* Effect.promise(() => subscriber.subscribe(channel))
        const out = yield* runOut(Redis.publish, { channel, message: { order: 1 } }, { encoding: "json" })
        assert.deepStrictEqual(out, { receivers: 1 })
        assert.deepStrictEqual(JSON.parse(yield* Effect.promise(() => received)), { order: 1 })
      }).pipe(Effect.scoped)
    )
  )

  it.live("streams: xadd, xrange, xread (non-blocking and blocking)", () =>
    withRedis(() =>
      Effect.gen(function* () {
        const first = yield* runOut(Redis.xadd, { stream: "orders", fields: { id: 1, total: 9.5 } }, {})
        yield* runOut(Redis.xadd, { stream: "orders", fields: { doc: { id: 2 } } }, { encoding: "json", maxLen: 1000 })
        const all = yield* runOut(Redis.xrange, { stream: "orders" }, {})
        assert.strictEqual(all.length, 2)
        assert.deepStrictEqual(all[0], { id: first.id, fields: { id: "1", total: "9.5" } })

        const read = yield* runOut(Redis.xread, { stream: "orders", lastId: first.id }, { encoding: "json" })
        assert.deepStrictEqual(
          read.entries.map((e) => e.fields),
          [{ doc: { id: 2 } }]
        )
        const nothing = yield* runOut(Redis.xread, { stream: "orders", lastId: read.lastId }, {})
        assert.deepStrictEqual(nothing, { entries: [], lastId: read.lastId })

        // A blocking read wakes up when an entry arrives.
        const waiting = yield* Effect.forkChild(
          runOut(Redis.xread, { stream: "orders", lastId: read.lastId }, { blockMs: 5_000 })
        )
        yield* Effect.sleep("100 millis")
        const third = yield* runOut(Redis.xadd, { stream: "orders", fields: { id: 3 } }, {})
        const woke = yield* Fiber.join(waiting)
        assert.deepStrictEqual(woke, { entries: [{ id: third.id, fields: { id: "3" } }], lastId: third.id })
      })
    )
  )

  it.live("interrupting a blocking XREAD closes its connection on the server", () =>
    withRedis(({ name }) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(runOut(Redis.xread, { stream: "idle", lastId: "$" }, { blockMs: 0 }))
        const blocked = clientsNamed(name).pipe(Effect.map((lines) => lines.some((l) => l.includes("cmd=xread"))))
        yield* waitFor(blocked, "the XREAD to block on the server")
        yield* Fiber.interrupt(fiber)
        yield* waitFor(
          Effect.map(blocked, (b) => !b),
          "the blocked connection to be gone"
        )
        // The main connection is still there and usable.
        assert.strictEqual((yield* clientsNamed(name)).length, 1)
        assert.deepStrictEqual(yield* runOut(Redis.get, { key: "k" }, {}), { found: false, value: null })
      })
    )
  )

  it.live("a server error reply is a RedisReplyError, not retryable", () =>
    withRedis(() =>
      Effect.gen(function* () {
        yield* runOut(Redis.set, { key: "s", value: "text" }, {})
        const error = yield* Effect.flip(runOut(Redis.hget, { key: "s", field: "f" }, {}))
        assert.strictEqual(error._tag, "RedisReplyError")
        if (error._tag === "RedisReplyError") assert.strictEqual(error.code, "WRONGTYPE")
        assert.isFalse(error.retryable)
      })
    )
  )

  it.live("failures leave one connection while the layer is open, none once it is closed", () =>
    withRedis(({ name }) =>
      Effect.gen(function* () {
        yield* runOut(Redis.set, { key: "s", value: "text" }, {})
        yield* Effect.flip(runOut(Redis.hget, { key: "s", field: "f" }, {}))
        yield* Effect.flip(runOut(Redis.get, { key: "s" }, { encoding: "json" }))
        const blocking = yield* Effect.forkChild(runOut(Redis.xread, { stream: "idle", lastId: "$" }, { blockMs: 0 }))
        yield* waitFor(
          Effect.map(clientsNamed(name), (lines) => lines.length === 2),
          "the blocking XREAD on its own connection"
        )
        yield* Fiber.interrupt(blocking)
        yield* waitFor(
          Effect.map(clientsNamed(name), (lines) => lines.length === 1),
          "only the main connection to remain"
        )
      })
    )
  )

  it.live("values that do not fit the encoding are RedisValueError", () =>
    withRedis(() =>
      Effect.gen(function* () {
        const notText = yield* Effect.flip(runOut(Redis.set, { key: "k", value: { a: 1 } }, {}))
        assert.strictEqual(notText._tag, "RedisValueError")
        yield* runOut(Redis.set, { key: "k", value: "{not json" }, {})
        const notJson = yield* Effect.flip(runOut(Redis.get, { key: "k" }, { encoding: "json" }))
        assert.strictEqual(notJson._tag, "RedisValueError")
        assert.isFalse(notJson.retryable)
        assert.include(notJson.message, "not valid JSON")
      })
    )
  )

  it.live("runs inside a compiled builder flow and a JSON flow", () =>
    withRedis(() =>
      Effect.gen(function* () {
        const cache = Flow.make({
          id: "cache-roundtrip",
          input: Schema.Struct({ key: Schema.String, value: Schema.Unknown })
        })
          .node("save", Redis.set, { encoding: "json", ttlMs: 10_000 }, (p) => p.$input)
          .map("key", (p) => p.save.out, { fields: { key: "$trigger.key" } }, Schema.Struct({ key: Schema.String }))
          .andThen("load", Redis.get, { encoding: "json" })
          .build()
        const result = yield* Flow.run(cache, { key: "order:1", value: { total: 42 } })
        assert.deepStrictEqual(result.output, { found: true, value: { total: 42 } })

        const ir = {
          id: "json-redis",
          version: "1",
          trigger: { type: "manual" },
          nodes: { load: { type: "redis.get", config: { encoding: "json" } } },
          edges: [{ from: { node: "$input", port: "out" }, to: { node: "load", port: "in" } }],
          output: { node: "load", port: "out" }
        }
        const compiled = yield* Compiler.compile(ir, Registry.merge(Builtins.registry, Redis.registry))
        const fromJson = yield* compiled.run({ key: "order:1" })
        assert.deepStrictEqual(fromJson.output, { found: true, value: { total: 42 } })
      })
    )
  )

  it.live("credentials by name: a wrong password fails the layer, not retryable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(
          Redis.RedisClient.use((r) => r.get("k")),
          Redis.layer({ host, port, credential: "cache" }).pipe(
            Layer.provide(Credentials.layerRecord({ cache: { username: "nobody", password: "wrong" } }))
          )
        )
      )
      assert.strictEqual(error._tag, "RedisReplyError")
      if (error._tag === "RedisReplyError") assert.strictEqual(error.code, "WRONGPASS")
      assert.isFalse(error.retryable)
      assert.notInclude(error.message, "wrong")
      const missing = yield* Effect.flip(
        Effect.provide(
          Redis.RedisClient.use((r) => r.get("k")),
          Redis.layer({ host, port, credential: "absent" }).pipe(Layer.provide(Credentials.layerRecord({})))
        )
      )
      assert.strictEqual(missing._tag, "CredentialNotFound")
    })
  )
})

// These need no Redis: the "servers" are local sockets.
describe("redis failures", () => {
  it.live("a refused connection fails the layer with a retryable RedisUnavailable", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.promise(closedPort)
      const error = yield* Effect.flip(
        Effect.provide(
          Redis.RedisClient.use((r) => r.get("k")),
          Redis.layer({ port: closed, connectTimeoutMs: 2_000 })
        )
      )
      assert.strictEqual(error._tag, "RedisUnavailable")
      assert.isTrue(error.retryable)
      assert.include(error.message, "ECONNREFUSED")
    })
  )

  it.live("cluster and sentinel configs build their clients (and fail cleanly when unreachable)", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.promise(closedPort)
      const cluster = Schema.decodeUnknownSync(Redis.RedisConfig)({
        mode: "cluster",
        nodes: [{ host: "127.0.0.1", port: closed }],
        connectTimeoutMs: 1_000
      })
      const sentinel = Schema.decodeUnknownSync(Redis.RedisConfig)({
        mode: "sentinel",
        sentinels: [{ host: "127.0.0.1", port: closed }],
        name: "mymaster",
        role: "replica",
        connectTimeoutMs: 1_000
      })
      for (const config of [cluster, sentinel]) {
        const error = yield* Effect.flip(
          Effect.provide(
            Redis.RedisClient.use((r) => r.get("k")),
            Redis.layer(config)
          )
        )
        assert.strictEqual(error._tag, "RedisUnavailable")
      }
    })
  )

  it.live("a command with no reply fails with RedisTimeout; retryable only if idempotent", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => stallingServer("GET")),
        (s) => Effect.sync(() => s.close())
      )
      const layer = Redis.layer({ port: portOf(server), commandTimeoutMs: 200 })
      const error = yield* Effect.flip(Effect.provide(runOut(Redis.get, { key: "k" }, {}), layer))
      assert.strictEqual(error._tag, "RedisTimeout")
      assert.isTrue(error.retryable)
      yield* waitFor(
        Effect.map(connectionsOf(server), (n) => n === 0),
        "the client to close its connection with the layer"
      )
      const stalled = yield* Effect.acquireRelease(
        Effect.promise(() => stallingServer("RPUSH")),
        (s) => Effect.sync(() => s.close())
      )
      const push = yield* Effect.flip(
        Effect.provide(
          runOut(Redis.rpush, { key: "q", values: ["a"] }, {}),
          Redis.layer({ port: portOf(stalled), commandTimeoutMs: 200 })
        )
      )
      assert.strictEqual(push._tag, "RedisTimeout")
      assert.isFalse(push.retryable, "an RPUSH may have been applied: not safe to retry")
      yield* waitFor(
        Effect.map(connectionsOf(stalled), (n) => n === 0),
        "the client to close its connection with the layer"
      )
    }).pipe(Effect.scoped)
  )

  it.live("a server that never becomes ready fails the layer within connectTimeoutMs", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => stallingServer("INFO")),
        (s) => Effect.sync(() => s.close())
      )
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.provide(
          Redis.RedisClient.use((r) => r.get("k")),
          Redis.layer({ port: portOf(server), connectTimeoutMs: 300 })
        )
      )
      assert.strictEqual(error._tag, "RedisUnavailable")
      assert.isBelow(Date.now() - started, 2_000)
      yield* waitFor(
        Effect.map(connectionsOf(server), (n) => n === 0),
        "the failed layer to leave no connection behind"
      )
      // ioredis would reconnect within a few hundred ms if a retry loop were left running.
      yield* Effect.sleep("400 millis")
      assert.strictEqual(yield* connectionsOf(server), 0, "no reconnect loop left behind")
    }).pipe(Effect.scoped)
  )
})
