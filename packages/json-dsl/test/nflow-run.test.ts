import { describe, expect, it } from "vitest"
import { modulesDir, serve } from "./support/nflow.ts"

const json = { "content-type": "application/json" }

describe("nFlow exports answer requests like nflow-runtime (minus its bugs)", () => {
  it("branches on next, reads path params and the query, replies through json boxes (UUID ids)", async () => {
    const { imported, request } = serve("users.json")
    expect(imported.problems).toEqual([])
    expect(imported.flows.map((f) => [f.flow.id, f.flow.trigger])).toEqual([
      ["home-get-users-id", { type: "http", method: "GET", path: "/users/:id" }]
    ])
    expect(await request("GET", "/users/1", { query: { lang: "fr" } })).toEqual({
      status: 200,
      headers: json,
      body: { id: "1", name: "Ada", lang: "fr" }
    })
    // The second output of the script: the json box replies with the whole payload and http_code 404.
    expect(await request("GET", "/users/9")).toEqual({ status: 404, headers: json, body: { error: "no user 9" } })
    // Segment counts must match; methods compare exactly.
    expect(await request("GET", "/users/1/")).toMatchObject({ status: 404, body: { message: "not found", code: 404 } })
    expect(await request("POST", "/users/1")).toMatchObject({ status: 404, body: { message: "not found", code: 404 } })
  })

  const loops = serve("loops.json", { modules: modulesDir() })

  it("imports every starter of a module with integer ids", () => {
    expect(loops.imported.problems).toEqual([])
    expect(loops.imported.flows.map((f) => `${f.starter.method} ${f.starter.urlpattern}`)).toEqual([
      "GET /sum",
      "ANY /fork",
      "GET /compare",
      "GET /custom/:name",
      "GET /forever",
      "POST /pause",
      "GET /boom",
      "PUT /echo",
      "GET /page/:name"
    ])
    expect(loops.imported.flows[0]?.flow.settings).toEqual({ allowCycles: true })
  })

  it("loops through _js_foreach until the list is empty", async () => {
    expect(await loops.request("GET", "/sum")).toEqual({ status: 200, headers: json, body: 10 })
  })

  it("runs the second branch of a parallel box detached: its replies and failures do not reach the client", async () => {
    const response = await loops.request("DELETE", "/fork")
    expect(response).toEqual({ status: 201, headers: json, body: { who: "main" } })
  })

  it("standard boxes: query params to payload, if_equals, if_major, Go template, mustache, end", async () => {
    const html = { "content-type": "text/html; charset=UTF-8" }
    expect(await loops.request("GET", "/compare", { query: { mode: "1", n: "12", tag: "<b>" } })).toEqual({
      status: 200,
      headers: html,
      body: "<p>12 is big (&lt;b&gt;)</p>"
    })
    expect(await loops.request("GET", "/compare", { query: { mode: "1", n: "3", tag: "a&b" } })).toEqual({
      status: 200,
      headers: html,
      body: "<p>3 is small & a&amp;b</p>"
    })
    expect(await loops.request("GET", "/compare", { query: { mode: "2" } })).toEqual({
      status: 200,
      headers: json,
      body: {}
    })
  })

  it("custom boxes run the module from the modules directory with their designer fields", async () => {
    expect(await loops.request("GET", "/custom/ada")).toEqual({ status: 200, headers: json, body: "hello ada!" })
  })

  it("bounds endless cycles by maxSteps", async () => {
    await expect(loops.request("GET", "/forever")).rejects.toMatchObject({ _tag: "MaxStepsExceeded", nodeId: "n_22" })
  })

  it("a payload with break stops the flow; the reply written before stays, with headers set by c.SetHeader", async () => {
    expect(await loops.request("POST", "/pause")).toEqual({
      status: 202,
      headers: { "x-paused": "yes", "content-type": "text/plain; charset=UTF-8" },
      body: "paused at 24"
    })
  })

  it("a script that throws answers 500 { message, actor }", async () => {
    expect(await loops.request("GET", "/boom")).toEqual({
      status: 500,
      headers: json,
      body: { message: "Error: kaput", actor: { id: "27" } }
    })
  })

  it("template() and mustache() in scripts render through c.HTML", async () => {
    const html = { "content-type": "text/html; charset=UTF-8" }
    expect(await loops.request("GET", "/page/go")).toEqual({ status: 200, headers: html, body: "<h1>A &amp; B</h1>" })
    expect(await loops.request("GET", "/page/<x>")).toEqual({ status: 200, headers: html, body: "<h1>&lt;x&gt;</h1>" })
  })

  it("scripts see post_data, header (canonical names, value arrays), the query and the request", async () => {
    expect(
      await loops.request("PUT", "/echo", {
        body: { a: 1 },
        headers: { authorization: "Bearer t" },
        query: { x: ["1", "2"] }
      })
    ).toEqual({
      status: 200,
      headers: json,
      body: { body: { a: 1 }, auth: ["Bearer t"], q: { x: ["1", "2"] }, method: "PUT" }
    })
  })
})
