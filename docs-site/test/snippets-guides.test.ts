// The runnable files the concept pages and guides include (docs-site/snippets/guides-*.ts) print what the
// pages say they print, and the CLI answers the JSON DSL guide shows are the CLI's real answers.
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const repo = fileURLToPath(new URL("../../", import.meta.url))
const snippet = (name: string) => fileURLToPath(new URL(`../snippets/${name}`, import.meta.url))
const node = async (file: string) =>
  (await run(process.execPath, [file], { cwd: repo, timeout: 20_000 })).stdout.trim().split("\n")

// Each snippet is its own process: they run side by side.
describe.concurrent("guide snippets", () => {
  it("guides-engine.ts: a skipped branch, a join of what ran, an error port", async () => {
    const lines = await node(snippet("guides-engine.ts"))
    expect(lines[0]).toBe('{"sku":"tea","amount":20} -> {"stock":{"sku":"tea","reserved":true}}')
    expect(lines[1]).toContain("Skipped review, Skipped notify")
    expect(lines[1]).toContain("Skipped failed")
    expect(lines[2]).toBe(
      '{"sku":"gone","amount":1500} -> {"review":{"notified":true},"problem":{"failedNode":"stock","tag":"OutOfStock"}}'
    )
    expect(lines[3]).toContain("Failed stock, Succeeded failed")
  })

  it("guides-builder.ts: typed flow, error port, promise API, typed rejection", async () => {
    expect(await node(snippet("guides-builder.ts"))).toEqual([
      "o-1: 120",
      "o-2: 1190 (review: large order)",
      "{ failed: 'priced', why: 'NoRate' }",
      'InputInvalid: input of node "$input" port "out" at /net: /net: expected number, got "ten"'
    ])
  })

  it("guides-expressions.ts: paths, constants, JSONata, and both expression errors", async () => {
    expect(await node(snippet("guides-expressions.ts"))).toEqual([
      '{"id":7,"total":60,"tag":"eu"}',
      'node "shape" (map) failed after 1 attempt(s): ExpressionUnavailable: no expression engine for "$sum(lines.(qty * price))": provide the Expressions layer of @jsonflow/sandbox/expressions',
      'node "m" (map) failed after 1 attempt(s): ExpressionError: expression "amount *" at 8: S0207: Unexpected end of expression'
    ])
  })

  it("guides-services.ts: a fake layer, retries of its retryable failure, Registry.override", async () => {
    expect(await node(snippet("guides-services.ts"))).toEqual([
      '{"id":"fake-1","created":true} attempts: 1',
      'crm 3 CrmError {"status":503,"reason":"maintenance"}',
      '"now" in under a second'
    ])
  })

  it("guides-json-dsl.ts: every problem with its pointer, a v0 migration, a round trip", async () => {
    const lines = await node(snippet("guides-json-dsl.ts"))
    expect(lines.slice(0, 3)).toEqual([
      '8:24 /nodes/shape/type: unknown node type "mapp"',
      "9:72 /nodes/reply/config/colour: is not a known property",
      '13:40 /edges/1/from/port: node "big" (filter) has no output port "matched"; its ports: out, rejected, error'
    ])
    expect(lines[3]).toBe('read version 0; shape: {"type":"map","config":{"fields":{"id":"id"}},"timeoutMs":500}')
    expect(lines[4]).toBe("round trip: true")
    expect(lines.at(-1)).toBe('/nodes/1/type: unknown node type "mapp"')
  })

  it("guides-embedding-runner.ts: HTTP and in-process triggers, a typed FlowNotFound", async () => {
    expect(await node(snippet("guides-embedding-runner.ts"))).toEqual([
      "greet (builder), double (json)",
      '200 {"message":"Hello, Ada","from":"JSON-Flow"}',
      '{"result":42}',
      'FlowNotFound: no flow "nope" is loaded'
    ])
  })
})

describe("the JSON DSL guide's CLI sessions", () => {
  let dir = ""
  const cli = fileURLToPath(new URL("../../packages/runner/bin/jsonflow.js", import.meta.url))
  const jsonflow = (...args: ReadonlyArray<string>) =>
    run(process.execPath, [cli, ...args], {
      cwd: dir,
      timeout: 20_000,
      env: { ...process.env, NO_COLOR: "1", JSONFLOW_AUDIT_SINK: "none" }
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout })
    )

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jsonflow-docs-"))
    const { broken } = await import("../snippets/guides-json-dsl.ts")
    await writeFile(join(dir, "orders.flow.json"), broken)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it("validate lists every problem with its pointer and exits 1", async () => {
    const double = join(repo, "examples/flows/double.flow.json")
    const { code, stdout } = await jsonflow("validate", "orders.flow.json", double)
    expect(code).toBe(1)
    expect(stdout.trim().split("\n")).toEqual([
      'orders.flow.json: /nodes/shape/type: unknown node type "mapp"',
      "orders.flow.json: /nodes/reply/config/colour: is not a known property",
      'orders.flow.json: /edges/1/from/port: node "big" (filter) has no output port "matched"; its ports: out, rejected, error',
      `ok ${double}`
    ])
  })

  it("run prints the reply of an HTTP flow, or the typed error (the declared input is checked) with exit 1", async () => {
    const double = join(repo, "examples/flows/double.flow.json")
    const ok = await jsonflow("run", double, "--input", '{"value": 21}')
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ status: 200, headers: {}, body: { result: 42 } })
    const failed = await jsonflow("run", double, "--input", '{"value": "x"}')
    expect(failed.code).toBe(1)
    const error = JSON.parse(failed.stdout)
    expect([error._tag, error.nodeId, error.path]).toEqual(["InputInvalid", "$input", "/value"])
  })
})
