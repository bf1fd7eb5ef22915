import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Http from "../../src/http/index.ts"
import { hang, json, testServer } from "./server.ts"

const withClient = <A, E>(options: Http.HttpClientOptions, use: (http: Http.HttpClientShape) => Effect.Effect<A, E>) =>
  Http.HttpClient.use(use).pipe(Effect.provide(Http.layer(options)))

/** Waits (up to 2 s) until `check` holds: socket closes reach the server a moment after the client acts. */
const eventually = (check: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
    return check()
  })

describe("HttpClient", () => {
  it.live("sends method, query, headers and a JSON body; decodes the JSON answer", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/echo": json(201, { ok: true }) })
      const response = yield* withClient({}, (http) =>
        http.request({
          method: "POST",
          url: `${server.origin}/echo?a=1`,
          query: { b: "x y", c: [1, 2] },
          headers: { "X-Trace": "t1" },
          body: { bytes: JSON.stringify({ n: 1 }), contentType: "application/json" }
        })
      )
      assert.strictEqual(response.status, 201)
      assert.deepStrictEqual(response.body, { ok: true })
      const [seen] = server.received
      assert.strictEqual(seen?.method, "POST")
      assert.strictEqual(seen?.path, "/echo?a=1&b=x+y&c=1&c=2")
      assert.strictEqual(seen?.headers["x-trace"], "t1")
      assert.strictEqual(seen?.headers["content-type"], "application/json")
      assert.strictEqual(seen?.headers["user-agent"], "jsonflow-connectors")
      assert.strictEqual(seen?.body, '{"n":1}')
    }).pipe(Effect.scoped)
  )

  it.live("decodes text, binary (base64) and honours an explicit decoding", () =>
    Effect.gen(function* () {
      const server = yield* testServer({
        "/text": (_q, r) => r.writeHead(200, { "content-type": "text/csv" }).end("a,b"),
        "/bin": (_q, r) => r.writeHead(200, { "content-type": "image/png" }).end(Buffer.from([0, 1, 255])),
        "/json-as-text": json(200, { a: 1 })
      })
      const [text, bin, forced] = yield* withClient({}, (http) =>
        Effect.all([
          http.request({ method: "GET", url: `${server.origin}/text` }),
          http.request({ method: "GET", url: `${server.origin}/bin` }),
          http.request({ method: "GET", url: `${server.origin}/json-as-text`, response: "text" })
        ])
      )
      assert.strictEqual(text.body, "a,b")
      assert.strictEqual(bin.body, Buffer.from([0, 1, 255]).toString("base64"))
      assert.strictEqual(forced.body, '{"a":1}')
    }).pipe(Effect.scoped)
  )

  it.live("a malformed JSON 2xx body is an HttpDecodeError; on a failed status the text is kept", () =>
    Effect.gen(function* () {
      const bad = (status: number) => (_q: unknown, r: import("node:http").ServerResponse) =>
        r.writeHead(status, { "content-type": "application/json" }).end("{not json")
      const server = yield* testServer({ "/ok": bad(200), "/fail": bad(500) })
      const error = yield* withClient({}, (http) =>
        Effect.flip(http.request({ method: "GET", url: `${server.origin}/ok` }))
      )
      assert.strictEqual(error._tag, "HttpDecodeError")
      assert.isFalse(error.retryable)
      const failed = yield* withClient({}, (http) => http.request({ method: "GET", url: `${server.origin}/fail` }))
      assert.strictEqual(failed.status, 500)
      assert.strictEqual(failed.body, "{not json")
    }).pipe(Effect.scoped)
  )

  it.live("follows redirects (303 turns POST into GET), stops at maxRedirects, or returns the 3xx with 0", () =>
    Effect.gen(function* () {
      const redirect = (status: number, location: string) => (_q: unknown, r: import("node:http").ServerResponse) =>
        r.writeHead(status, { location }).end()
      const server = yield* testServer({
        "/a": redirect(302, "/b"),
        "/b": redirect(303, "/c"),
        "/c": json(200, { at: "c" }),
        "/loop": redirect(307, "/loop")
      })
      const followed = yield* withClient({}, (http) =>
        http.request({
          method: "POST",
          url: `${server.origin}/a`,
          body: { bytes: "{}", contentType: "application/json" }
        })
      )
      assert.deepStrictEqual(followed.body, { at: "c" })
      assert.strictEqual(followed.url, `${server.origin}/c`)
      assert.deepStrictEqual(
        server.received.map((r) => `${r.method} ${r.path}`),
        ["POST /a", "GET /b", "GET /c"]
      )
      const tooMany = yield* withClient({}, (http) =>
        Effect.flip(http.request({ method: "GET", url: `${server.origin}/loop`, maxRedirects: 3 }))
      )
      assert.strictEqual(tooMany._tag, "HttpRedirectError")
      const manual = yield* withClient({}, (http) =>
        http.request({ method: "GET", url: `${server.origin}/a`, maxRedirects: 0 })
      )
      assert.strictEqual(manual.status, 302)
      assert.strictEqual(manual.headers.location, "/b")
    }).pipe(Effect.scoped)
  )

  it.live("drops credentials on a cross-origin redirect", () =>
    Effect.gen(function* () {
      const target = yield* testServer({ "/land": json(200, {}) })
      const origin = yield* testServer({
        "/go": (_q, r) => r.writeHead(302, { location: `${target.origin}/land` }).end()
      })
      yield* withClient({}, (http) =>
        http.request({ method: "GET", url: `${origin.origin}/go`, headers: { authorization: "Bearer secret" } })
      )
      assert.strictEqual(origin.received[0]?.headers.authorization, "Bearer secret")
      assert.isUndefined(target.received[0]?.headers.authorization)
    }).pipe(Effect.scoped)
  )

  it.live("caps the response size, by content-length and while streaming, and drops the connection", () =>
    Effect.gen(function* () {
      const server = yield* testServer({
        "/declared": (_q, r) => r.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(2048)),
        "/chunked": (_q, r) => {
          r.writeHead(200, { "content-type": "text/plain" })
          r.write("x".repeat(1500))
          setTimeout(() => r.end("y".repeat(1500)), 20)
        }
      })
      const [declared, chunked] = yield* withClient({ defaults: { maxResponseBytes: 1024 } }, (http) =>
        Effect.all([
          Effect.flip(http.request({ method: "GET", url: `${server.origin}/declared` })),
          Effect.flip(http.request({ method: "GET", url: `${server.origin}/chunked`, maxResponseBytes: 2000 }))
        ])
      )
      assert.strictEqual(declared._tag, "HttpResponseTooLarge")
      assert.strictEqual(chunked._tag, "HttpResponseTooLarge")
      assert.isTrue(yield* eventually(() => server.openSockets() === 0), "both connections were dropped")
    }).pipe(Effect.scoped)
  )

  it.live("times out per attempt; retryable only for idempotent methods; the socket is closed", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/slow": hang })
      const [get, post] = yield* withClient({}, (http) =>
        Effect.all(
          [
            Effect.flip(http.request({ method: "GET", url: `${server.origin}/slow`, timeoutMs: 100 })),
            Effect.flip(http.request({ method: "POST", url: `${server.origin}/slow`, timeoutMs: 100 }))
          ],
          { concurrency: 2 }
        )
      )
      assert.strictEqual(get._tag, "HttpTimeout")
      assert.isTrue(get.retryable)
      if (get._tag === "HttpTimeout") assert.strictEqual(get.timeoutMs, 100, "the deadline that applied")
      assert.strictEqual(post._tag, "HttpTimeout")
      assert.isFalse(post.retryable)
      assert.isTrue(yield* eventually(() => server.openSockets() === 0))
    }).pipe(Effect.scoped)
  )

  it.live("a refused connection is an HttpConnectError, retryable for any method (nothing was sent)", () =>
    Effect.gen(function* () {
      const server = yield* testServer({})
      const port = Number(new URL(server.origin).port)
      yield* Effect.promise(() => new Promise<void>((resolve) => server.server.close(() => resolve())))
      const error = yield* withClient({}, (http) =>
        Effect.flip(http.request({ method: "POST", url: `http://127.0.0.1:${port}/x` }))
      )
      assert.strictEqual(error._tag, "HttpConnectError")
      assert.isTrue(error.retryable)
      if (error._tag === "HttpConnectError") assert.strictEqual(error.code, "ECONNREFUSED")
    }).pipe(Effect.scoped)
  )

  it.live("interrupting the fiber mid-request closes the socket (the server sees it) and frees the pool", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/slow": hang })
      yield* withClient({}, (http) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(http.request({ method: "GET", url: `${server.origin}/slow` }))
          assert.isTrue(yield* eventually(() => server.received.length === 1), "the request reached the server")
          const closed = server.nextSocketClose()
          yield* Fiber.interrupt(fiber)
          yield* Effect.promise(() => closed)
          const pool = () => http.stats()[server.origin]
          assert.isTrue(yield* eventually(() => (pool()?.running ?? 0) === 0 && (pool()?.connected ?? 0) === 0))
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("pool exhaustion: a queued request times out, leaves the queue, and leaks nothing", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/slow": hang, "/fast": json(200, {}) })
      yield* withClient({ connectionsPerOrigin: 1 }, (http) =>
        Effect.gen(function* () {
          const holder = yield* Effect.forkChild(http.request({ method: "GET", url: `${server.origin}/slow` }))
          assert.isTrue(yield* eventually(() => server.received.length === 1))
          const queued = yield* Effect.flip(
            http.request({ method: "GET", url: `${server.origin}/fast`, timeoutMs: 100 })
          )
          assert.strictEqual(queued._tag, "HttpTimeout")
          assert.strictEqual(server.received.length, 1, "the queued request never went out")
          yield* Fiber.interrupt(holder)
          assert.strictEqual(http.stats()[server.origin]?.waiting ?? 0, 0)
          const after = yield* http.request({ method: "GET", url: `${server.origin}/fast` })
          assert.strictEqual(after.status, 200, "the pool works again")
        })
      )
      assert.isTrue(yield* eventually(() => server.openSockets() === 0), "closing the layer closed the pool")
    }).pipe(Effect.scoped)
  )

  it.live("connector retry: retries 503 for GET, never for POST, honours Retry-After, gives up on a long one", () =>
    Effect.gen(function* () {
      let calls = 0
      const server = yield* testServer({
        "/flaky": (_q, r) => {
          calls++
          if (calls < 3) r.writeHead(503, { "retry-after": "0" }).end("busy")
          else r.writeHead(200, { "content-type": "application/json" }).end("{}")
        },
        "/busy": (_q, r) => r.writeHead(503).end("busy"),
        "/limited": (_q, r) => r.writeHead(429, { "retry-after": "1" }).end(),
        "/later": (_q, r) => r.writeHead(429, { "retry-after": "3600" }).end()
      })
      const retry = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2_000 }
      const count = (path: string) => server.received.filter((r) => r.path === path).length
      yield* withClient({}, (http) =>
        Effect.gen(function* () {
          const ok = yield* http.request({ method: "GET", url: `${server.origin}/flaky`, retry })
          assert.strictEqual(ok.status, 200)
          assert.strictEqual(count("/flaky"), 3)
          const post = yield* http.request({ method: "POST", url: `${server.origin}/busy`, retry })
          assert.strictEqual(post.status, 503)
          assert.strictEqual(count("/busy"), 1, "a POST is not repeated")
          const started = Date.now()
          const limited = yield* http.request({
            method: "POST",
            url: `${server.origin}/limited`,
            retry: { ...retry, maxAttempts: 2 }
          })
          assert.strictEqual(limited.status, 429)
          assert.strictEqual(count("/limited"), 2, "429 is retried for any method")
          assert.isAtLeast(Date.now() - started, 950, "after the Retry-After pause")
          const later = yield* http.request({ method: "GET", url: `${server.origin}/later`, retry })
          assert.strictEqual(later.status, 429)
          assert.strictEqual(count("/later"), 1, "a Retry-After beyond maxDelayMs is not waited for")
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("an invalid URL or scheme is an HttpInvalidRequest", () =>
    Effect.gen(function* () {
      const errors = yield* withClient({}, (http) =>
        Effect.all([
          Effect.flip(http.request({ method: "GET", url: "not a url" })),
          Effect.flip(http.request({ method: "GET", url: "file:///etc/passwd" }))
        ])
      )
      assert.deepStrictEqual(
        errors.map((e) => e._tag),
        ["HttpInvalidRequest", "HttpInvalidRequest"]
      )
    })
  )
})

describe("SSRF guard", () => {
  const targets = [
    "http://127.0.0.1:9/",
    "http://[::1]:9/",
    "http://10.0.0.1:9/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:9/",
    "http://[fd00::1]:9/",
    "http://0.0.0.0:9/",
    "http://localhost:9/"
  ]

  it.live("blocks loopback, private, link-local, unique-local and mapped targets before connecting", () =>
    Effect.gen(function* () {
      const errors = yield* withClient({ ssrfGuard: true }, (http) =>
        Effect.forEach(targets, (url) => Effect.flip(http.request({ method: "GET", url })))
      )
      for (const [i, error] of errors.entries()) {
        assert.strictEqual(error._tag, "HttpTargetDenied", targets[i])
        assert.isFalse(error.retryable)
      }
      const classes = errors.map((e) => (e._tag === "HttpTargetDenied" ? e.addressClass : e._tag))
      assert.deepStrictEqual(classes.slice(0, 7), [
        "loopback",
        "loopback",
        "private",
        "link-local",
        "loopback",
        "unique-local",
        "unspecified"
      ])
    })
  )

  it.live("the guarded server never sees a request; an allow-listed range goes through", () =>
    Effect.gen(function* () {
      const server = yield* testServer({ "/x": json(200, { ok: true }) })
      const blocked = yield* withClient({ ssrfGuard: true }, (http) =>
        Effect.flip(http.request({ method: "GET", url: `${server.origin}/x` }))
      )
      assert.strictEqual(blocked._tag, "HttpTargetDenied")
      assert.strictEqual(server.received.length, 0)
      assert.strictEqual(server.closedSockets(), 0, "no connection was even opened")
      const allowed = yield* withClient({ ssrfGuard: { enabled: true, allow: ["127.0.0.0/8"] } }, (http) =>
        http.request({ method: "GET", url: `${server.origin}/x` })
      )
      assert.strictEqual(allowed.status, 200)
    }).pipe(Effect.scoped)
  )

  it.live("redirects are checked too: a public-looking hop cannot bounce to an internal address", () =>
    Effect.gen(function* () {
      const server = yield* testServer({
        "/hop": (_q, r) => r.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end()
      })
      const error = yield* withClient({ ssrfGuard: { enabled: true, allow: ["127.0.0.1/32"] } }, (http) =>
        Effect.flip(http.request({ method: "GET", url: `${server.origin}/hop` }))
      )
      assert.strictEqual(error._tag, "HttpTargetDenied")
      if (error._tag === "HttpTargetDenied") assert.strictEqual(error.address, "169.254.169.254")
    }).pipe(Effect.scoped)
  )
})
