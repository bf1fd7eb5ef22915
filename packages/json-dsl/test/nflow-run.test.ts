import { describe, expect, it } from "vitest"
import { serve } from "./support/nflow.ts"

describe("nFlow exports answer requests like nflow-runtime", () => {
  it("branches on next, reads path params and query, replies with json boxes", async () => {
    const { imported, request } = serve("users.json")
    expect(imported.problems).toEqual([])
    expect(await request("GET", "/users/1", { query: { lang: "fr" } })).toEqual({
      status: 200,
      headers: { "content-type": "application/json" },
      body: { id: "1", name: "Ada", lang: "fr" }
    })
    const missing = await request("GET", "/users/9")
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: "no user 9" })
    expect((await request("GET", "/users/1/")).status).toBe(404)
    expect(await request("POST", "/users/1")).toMatchObject({ status: 404, body: { message: "not found", code: 404 } })
  })
})
