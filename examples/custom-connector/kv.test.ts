import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Credentials, Flow } from "@jsonflow/core"
import { Effect, Fiber, Layer, Schema } from "effect"
import * as Kv from "./kv/index.ts"
import { type ServerOptions, startServer } from "./kv/server.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

/** A KV server for one test, closed with the test's scope. */
const kvServer = (options: ServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startServer(options)),
    (server) => Effect.promise(() => server.close())
  )

const waitFor = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 200 && !check(); i++) yield* Effect.sleep("10 millis")
    assert.isTrue(check(), `timed out waiting for ${what}`)
  })

const counter = Flow.make({ id: "count-visit", input: Schema.Struct({ key: Schema.String }) })
  .node("count", Kv.incr, { by: 1 }, (p) => p.$input, { retry: { maxAttempts: 3, initialDelayMs: 1 } })
  .build()

describe("custom connector example", () => {
  it("main.ts runs with node and prints both flows' results", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, [main], { cwd: root })
    assert.deepStrictEqual(stdout.trim().split("\n"), [
      'builder: {"found":true,"value":{"title":"Hello","tags":["a","b"]}}',
      'json: {"found":true,"value":{"title":"Hello","tags":["a","b"]}} {"found":true,"value":1}'
    ])
  })

  it("every code excerpt in the guide is verbatim from the example", async () => {
    const guide = await readFile(`${root}packages/connectors/docs/custom-connector.md`, "utf8")
    const excerpts = [...guide.matchAll(/```ts\n\/\/ (examples\/custom-connector\/[^\n]+)\n([\s\S]*?)```/g)]
    assert.isAbove(excerpts.length, 3)
    // Indentation aside (the formatter re-indents code blocks in Markdown), every line is the file's.
    const unindent = (text: string) =>
      text
        .split("\n")
        .map((line) => line.trimStart())
        .join("\n")
        .trim()
    for (const [, path, code] of excerpts) {
      const source = await readFile(`${root}${path}`, "utf8")
      assert.include(unindent(source), unindent(code ?? ""), `excerpt of ${path}`)
    }
  })

  it.live("authenticates with a credential and runs in a compiled flow", () =>
    Effect.gen(function* () {
      const server = yield* kvServer({ token: "s3cret" })
      const layer = Kv.layer({ port: server.port, credential: "kv" }).pipe(
        Layer.provide(Credentials.layerRecord({ kv: { token: "s3cret" } }))
      )
      const first = yield* Flow.run(counter, { key: "visits" }).pipe(Effect.provide(layer))
      const second = yield* Flow.run(counter, { key: "visits" }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(
        [first.output, second.output],
        [
          { key: "visits", value: 1 },
          { key: "visits", value: 2 }
        ]
      )
      const wrong = Kv.layer({ port: server.port, credential: "kv" }).pipe(
        Layer.provide(Credentials.layerRecord({ kv: { token: "nope" } }))
      )
      const error = yield* Effect.flip(Flow.run(counter, { key: "visits" }).pipe(Effect.provide(wrong)))
      assert.strictEqual(error._tag, "KvAuthError")
    }).pipe(Effect.scoped)
  )

  it.live("the engine retries a retryable error (KvBusy) and reports the attempts", () =>
    Effect.gen(function* () {
      const server = yield* kvServer({ busy: ["INCR"] })
      const failure = yield* Effect.flip(
        Flow.run(counter, { key: "visits" }).pipe(Effect.provide(Kv.layer({ port: server.port })))
      )
      assert.strictEqual(failure._tag, "NodeFailed")
      if (failure._tag === "NodeFailed") {
        assert.strictEqual(failure.attempts, 3)
        assert.strictEqual(failure.error._tag, "KvBusy")
        assert.isTrue(failure.error.retryable)
      }
      assert.deepStrictEqual(
        server.received.filter((c) => c === "INCR"),
        ["INCR", "INCR", "INCR"]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a timeout is retryable for GET but not for INCR; the server sees the connection close", () =>
    Effect.gen(function* () {
      const server = yield* kvServer({ slow: { commands: ["GET", "INCR"], ms: 1_000 } })
      const errors = yield* Effect.gen(function* () {
        const kv = yield* Kv.KvClient
        return [yield* Effect.flip(kv.get("a")), yield* Effect.flip(kv.incr("a", 1))]
      }).pipe(Effect.provide(Kv.layer({ port: server.port, timeoutMs: 100 })))
      assert.deepStrictEqual(
        errors.map((e) => [e._tag, e.retryable]),
        [
          ["KvTimeout", true],
          ["KvTimeout", false]
        ]
      )
      yield* waitFor(() => server.abandoned() === 2, "the server to see both connections close")
      // The INCR was applied although its caller gave up: why its timeout is not retryable.
      assert.strictEqual(server.data.get("a"), "1")
    }).pipe(Effect.scoped)
  )

  it.live("interrupting a call closes its connection", () =>
    Effect.gen(function* () {
      const server = yield* kvServer({ slow: { commands: ["GET"], ms: 5_000 } })
      yield* Effect.gen(function* () {
        const kv = yield* Kv.KvClient
        const fiber = yield* Effect.forkChild(kv.get("a"))
        yield* waitFor(() => server.received.includes("GET"), "the GET to reach the server")
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(Kv.layer({ port: server.port })))
      yield* waitFor(() => server.abandoned() === 1, "the server to see the connection close")
    }).pipe(Effect.scoped)
  )

  it.live("a refused connection, a wrong token and a server that does not speak KV fail the layer", () =>
    Effect.gen(function* () {
      const start = (config: Kv.KvConfig) => Effect.flip(Effect.provide(Effect.void, Kv.layer(config)))
      const closed = yield* kvServer()
      yield* Effect.promise(() => closed.close())
      const refused = yield* start({ port: closed.port })
      assert.strictEqual(refused._tag, "KvUnavailable")
      assert.isTrue(refused.retryable)

      const guarded = yield* kvServer({ token: "s3cret" })
      const anonymous = yield* start({ port: guarded.port })
      assert.strictEqual(anonymous._tag, "KvAuthError")

      const garbage = yield* kvServer({ garbage: true })
      const confused = yield* start({ port: garbage.port })
      assert.strictEqual(confused._tag, "KvProtocolError")
      assert.isFalse(confused.retryable)
    }).pipe(Effect.scoped)
  )
})
