import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Runner } from "@jsonflow/runner"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot, type Served, serve, tempDir } from "./support.ts"

// A real nFlow designer export (GET /users/:id through a JS code box), from the json-dsl fixtures.
const nflowExport = readFileSync(join(repoRoot, "packages/json-dsl/test/fixtures/nflow/users.json"), "utf8")

// A TypeScript module exporting a built flow; it imports core by file URL since it lives outside the repo.
const core = pathToFileURL(join(repoRoot, "packages/core/src/index.ts")).href
const tsModule = (greeting: string) => `import { Flow } from ${JSON.stringify(core)}
export const hi = Flow.make({ id: "hi", trigger: { type: "http", method: "GET", path: "/hi/:name" } })
  .map("out", (p) => p.$input, { fields: { greeting: { value: ${JSON.stringify(greeting)} }, name: "name" } })
  .build()
export const notAFlow = 42
`

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000) => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}
const getJson = async (url: string) => {
  const r = await fetch(url)
  return { status: r.status, body: (await r.json()) as unknown }
}

describe("a directory with an nFlow export and a TypeScript module, watched", () => {
  const files = tempDir({ "users.json": nflowExport, "hi.ts": tsModule("hello") })
  let runner: Runner.RunningRunner
  beforeAll(async () => {
    runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      config: { server: { port: 0, host: "127.0.0.1" }, audit: { sink: "none" } }
    })
  })
  afterAll(async () => {
    await runner?.stop()
    files.cleanup()
  })

  it("serves both: the export's route (through the sandbox) and the module's built flow", async () => {
    expect(runner.flows().map((f) => [f.id, f.kind])).toEqual(
      expect.arrayContaining([
        ["hi", "builder"],
        [expect.any(String), "json"]
      ])
    )
    expect(await getJson(`${runner.url}/users/1?lang=fr`)).toEqual({
      status: 200,
      body: { id: "1", name: "Ada", lang: "fr" }
    })
    expect((await getJson(`${runner.url}/users/9`)).status).toBe(404)
    expect(await getJson(`${runner.url}/hi/bob`)).toEqual({ status: 200, body: { greeting: "hello", name: "bob" } })
  })

  it("reloads each when its file changes", async () => {
    writeFileSync(join(files.dir, "users.json"), nflowExport.replace('\\"Ada\\"', '\\"Ada Lovelace\\"'))
    writeFileSync(join(files.dir, "hi.ts"), tsModule("bonjour"))
    await waitFor("the new versions", async () => {
      const [users, hi] = await Promise.all([getJson(`${runner.url}/users/1`), getJson(`${runner.url}/hi/bob`)])
      return (
        (users.body as { name?: string }).name === "Ada Lovelace" &&
        (hi.body as { greeting?: string }).greeting === "bonjour"
      )
    })
  })
})

describe("single-flow mode", () => {
  const files = tempDir({ "users.json": nflowExport, "hi.ts": tsModule("hello") })
  afterAll(() => files.cleanup())

  it("FLOW_ID serves only that flow", async () => {
    const runner = await Runner.start({
      flows: [files.dir],
      log: () => {},
      env: { FLOW_ID: "hi" },
      config: { server: { port: 0, host: "127.0.0.1" }, flows: { watch: false }, audit: { sink: "none" } }
    })
    try {
      expect(runner.config.flows.only).toBe("hi")
      expect(runner.flows().map((f) => f.id)).toEqual(["hi"])
      expect((await getJson(`${runner.url}/hi/x`)).status).toBe(200)
      expect(await getJson(`${runner.url}/users/1`)).toMatchObject({
        status: 404,
        body: { error: { _tag: "RouteNotFound" } }
      })
    } finally {
      await runner.stop()
    }
  })

  it("jsonflow serve --flow serves only that flow", async () => {
    let served: Served | undefined
    try {
      served = await serve(["serve", files.dir, "--flow", "hi", "--port", "0", "--host", "127.0.0.1", "--no-watch"], {
        JSONFLOW_AUDIT_SINK: "none"
      })
      expect(served.stdout()).toContain("(1 flow)")
      expect((await getJson(`${served.url}/hi/x`)).status).toBe(200)
      expect((await getJson(`${served.url}/users/1`)).status).toBe(404)
    } finally {
      served?.child.kill("SIGTERM")
      await served?.exited
    }
  })
})

describe("directory listing", () => {
  it('skips test cases and recorded fixtures beside flows, even when they hold a "nodes" key', async () => {
    const { listFiles, readPaths } = await import("../src/sources/directory.ts")
    const { Builtins } = await import("@jsonflow/core")
    const double = readFileSync(join(repoRoot, "examples/flows/double.flow.json"), "utf8")
    const files = tempDir({
      "double.flow.json": double,
      "double.test.json": { flow: "double.flow.json", cases: [{ name: "x", mocks: { nodes: {} }, expect: {} }] },
      "paid.fixture.json": { flowId: "double", mocks: { compute: { value: { nodes: [] } } } }
    })
    try {
      expect(listFiles([files.dir]).map((f) => f.slice(files.dir.length + 1))).toEqual(["double.flow.json"])
      const { flows, failures } = await readPaths([files.dir], Builtins.registry)
      expect([flows.length, failures]).toEqual([1, []])
    } finally {
      files.cleanup()
    }
  })
})
