import { assert, describe, it } from "@effect/vitest"
import { Credentials } from "@jsonflow/core"
import { Effect, Layer, Schema } from "effect"
import { HttpRequestConfig, layer, request } from "../../src/http/index.ts"
import { nodeContext } from "../context.ts"
import { json, testServer } from "./server.ts"

const run = (config: typeof HttpRequestConfig.Encoded, input: unknown) =>
  request.run(input, Schema.decodeUnknownSync(HttpRequestConfig)(config), nodeContext("send", "http.request")).pipe(
    Effect.provide(
      Layer.mergeAll(
        layer(),
        Credentials.layerRecord({
          crm: { token: "t0k3n" },
          legacy: { username: "ada", password: "pa:ss" },
          keyed: { value: "k-1" }
        })
      )
    )
  )

/** The one emission of a node that emits on a single port. */
const single = <E extends object>(emission: E | ReadonlyArray<E>): E => {
  if (Array.isArray(emission)) throw new Error("expected a single emission")
  return emission as E
}

describe("http.request", () => {
  it.live("POSTs its input as JSON and emits status, headers and body on out", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/contacts": json(201, { id: 7 }) })
      const emitted = single(yield* run({ method: "POST", url: `${server.origin}/contacts` }, [{ name: "Ada" }]))
      assert.strictEqual(emitted.port, "out")
      assert.strictEqual(emitted.value.status, 201)
      assert.deepStrictEqual(emitted.value.body, { id: 7 })
      assert.strictEqual(emitted.value.headers["content-type"], "application/json")
      assert.strictEqual(server.received[0]?.body, '[{"name":"Ada"}]')
    }).pipe(Effect.scoped)
  )

  it.live("a failed status fails with HttpStatusError by default, or goes to the nonOk port", () =>
    Effect.gen(function* () {
      const server = yield* testServer({
        "/gone": json(404, { error: "no such contact" }),
        "/busy": (_q, r) => r.writeHead(503, { "retry-after": "7" }).end("try later")
      })
      const failed = yield* Effect.flip(run({ url: `${server.origin}/gone` }, null))
      assert.strictEqual(failed._tag, "HttpStatusError")
      if (failed._tag === "HttpStatusError") {
        assert.strictEqual(failed.status, 404)
        assert.isFalse(failed.retryable)
        assert.include(failed.message, "no such contact")
      }
      const busy = yield* Effect.flip(run({ url: `${server.origin}/busy` }, null))
      assert.isTrue(busy.retryable, "503 on a GET may be retried")
      if (busy._tag === "HttpStatusError") assert.strictEqual(busy.retryAfterMs, 7000)
      const busyPost = yield* Effect.flip(run({ method: "POST", url: `${server.origin}/busy` }, {}))
      assert.isFalse(busyPost.retryable, "503 on a POST is not safe to repeat")
      const markedSafe = yield* Effect.flip(run({ method: "POST", url: `${server.origin}/busy`, idempotent: true }, {}))
      assert.isTrue(markedSafe.retryable, "unless the request is marked idempotent")
      const routed = single(yield* run({ url: `${server.origin}/gone`, nonOk: "port" }, null))
      assert.strictEqual(routed.port, "nonOk")
      assert.strictEqual(routed.value.status, 404)
    }).pipe(Effect.scoped)
  )

  it.live("request mode: URL placeholders, relative URL, query and headers from the input", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "*": json(200, {}) })
      yield* run(
        { method: "PUT", url: `${server.origin}/v1/contacts/{id}`, input: "request", headers: { "x-a": "config" } },
        { params: { id: "a/b c" }, query: { dry: true }, headers: { "x-b": "input" }, body: { name: "Ada" } }
      )
      yield* run({ url: `${server.origin}/v1/`, input: "request" }, { url: "contacts?page=2" })
      const [put, get] = server.received
      assert.strictEqual(put?.method, "PUT")
      assert.strictEqual(put?.path, "/v1/contacts/a%2Fb%20c?dry=true")
      assert.strictEqual(put?.headers["x-a"], "config")
      assert.strictEqual(put?.headers["x-b"], "input")
      assert.strictEqual(put?.body, '{"name":"Ada"}')
      assert.strictEqual(get?.path, "/v1/contacts?page=2")
      const bad = yield* Effect.flip(run({ url: server.origin, input: "request" }, { headers: { n: 1 } }))
      assert.strictEqual(bad._tag, "HttpInvalidRequest")
    }).pipe(Effect.scoped)
  )

  it.live("encodes form, text and base64 binary bodies", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "*": json(200, {}) })
      yield* run({ method: "POST", url: `${server.origin}/form`, body: "form" }, { q: "a b", tags: ["x", "y"] })
      yield* run({ method: "POST", url: `${server.origin}/text` }, "plain words")
      yield* run(
        { method: "POST", url: `${server.origin}/bin`, body: "binary" },
        Buffer.from([1, 2, 3]).toString("base64")
      )
      const [form, text, bin] = server.received
      assert.strictEqual(form?.body, "q=a+b&tags=x&tags=y")
      assert.strictEqual(form?.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(text?.headers["content-type"], "text/plain; charset=utf-8")
      assert.strictEqual(bin?.headers["content-type"], "application/octet-stream")
      assert.strictEqual(Buffer.from(bin?.body ?? "", "utf8").length, 3)
      const bad = yield* Effect.flip(run({ method: "POST", url: server.origin, body: "binary" }, "not base64!"))
      assert.strictEqual(bad._tag, "HttpInvalidRequest")
    }).pipe(Effect.scoped)
  )

  it.live("resolves auth from credentials by name; a missing one is CredentialNotFound", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "*": json(200, {}) })
      yield* run({ url: server.origin, auth: { type: "bearer", credential: "crm" } }, null)
      yield* run({ url: server.origin, auth: { type: "basic", credential: "legacy" } }, null)
      yield* run({ url: server.origin, auth: { type: "header", credential: "keyed", header: "X-Api-Key" } }, null)
      const [bearer, basic, keyed] = server.received
      assert.strictEqual(bearer?.headers.authorization, "Bearer t0k3n")
      assert.strictEqual(basic?.headers.authorization, `Basic ${Buffer.from("ada:pa:ss").toString("base64")}`)
      assert.strictEqual(keyed?.headers["x-api-key"], "k-1")
      const missing = yield* Effect.flip(
        run({ url: server.origin, auth: { type: "bearer", credential: "nope" } }, null)
      )
      assert.strictEqual(missing._tag, "CredentialNotFound")
      assert.notInclude(JSON.stringify(server.received.map((r) => r.path)), "t0k3n")
    }).pipe(Effect.scoped)
  )

  it.live("TRACE is sent without a body; a TRACE config with a body is refused before sending", () =>
    Effect.gen(function* () {
      const server = yield* testServer({
        "/trace": (_q, r) => r.writeHead(200, { "content-type": "message/http" }).end()
      })
      const traced = single(yield* run({ method: "TRACE", url: `${server.origin}/trace` }, { ignored: true }))
      assert.strictEqual(traced.value.status, 200)
      assert.deepStrictEqual(
        server.received.map((r) => [r.method, r.body]),
        [["TRACE", ""]]
      )
      const refused = yield* Effect.flip(
        run({ method: "TRACE", url: `${server.origin}/trace`, body: "json" }, { a: 1 })
      )
      assert.strictEqual(refused._tag, "HttpInvalidRequest")
      assert.strictEqual(server.received.length, 1, "nothing was sent")
    }).pipe(Effect.scoped)
  )

  it("rejects out-of-range config values", () => {
    const decode = Schema.decodeUnknownExit(HttpRequestConfig)
    assert.strictEqual(decode({ url: "http://x", maxRedirects: 99 })._tag, "Failure")
    assert.strictEqual(decode({ url: "http://x", nonOk: "ignore" })._tag, "Failure")
    assert.strictEqual(decode({ url: "http://x", method: "POST", retry: { maxAttempts: 3 } })._tag, "Success")
  })
})
