import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Http from "@jsonflow/connectors/http"
import { Compiler, Registry } from "@jsonflow/core"
import { Sandbox } from "@jsonflow/sandbox"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Execute, HttpRequest, Nflow } from "../src/index.ts"

/** What the test server saw of each request. */
interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
  aborted: boolean
}

const seen: Array<Seen> = []
const hanging = new Set<ServerResponse>()
const server = createServer((request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const entry: Seen = {
      method: request.method ?? "",
      url: request.url ?? "",
      headers: request.headers,
      body: Buffer.concat(chunks).toString("utf8"),
      aborted: false
    }
    seen.push(entry)
    const url = new URL(request.url ?? "/", "http://x")
    if (url.pathname === "/hang") {
      // Never answers; notes when the client gives up.
      hanging.add(response)
      response.on("close", () => {
        entry.aborted = true
      })
      return
    }
    if (url.pathname.startsWith("/users/")) {
      response.writeHead(200, { "content-type": "application/json", "x-served-by": "test" })
      response.end(JSON.stringify({ id: url.pathname.slice(7), q: url.searchParams.get("q") }))
      return
    }
    if (url.pathname === "/missing") {
      response.writeHead(404, { "content-type": "text/plain" })
      response.end("no such thing")
      return
    }
    response.writeHead(201, { "content-type": "application/json" })
    response.end(JSON.stringify({ method: entry.method, received: entry.body }))
  })
})
let base = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  for (const response of hanging) response.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await Promise.all([withHttp.dispose(), withoutHttp.dispose()])
})

/** The production wiring (as the runner's JSON environment): the sandbox, and the flow's HttpClient if any. */
const runner: Nflow.JsNode.ScriptRunner<Sandbox> = {
  run: (source, input, { nodeId, executionId, hostCalls }) =>
    Sandbox.use((sandbox) =>
      Effect.map(
        sandbox.run(source, input, { nodeId, executionId, ...(hostCalls === undefined ? {} : { hostCalls }) }),
        (result) => result.output
      )
    ),
  httpClient: Effect.serviceOption(Http.HttpClient)
}
const registry = Registry.merge(Nflow.nativeRegistry, Nflow.registry(runner))

const sandbox = Sandbox.layer({ limits: { timeoutMs: 1_000 } }) as Layer.Layer<Sandbox, unknown>
// The SSRF guard on, as for every JSON flow; only the test server's loopback address is let through.
const guardedHttp = Http.layer({ ssrfGuard: { enabled: true, allow: ["127.0.0.1/32"] } })
const withHttp = ManagedRuntime.make(Layer.merge(sandbox, guardedHttp) as Layer.Layer<Sandbox | Http.HttpClient>)
const withoutHttp = ManagedRuntime.make(sandbox as Layer.Layer<Sandbox>)

/** An nFlow export with one `GET <path>` starter wired to a js box (id "2") running `code`. */
const exportOf = (path: string, code: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    drawflow: {
      Home: {
        data: {
          "1": {
            id: 1,
            name: "_start_http",
            data: { type: "starter", method: "GET", urlpattern: path, nflow_auth: "false" },
            class: "_start_http",
            html: "",
            typenode: false,
            inputs: {},
            outputs: { output_1: { connections: [{ node: "2", output: "input_1" }] } },
            pos_x: 0,
            pos_y: 0
          },
          "2": {
            id: 2,
            name: "_js_code",
            data: { type: "js", name_box: "call out", code, ...fields },
            class: "_js_code",
            html: "",
            typenode: false,
            inputs: { input_1: { connections: [{ node: "1", input: "output_1" }] } },
            outputs: {},
            pos_x: 200,
            pos_y: 0
          }
        }
      }
    }
  })

const serve = (code: string, runtime: ManagedRuntime.ManagedRuntime<Sandbox, unknown> = withHttp) => {
  const imported = Nflow.importExport(exportOf("/go", code, { base }))
  expect(imported.problems).toEqual([])
  const flow = imported.flows[0]!.flow
  const compiled = Compiler.compileSync(flow, registry)
  if (compiled._tag === "Failed") throw compiled.error
  const nodeId = Object.entries(flow.nodes).find(([, node]) => (node.config as { id?: string }).id === "2")![0]
  const request = () =>
    runtime.runPromise(Execute.runRequest(compiled.flow, HttpRequest.make({ method: "GET", path: "/go" })))
  return { nodeId, request }
}

describe("nFlow http_* helpers through the HTTP connector", () => {
  it("http_get and http_post_with_header reach the server and return nflow-runtime's { body, status, status_code, header, err }", async () => {
    seen.length = 0
    const { request } = serve(`function main() {
  var got = http_get(nflow_data.base + "/users/7?q=a%20b")
  var posted = http_post_with_header(nflow_data.base + "/orders", JSON.stringify({ item: "tea", n: 2 }), {
    "Content-Type": ["application/json"],
    "X-Trace": ["t-1", "t-2"],
    "Authorization": "Bearer secret"
  })
  c.JSON(200, { got: got, posted: posted, user: JSON.parse(got.body) })
}`)
    const response = await request()
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(["GET /users/7?q=a%20b", "POST /orders"])
    const post = seen[1]!
    expect(post.headers).toMatchObject({
      "content-type": "application/json",
      "x-trace": "t-1, t-2",
      authorization: "Bearer secret"
    })
    expect(JSON.parse(post.body)).toEqual({ item: "tea", n: 2 })
    expect(response.status).toBe(200)
    const body = response.body as {
      got: Record<string, unknown>
      posted: Record<string, unknown>
      user: unknown
    }
    expect(body.got).toMatchObject({
      body: '{"id":"7","q":"a b"}',
      status: "200 OK",
      status_code: 200,
      header: { "Content-Type": ["application/json"], "X-Served-By": ["test"] },
      err: null
    })
    expect(body.user).toEqual({ id: "7", q: "a b" })
    expect(body.posted).toMatchObject({
      status: "201 Created",
      status_code: 201,
      body: JSON.stringify({ method: "POST", received: '{"item":"tea","n":2}' }),
      err: null
    })
  })

  it("put, patch and delete send their bodies; a 404 is an answer, not a failure", async () => {
    seen.length = 0
    const { request } = serve(`function main() {
  var b = nflow_data.base
  var out = [http_put(b + "/a", "one"), http_patch_with_header(b + "/b", { two: 2 }, { "X-K": ["v"] }), http_delete(b + "/c"), http_get_with_header(b + "/missing", { "Accept": ["text/plain"] })]
  c.JSON(200, out.map(function (r) { return r.status_code + " " + r.body }))
}`)
    const response = await request()
    expect(seen.map((s) => [s.method, s.url, s.body, s.headers["content-type"]])).toEqual([
      ["PUT", "/a", "one", "text/plain; charset=utf-8"],
      ["PATCH", "/b", '{"two":2}', "application/json"],
      ["DELETE", "/c", "", undefined],
      ["GET", "/missing", "", undefined]
    ])
    expect(seen[1]!.headers["x-k"]).toBe("v")
    expect(seen[3]!.headers.accept).toBe("text/plain")
    expect(response.body).toEqual([
      `201 ${JSON.stringify({ method: "PUT", received: "one" })}`,
      `201 ${JSON.stringify({ method: "PATCH", received: '{"two":2}' })}`,
      `201 ${JSON.stringify({ method: "DELETE", received: "" })}`,
      "404 no such thing"
    ])
  })

  it("a private target is refused by the SSRF guard: the typed error names the node", async () => {
    const code = `function main() {
  try { http_get("http://169.254.169.254/latest/meta-data/") } catch (e) { payload.swallowed = true }
  c.JSON(200, payload)
}`
    const { nodeId, request } = serve(code)
    const response = await request()
    expect(response.status).toBe(500)
    const body = response.body as { message: string; actor: unknown }
    expect(body.actor).toEqual({ id: "2" })
    expect(body.message).toBe(
      `HostCallError: script of node "${nodeId}" failed in its host call "http": HttpTargetDenied: GET http://169.254.169.254/latest/meta-data/: 169.254.169.254 resolves to 169.254.169.254, a link-local address; the SSRF guard blocks it`
    )
    // The error itself, as the sandbox gives it: typed, with the node and the connector's error tag.
    const error = await withHttp.runPromise(
      Effect.flip(
        Effect.flatMap(Effect.service(Http.HttpClient), (client) =>
          runner.run(
            Nflow.Contract.scriptSource(code),
            Nflow.Contract.scriptInput({
              payload: {},
              request: HttpRequest.make({ method: "GET", path: "/go" }),
              box: "2",
              prev: null,
              data: {},
              outputs: {},
              flowName: "Home",
              executionId: "e-1"
            }),
            { nodeId, executionId: "e-1", hostCalls: Nflow.Http.hostCalls(client) }
          )
        )
      )
    )
    expect(error).toMatchObject({
      _tag: "HostCallError",
      nodeId,
      executionId: "e-1",
      capability: "http",
      reason: "failed",
      errorTag: "HttpTargetDenied",
      retryable: false
    })
  })

  it("a server that never answers ends at the script's deadline with the usual timeout, and the request is dropped", async () => {
    seen.length = 0
    const { nodeId, request } = serve(`function main() {
  payload.r = http_get(nflow_data.base + "/hang")
  c.JSON(200, payload)
}`)
    const started = performance.now()
    const response = await request()
    const elapsed = performance.now() - started
    expect(response).toMatchObject({
      status: 500,
      body: { message: `ScriptTimeout: script of node "${nodeId}" ran past its 1000 ms time limit`, actor: { id: "2" } }
    })
    expect(elapsed).toBeGreaterThanOrEqual(990)
    expect(elapsed).toBeLessThan(3_000)
    await expect.poll(() => seen.find((s) => s.url === "/hang")?.aborted, { timeout: 2_000 }).toBe(true)
  })

  it("without an HttpClient the helpers throw the clear error of the compatibility layer", async () => {
    const { request } = serve(
      `function main() {
  c.JSON(200, http_post_with_header(nflow_data.base + "/orders", "{}", {}))
}`,
      withoutHttp
    )
    expect(await request()).toMatchObject({
      status: 500,
      body: {
        message: expect.stringContaining(
          "Error: http_post_with_header() is not available in JSON-Flow's nFlow compatibility layer (line 2,"
        ),
        actor: { id: "2" }
      }
    })
  })

  it("a script error points at the user's line, not the wrapper's", async () => {
    const { nodeId, request } = serve(
      `var first = 1
function main() {
  var list = null
  payload.n = list.length
}`,
      withoutHttp
    )
    const response = await request()
    expect(response.status).toBe(500)
    expect((response.body as { message: string }).message).toBe(
      `ScriptError: script of node "${nodeId}" failed: TypeError: Cannot read properties of null (reading 'length') (line 4, column 20)`
    )
  })
})
