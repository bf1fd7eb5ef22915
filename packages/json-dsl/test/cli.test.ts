import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const root = new URL("../../../", import.meta.url).pathname
const fixtures = "packages/json-dsl/test/fixtures"
const jsonflow = (...args: ReadonlyArray<string>) => {
  const result = spawnSync(process.execPath, ["packages/runner/bin/jsonflow.js", ...args], {
    cwd: root,
    encoding: "utf8"
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
const out = mkdtempSync(join(tmpdir(), "jsonflow-cli-"))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe("jsonflow CLI", () => {
  it("validate: ok per valid file (canonical and nFlow), exit 0", () => {
    const result = jsonflow("validate", `${fixtures}/valid/orders.flow.json`, `${fixtures}/nflow/users.json`)
    expect(result).toMatchObject({
      code: 0,
      stdout: `ok ${fixtures}/valid/orders.flow.json\nok ${fixtures}/nflow/users.json\n`
    })
  })
  it("validate: one line per problem with its pointer, warnings prefixed, exit 1", () => {
    const result = jsonflow("validate", `${fixtures}/broken/56-many-problems.json`, `${fixtures}/valid/guard.flow.json`)
    expect(result.code).toBe(1)
    expect(result.stdout).toBe(
      [
        `${fixtures}/broken/56-many-problems.json: /nodes/shape/config/fields/id: expected string | object, got 42`,
        `${fixtures}/broken/56-many-problems.json: /nodes/ghost/type: unknown node type "nope"`,
        `${fixtures}/broken/56-many-problems.json: /edges/2/to/node: edge to unknown node "nowhere"`,
        `warning: ${fixtures}/broken/56-many-problems.json: /nodes/ghost: node "ghost" is not reachable from the flow input and never runs`,
        `ok ${fixtures}/valid/guard.flow.json`,
        ""
      ].join("\n")
    )
  })
  it("import-nflow writes one canonical file per starter and prints every problem", () => {
    const result = jsonflow("import-nflow", `${fixtures}/nflow/users.json`, "--out", out)
    expect(result).toMatchObject({ code: 0, stdout: `wrote ${out}/home-get-users-id.flow.json (GET /users/:id)\n` })
    expect(readdirSync(out)).toEqual(["home-get-users-id.flow.json"])
    expect(jsonflow("validate", join(out, "home-get-users-id.flow.json")).code).toBe(0)
    const broken = jsonflow("import-nflow", `${fixtures}/nflow/broken.json`, "--out", join(out, "broken"))
    expect(broken.code).toBe(1)
    expect(broken.stdout).toContain(
      `${fixtures}/nflow/broken.json: /drawflow/Admin/data/a/data/type: unknown nFlow node type "sql" (nflow-runtime answers 500 "Type node not found")\n`
    )
    expect(broken.stdout).toContain("6 flow(s) not written because of errors\n")
  })
  it("run: an HTTP flow prints status, headers and body", () => {
    const result = jsonflow(
      "run",
      `${fixtures}/valid/orders.flow.json`,
      "--method",
      "POST",
      "--path",
      "/orders/eu",
      "--input",
      '{"id":"o1","amount":5}'
    )
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      status: 201,
      headers: { "x-flow": "orders" },
      body: { id: "o1", amount: 5, region: "eu", currency: "EUR", status: "accepted" }
    })
  })
  it("run: a manual flow prints its output; a failure prints the typed error and exits 1", () => {
    const ok = jsonflow("run", `${fixtures}/valid/lines.flow.json`, "--input", '[{"sku":"A","qty":1}]')
    expect([ok.code, JSON.parse(ok.stdout)]).toEqual([0, { output: { priced: [{ sku: "A", qty: 1 }], skipped: [] } }])
    const failed = jsonflow("run", `${fixtures}/valid/lines.flow.json`, "--input", '{"sku":"A","qty":1}')
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout)).toMatchObject({ _tag: "InputInvalid", nodeId: "price", port: "in" })
  })
  it("run: an nFlow export answers a routed request (code boxes in the sandbox)", () => {
    const result = jsonflow(
      "run",
      `${fixtures}/nflow/loops.json`,
      "--modules",
      `${fixtures}/nflow/modules`,
      "--method",
      "GET",
      "--path",
      "/custom/ada"
    )
    expect([result.code, JSON.parse(result.stdout)]).toEqual([
      0,
      { status: 200, headers: { "content-type": "application/json" }, body: "hello ada!" }
    ])
    const missing = jsonflow("run", `${fixtures}/nflow/users.json`, "--path", "/nowhere")
    expect(JSON.parse(missing.stdout)).toMatchObject({ status: 404, body: { message: "not found", code: 404 } })
  })
  it("graph prints Mermaid; catalog prints JSON Schemas; eject prints builder code", () => {
    expect(jsonflow("graph", `${fixtures}/nflow/users.json`).stdout).toContain('n2 -->|"output_1"| n3')
    const catalog = JSON.parse(jsonflow("catalog").stdout) as ReadonlyArray<{ type: string }>
    expect(catalog.map((entry) => entry.type)).toContain("nflow.forEach")
    const ejected = jsonflow("eject", `${fixtures}/valid/guard.flow.json`)
    expect([ejected.code, ejected.stdout]).toEqual([0, expect.stringContaining('.switch("check", (p) => p.$input')])
    expect(readFileSync(new URL("../README.md", import.meta.url), "utf8")).toContain("jsonflow import-nflow")
  })
  it("garbage: a file that is not JSON is one clear line, exit 1", () => {
    expect(jsonflow("validate", `${fixtures}/broken/01-not-json.json`)).toMatchObject({
      code: 1,
      stdout: `${fixtures}/broken/01-not-json.json: (root): unexpected "}" at line 1, column 18\n`
    })
  })
})
