/**
 * `jsonflow test`: JSON test cases beside flows, run by the real CLI. The project's own examples pass; a
 * wrong expectation prints the case, the JSON pointer of each difference and a non-zero exit; a broken test
 * file is reported with the pointer of the problem; and record once, replay offline: a real execution
 * (PostgreSQL and an HTTP receiver) recorded into a fixture file with `--record` replays with neither.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { cli, executionIdOf, jsonflow } from "./cli-support.ts"
import { describeWith, postgresUrl, repoRoot } from "./support.ts"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const tempDir = (files: Readonly<Record<string, unknown>> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "jsonflow-cli-test-"))
  dirs.push(dir)
  copyFileSync(join(repoRoot, "examples/flows/double.flow.json"), join(dir, "double.flow.json"))
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2))
  }
  return dir
}

const doubling = (expect: unknown, extra: Readonly<Record<string, unknown>> = {}) => ({
  flow: "double.flow.json",
  cases: [{ name: "doubles", input: { value: 21 }, expect, ...extra }]
})

describe("jsonflow test", () => {
  it("runs the examples' *.test.json and exits 0", async () => {
    const ran = await jsonflow(["test", "examples"], { cwd: repoRoot })
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain("✓ examples/flows/double.test.json › doubles the value\n")
    expect(ran.stdout).toContain("✓ examples/flows/greet.test.json › greets the name in the path\n")
    expect(ran.stdout).toContain(
      "✓ examples/reference-use-case/flow.test.json › a CRM outage is retried three times, then the run fails at send\n"
    )
    expect(ran.stdout).not.toContain("✗")
    expect(ran.stdout).toMatch(/\n\d+ passed, 0 failed \(3 test file\(s\)\)\n$/)
  }, 60_000)

  it("a wrong expectation fails: the case, each difference at its JSON pointer, the actual output, exit 1", async () => {
    const cwd = tempDir({
      "double.test.json": {
        flow: "double.flow.json",
        cases: [
          { name: "right", input: { value: 2 }, expect: { response: { status: 200, body: { result: 4 } } } },
          { name: "wrong", input: { value: 21 }, expect: { response: { status: 201, body: { result: 43 } } } },
          { name: "expects an error", input: { value: 1 }, expect: { error: { _tag: "InputInvalid" } } },
          { name: "order", input: { value: 1 }, expect: { ran: ["reply", "compute"] } }
        ]
      }
    })
    const ran = await jsonflow(["test", "."], { cwd })
    expect(ran.code).toBe(1)
    expect(ran.stdout).toBe(
      [
        "✓ double.test.json › right",
        "✗ double.test.json › wrong",
        "    response/status: expected 201, got 200",
        "    response/body/result: expected 43, got 42",
        '    actual output: {"reply":{"result":42}}',
        "✗ double.test.json › expects an error",
        '    error: expected an error, the flow succeeded with {"reply":{"result":2}}',
        "✗ double.test.json › order",
        '    ran: expected ["reply","compute"], got ["compute","reply"]',
        '    actual output: {"reply":{"result":2}}',
        "",
        "1 passed, 3 failed (1 test file(s))",
        ""
      ].join("\n")
    )
  }, 60_000)

  it("expected errors, mocked failures, partial matches and node inputs", async () => {
    const cwd = tempDir({
      "cases.test.json": {
        flow: "double.flow.json",
        cases: [
          {
            name: "mocked compute",
            input: { value: 1 },
            mocks: { compute: { result: 99, note: "mocked" } },
            expect: { response: { body: { result: 99 } }, partial: true, inputs: { compute: { value: 1 } } }
          },
          {
            name: "a failing node",
            input: { value: 1 },
            mocks: { compute: { fail: { _tag: "Boom", message: "no luck" } } },
            expect: {
              error: { _tag: "NodeFailed", node: "compute", message: "Boom: no luck" },
              attempts: { compute: 1 }
            }
          },
          {
            name: "exact is exact",
            input: { value: 1 },
            mocks: { compute: { result: 99, note: "mocked" } },
            expect: { response: { body: { result: 99 } } }
          }
        ]
      }
    })
    const ran = await cli(["test"], { cwd })
    expect(ran.stdout).toContain("✓ cases.test.json › mocked compute\n")
    expect(ran.stdout).toContain("✓ cases.test.json › a failing node\n")
    expect(ran.stdout).toContain('✗ cases.test.json › exact is exact\n    response/body/note: unexpected "mocked"\n')
    expect(ran.code).toBe(1)
  })

  it("a broken test file is reported with the JSON pointer of the problem, and exits 1", async () => {
    const cwd = tempDir({
      "typo.test.json": doubling({ outptu: 1 }),
      "unknown-node.test.json": doubling({}, { mocks: { nope: 1 } }),
      "no-flow.test.json": { flow: "missing.flow.json", cases: [{ name: "x", expect: {} }] },
      "no-cases.test.json": { flow: "double.flow.json", cases: [] },
      "bad-fixture.test.json": { ...doubling({}), fixture: "bad.fixture.json" },
      "bad.fixture.json": { flowId: "double", mocks: [] },
      "not-json.test.json": "{ nope"
    })
    const ran = await cli(["test", "."], { cwd })
    expect(ran.code).toBe(1)
    const out = ran.stdout
    expect(out).toContain(
      "✗ typo.test.json: broken test file\n    typo.test.json#/cases/0/expect/outptu: is not a known property\n"
    )
    expect(out).toContain(
      '✗ unknown-node.test.json › doubles\n    broken case: unknown-node.test.json#/cases/0/mocks/nope: no node "nope" in flow "double"; its nodes: compute, reply\n'
    )
    expect(out).toMatch(
      /✗ no-flow\.test\.json: broken test file\n {4}no-flow\.test\.json#\/flow: missing\.flow\.json has errors:\n {4}missing\.flow\.json: .*cannot read/
    )
    expect(out).toMatch(/✗ no-cases\.test\.json: broken test file\n {4}no-cases\.test\.json#\/cases: /)
    expect(out).toContain("broken case: bad-fixture.test.json#/fixture: the fixture bad.fixture.json: /mocks: ")
    expect(out).toContain("✗ not-json.test.json: broken test file\n    not-json.test.json: not JSON: ")
    expect(out).toMatch(/\n0 passed, 2 failed, 4 broken file\(s\) \(6 test file\(s\)\)\n$/)
  })

  it("a connector node neither mocked nor configured fails the case with what to do; no test file exits 1", async () => {
    const cwd = tempDir({
      "flow.json": readFileSync(join(repoRoot, "examples/reference-use-case/flow.json"), "utf8"),
      "flow.test.json": { flow: "flow.json", cases: [{ name: "unmocked", mocks: { send: {} }, expect: {} }] }
    })
    const ran = await cli(["test", "flow.test.json"], { cwd })
    expect(ran.code).toBe(1)
    expect(ran.stdout).toContain(
      '✗ flow.test.json › unmocked\n    node "orders" (sql.query) is not mocked and its connector is not configured'
    )
    const empty = await cli(["test"], { cwd: tempDir() })
    expect(empty.code).toBe(1)
    expect(empty.stderr).toBe("jsonflow test: no *.test.json under .\n")
  })

  it("--schema prints the JSON Schema of test files", async () => {
    const ran = await cli(["test", "--schema"], { cwd: repoRoot })
    const schema = JSON.parse(ran.stdout) as { title: string; required: ReadonlyArray<string> }
    expect(schema.title).toBe("JSON-Flow test file")
    expect(schema.required).toEqual(["flow", "cases"])
  })
})

describeWith(["postgres"], "jsonflow test: record once, replay offline", () => {
  const data = `jf_cli_test_${process.pid}_${Date.now().toString(36)}`
  const audit = `${data}_audit`
  const sql = postgres(postgresUrl, { onnotice: () => {} })
  afterAll(async () => {
    await sql.unsafe(`drop schema if exists ${data} cascade`)
    await sql.unsafe(`drop schema if exists ${audit} cascade`)
    await sql.end()
  })

  it("a real run of the reference JSON flow, recorded into a fixture, replays with no database and no CRM", async () => {
    await sql.unsafe(`create schema ${data}`)
    await sql.unsafe(`create table ${data}.orders (id int primary key, customer text, amount numeric, status text)`)
    await sql.unsafe(`insert into ${data}.orders values (1, 'Ada', 250, 'paid'), (2, 'Bob', 40, 'paid')`)
    const received: Array<unknown> = []
    const crm = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        received.push(JSON.parse(body))
        res.writeHead(201, { "content-type": "application/json" }).end('{"accepted":1}')
      })
    })
    await new Promise<void>((resolve) => crm.listen(0, "127.0.0.1", resolve))
    const flow = JSON.parse(readFileSync(join(repoRoot, "examples/reference-use-case/flow.json"), "utf8")) as {
      nodes: { send: { config: { url: string } } }
    }
    flow.nodes.send.config.url = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/api/contacts`
    const cwd = tempDir({
      "flow.json": flow,
      "runner.json": {
        connectors: { sql: { credential: "orders-db", searchPath: data } },
        ssrf: { allow: ["127.0.0.1/32"] },
        audit: { sink: "postgres", snapshots: "full" }
      },
      "flow.test.json": {
        flow: "flow.json",
        fixture: "recorded.fixture.json",
        cases: [
          {
            name: "replayed",
            expect: {
              output: { status: 201, body: { accepted: 1 } },
              partial: true,
              inputs: { send: [{ externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" }] }
            }
          }
        ]
      }
    })
    const env = { JSONFLOW_CREDENTIAL_ORDERS_DB_URL: postgresUrl, JSONFLOW_AUDIT_URL: `${postgresUrl}?schema=${audit}` }
    let id: string
    try {
      const run = await jsonflow(["run", "flow.json", "--config", "runner.json"], { cwd, env })
      expect(run.code).toBe(0)
      expect(received).toHaveLength(1)
      id = executionIdOf(run.stderr)
    } finally {
      await new Promise((resolve) => crm.close(resolve))
    }
    const recorded = await cli(["test", "--record", id, "--config", "runner.json"], { cwd, env })
    expect(recorded.stderr).toBe("")
    expect(recorded.code).toBe(0)
    const fixture = JSON.parse(recorded.stdout) as {
      flowId: string
      executionId: string
      mocks: Record<string, unknown>
    }
    expect(fixture.flowId).toBe("paid-orders-to-crm")
    expect(fixture.executionId).toBe(id)
    expect(Object.keys(fixture.mocks)).toEqual(["orders", "send"])
    writeFileSync(join(cwd, "recorded.fixture.json"), recorded.stdout)

    // Offline: the table is gone, the CRM is closed, and the runner configuration is not used.
    await sql.unsafe(`drop schema ${data} cascade`)
    const replayed = await jsonflow(["test"], { cwd })
    expect(replayed.stdout).toContain("✓ flow.test.json › replayed\n")
    expect(replayed.code).toBe(0)
    expect(received).toHaveLength(1)

    const unknown = await cli(["test", "--record", "no-such-execution", "--config", "runner.json"], { cwd, env })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe("jsonflow test: no execution no-such-execution in the audit store\n")
  }, 120_000)
})
