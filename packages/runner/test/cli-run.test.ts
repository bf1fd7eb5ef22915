/**
 * `jsonflow run`, `validate`, `replay` and `executions` share the runner's configuration: `run` records
 * every execution in the configured store (default: the embedded store), `replay` runs flows with the JSON
 * environment (expressions, `js` in the sandbox, nFlow code boxes, connectors), and every command finds the
 * store through `--config` and the `JSONFLOW_AUDIT_*` variables the runner reads.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Embedded } from "@jsonflow/audit"
import { Effect, Exit, Scope } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cli, executionIdOf, jsonflow, start } from "./cli-support.ts"
import { describeWith, postgresUrl, redisUrl, repoRoot } from "./support.ts"

const dirs: Array<string> = []
const tempDir = (files: Readonly<Record<string, unknown>> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "jsonflow-cli-"))
  dirs.push(dir)
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2))
  return dir
}
// The in-process cases hold their embedded store open for the whole file: each command then shares this
// process's database instead of starting PGlite again (seconds each on a loaded machine). The first case
// runs real `jsonflow` processes, which open and close the store themselves.
const held = Effect.runSync(Scope.make())
const hold = (dataDir: string) => Effect.runPromise(Scope.provide(Embedded.openStore({ dataDir }), held))
afterAll(async () => {
  await Effect.runPromise(Scope.close(held, Exit.void))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const double = join(repoRoot, "examples/flows/double.flow.json")
const reference = join(repoRoot, "examples/reference-use-case/flow.json")

const chain = (id: string, nodes: Readonly<Record<string, unknown>>) => {
  const ids = Object.keys(nodes)
  return {
    dsl: 1,
    id,
    version: "1",
    trigger: { type: "manual" },
    nodes,
    edges: ids.map((to, i) => ({
      from: { node: i === 0 ? "$input" : ids[i - 1], port: "out" },
      to: { node: to, port: "in" }
    }))
  }
}

const declined = chain("declined", {
  shape: { type: "map", config: { fields: { total: "amount" } } },
  charge: { type: "fail", config: { code: "DECLINED", message: "card declined by issuer" } }
})

const tripled = chain("tripled", {
  triple: { type: "js", config: { source: "export default (o) => ({ tripled: o.value * 3 })" } }
})

const login = chain("login", {
  check: { type: "map", config: { fields: { user: "user", password: "password", ok: { value: true } } } }
})

// An nFlow designer export: a constant box, a code box (run in the sandbox) and a JSON reply.
const box = (
  id: string,
  name: string,
  data: Record<string, unknown>,
  from: string | undefined,
  to: string | undefined
) => ({
  id,
  name,
  data,
  class: name,
  html: "",
  typenode: false,
  inputs: from === undefined ? {} : { input_1: { connections: [{ node: from, input: "output_1" }] } },
  outputs: to === undefined ? {} : { output_1: { connections: [{ node: to, output: "input_1" }] } },
  pos_x: 0,
  pos_y: 0
})
const shout = {
  drawflow: {
    Home: {
      data: {
        start: box("start", "_start_http", { type: "starter", method: "GET", urlpattern: "/shout" }, undefined, "word"),
        word: box(
          "word",
          "js_set_var",
          { type: "js", script: "js_set_var", var_name: "word", var_value: "hello" },
          "start",
          "loud"
        ),
        loud: box(
          "loud",
          "_js_code",
          {
            type: "js",
            name_box: "upper-case",
            code: "function main() {\n  payload.loud = payload.word.toUpperCase()\n}"
          },
          "word",
          "answer"
        ),
        answer: box("answer", "json", { type: "js", script: "json", field: "", http_code: "200" }, "loud", undefined)
      }
    }
  }
}

interface Row {
  readonly executionId: string
  readonly flowId: string
  readonly status: string
  readonly replayOf?: string
}

describe("jsonflow run records the execution", () => {
  it("prints the result on stdout and the id on stderr; executions list and show find it after the process ended", async () => {
    const cwd = tempDir({ "declined.flow.json": declined })
    const ok = await jsonflow(["run", double, "--input", '{"value":21}'], { cwd })
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ status: 200, headers: {}, body: { result: 42 } })
    expect(ok.stderr).toMatch(/^jsonflow run: execution [0-9a-f-]{36} recorded in \.jsonflow\/audit\n$/)
    const okId = executionIdOf(ok.stderr)

    const failed = await jsonflow(["run", "declined.flow.json", "--input", '{"amount":7}'], { cwd })
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout)).toMatchObject({ _tag: "NodeFailed", nodeId: "charge" })
    const failedId = executionIdOf(failed.stderr)

    const listed = await jsonflow(["executions", "list", "--json"], { cwd })
    expect(listed.code).toBe(0)
    const rows = JSON.parse(listed.stdout) as ReadonlyArray<Row>
    expect(rows.map((r) => [r.executionId, r.flowId, r.status]).sort()).toEqual(
      [
        [okId, "double", "succeeded"],
        [failedId, "declined", "failed"]
      ].sort()
    )
    const shown = await jsonflow(["executions", "show", okId, "--json"], { cwd })
    expect(shown.code).toBe(0)
    const trace = JSON.parse(shown.stdout) as {
      nodes: ReadonlyArray<{ nodeId: string; nodeType: string; status: string }>
    }
    expect(trace.nodes.map((n) => [n.nodeId, n.nodeType, n.status])).toEqual([
      ["compute", "map", "succeeded"],
      ["reply", "respond", "succeeded"]
    ])
  }, 120_000)

  it("records nothing with JSONFLOW_AUDIT_SINK=none, and says so nowhere on stdout", async () => {
    const cwd = tempDir()
    const run = await cli(["run", double, "--input", '{"value":2}'], { cwd, env: { JSONFLOW_AUDIT_SINK: "none" } })
    expect([run.code, JSON.parse(run.stdout), run.stderr]).toEqual([
      0,
      { status: 200, headers: {}, body: { result: 4 } },
      ""
    ])
    const listed = await cli(["executions", "list"], { cwd, env: { JSONFLOW_AUDIT_SINK: "none" } })
    expect(listed.code).toBe(2)
    expect(listed.stderr).toContain('audit.sink is "none": nothing to query')
  })
})

describe("jsonflow run and validate take what jsonflow serve takes", () => {
  const none = { JSONFLOW_AUDIT_SINK: "none" }
  const greet = join(repoRoot, "examples/flows/greet.ts")

  it("runs a TypeScript builder flow, routed by --path, with the path parameters as its input", async () => {
    const cwd = tempDir()
    const ran = await cli(["run", greet, "--path", "/hello/ada"], { cwd, env: none })
    expect(ran.code).toBe(0)
    expect(JSON.parse(ran.stdout)).toEqual({
      status: 200,
      headers: { "cache-control": "no-store" },
      body: { message: "Hello, ada", from: "JSON-Flow" }
    })
    const empty = await cli(["run", greet, "--path", "/hello/"], { cwd, env: none })
    expect([empty.code, empty.stderr]).toEqual([2, "jsonflow run: --path /hello/ leaves :name of /hello/:name empty\n"])
  })

  it("checks the input against the flow's declared schema, as the HTTP trigger does (400 there)", async () => {
    const ran = await cli(["run", double, "--input", '{"value":"x"}'], { cwd: tempDir(), env: none })
    expect(ran.code).toBe(1)
    expect(JSON.parse(ran.stdout)).toMatchObject({ _tag: "InputInvalid", flowId: "double", path: "/value" })
  })

  it("refuses HTTP flags for a flow without an HTTP trigger", async () => {
    const cwd = tempDir({ "declined.flow.json": declined })
    const ran = await cli(["run", "declined.flow.json", "--path", "/x"], { cwd, env: none })
    expect(ran.code).toBe(2)
    expect(ran.stderr).toContain('--path only apply to HTTP-triggered flows; "declined" has a manual trigger')
  })

  it("validates directories as serve reads them: flow JSON and modules, skipping other JSON", async () => {
    const cwd = tempDir({
      "declined.flow.json": declined,
      "package.json": { name: "x" },
      "notes.json": { hello: "world" },
      "broken.flow.json": {
        dsl: 1,
        id: "broken",
        version: "1",
        trigger: { type: "manual" },
        nodes: { a: { type: "nope" } },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "a", port: "in" } }]
      }
    })
    const ran = await cli(["validate", cwd, greet], { cwd, env: none })
    expect(ran.code).toBe(1)
    expect(ran.stdout.split("\n").filter(Boolean)).toEqual([
      'broken.flow.json: /nodes/a/type: unknown node type "nope"',
      "ok declined.flow.json",
      `ok ${greet}`
    ])
  })
})

describe("jsonflow replay runs in the runner's JSON environment", () => {
  const full = { JSONFLOW_AUDIT_SNAPSHOTS: "full" }
  const cwd = tempDir({ "tripled.flow.json": tripled, "shout.json": shout, "login.flow.json": login })
  beforeAll(() => hold(join(cwd, ".jsonflow/audit")))

  it("replays flows with expressions, js nodes and nFlow code boxes, from a node, linked to the original", async () => {
    const runs = {
      double: await cli(["run", double, "--input", '{"value":21}'], { cwd, env: full }),
      tripled: await cli(["run", "tripled.flow.json", "--input", '{"value":5}'], { cwd, env: full }),
      shout: await cli(["run", "shout.json", "--path", "/shout"], { cwd, env: full })
    }
    expect(Object.values(runs).map((r) => r.code)).toEqual([0, 0, 0])
    expect(JSON.parse(runs.shout.stdout).body).toEqual({ word: "hello", loud: "HELLO" })

    const replay = async (run: { stderr: string }, from: string) => {
      const replayed = await cli(["replay", executionIdOf(run.stderr), "--from", from, "--json"], { cwd, env: full })
      expect(replayed.stderr).toBe("")
      expect(replayed.code).toBe(0)
      return JSON.parse(replayed.stdout) as { executionId: string; replayOf: string; output: unknown; reply?: unknown }
    }
    const expr = await replay(runs.double, "compute")
    expect(expr.reply).toEqual({ status: 200, headers: {}, body: { result: 42 } })
    const js = await replay(runs.tripled, "triple")
    expect(js.output).toEqual({ triple: { tripled: 15 } })
    const nflow = await replay(runs.shout, "loud")
    expect(nflow.reply).toMatchObject({ status: 200, body: { word: "hello", loud: "HELLO" } })

    const rows = JSON.parse(
      (await cli(["executions", "list", "--json"], { cwd, env: full })).stdout
    ) as ReadonlyArray<Row>
    for (const [replayed, run] of [
      [expr, runs.double],
      [js, runs.tripled],
      [nflow, runs.shout]
    ] as const) {
      expect(rows.find((r) => r.executionId === replayed.executionId)?.replayOf).toBe(executionIdOf(run.stderr))
    }
  }, 120_000)

  it("refuses masked values unless --allow-masked, which warns", async () => {
    const run = await cli(["run", "login.flow.json", "--input", '{"user":"ann","password":"hunter2"}'], {
      cwd,
      env: full
    })
    expect(run.code).toBe(0)
    const id = executionIdOf(run.stderr)
    const refused = await cli(["replay", id, "--from", "check"], { cwd, env: full })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("masked values")
    const allowed = await cli(["replay", id, "--from", "check", "--allow-masked", "--json"], { cwd, env: full })
    expect(allowed.code).toBe(0)
    expect(allowed.stderr).toMatch(/^jsonflow replay: warning: --allow-masked: .*masks, not the originals/)
    const output = JSON.parse(allowed.stdout).output as { check: { user: string; password: string; ok: boolean } }
    expect(output.check.user).toBe("ann")
    expect(output.check.ok).toBe(true)
    expect(output.check.password).not.toBe("hunter2")
    expect(output.check.password).toContain("REDACTED")
  }, 60_000)
})

describe("the commands read the runner configuration", () => {
  const cwd = tempDir({
    "runner.json": { audit: { path: "var/audit" } },
    "other.json": { audit: { path: "other/audit" } }
  })
  beforeAll(() => hold(join(cwd, "var/audit")))

  it("validate, catalog and run know the connector node types of --config", async () => {
    const cwd = tempDir({ "runner.json": { connectors: { sql: { credential: "orders-db" } } } })
    copyFileSync(reference, join(cwd, "flow.json"))
    const bare = await cli(["validate", "flow.json"], { cwd })
    expect(bare.code).toBe(1)
    expect(bare.stdout).toContain('flow.json: /nodes/orders/type: unknown node type "sql.query"')
    expect(await cli(["validate", "flow.json", "--config", "runner.json"], { cwd })).toEqual({
      code: 0,
      stdout: "ok flow.json\n",
      stderr: ""
    })
    const types = (
      JSON.parse((await cli(["catalog", "--config", "runner.json"], { cwd })).stdout) as Array<{ type: string }>
    ).map((e) => e.type)
    expect(types).toEqual(expect.arrayContaining(["sql.query", "sql.transaction", "http.request", "js", "nflow.js"]))
    // The connectors' settings are checked like the runner checks them, with the JSON Pointer of the problem.
    writeFileSync(join(cwd, "bad.json"), JSON.stringify({ connectors: { sql: { credential: "orders-db", max: 0 } } }))
    const bad = await cli(["validate", "flow.json", "--config", "bad.json"], { cwd })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("/connectors/sql/max")
  })

  it("finds the store of --config and of JSONFLOW_AUDIT_PATH; --audit wins; bad settings exit 2 with the path", async () => {
    const run = await cli(["run", double, "--input", '{"value":1}', "--config", "runner.json"], { cwd })
    expect(run.stderr).toContain("recorded in var/audit")
    const id = executionIdOf(run.stderr)
    const ids = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
      (
        JSON.parse((await cli(["executions", "list", "--json", ...args], { cwd, env })).stdout) as ReadonlyArray<Row>
      ).map((r) => r.executionId)
    expect(await ids(["--config", "runner.json"])).toEqual([id])
    expect(await ids([], { JSONFLOW_AUDIT_PATH: join(cwd, "var/audit") })).toEqual([id])
    expect(await ids(["--config", "other.json", "--audit", "var/audit"])).toEqual([id])
    const jsonl = await cli(["executions", "list"], { cwd, env: { JSONFLOW_AUDIT_SINK: "jsonl" } })
    expect(jsonl.code).toBe(2)
    expect(jsonl.stderr).toContain('audit.sink is "jsonl": nothing to query')
    const invalid = await cli(["replay", id], { cwd, env: { JSONFLOW_AUDIT_SINK: "mongo" } })
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toContain("/audit/sink (from JSONFLOW_AUDIT_SINK)")
  }, 60_000)
})

describeWith(["postgres"], "a PostgreSQL audit store, and the reference use case as a JSON flow", () => {
  const schema = `jf_cli_${process.pid}_${Date.now().toString(36)}`
  const data = `${schema}_data`
  const sql = postgres(postgresUrl, { onnotice: () => {} })
  afterAll(async () => {
    await sql.unsafe(`drop schema if exists ${schema} cascade`)
    await sql.unsafe(`drop schema if exists ${data} cascade`)
    await sql.end()
  })

  it("run records SQL -> filter -> map -> HTTP POST in PostgreSQL; list, show and replay read it there", async () => {
    await sql.unsafe(`create schema ${data}`)
    await sql.unsafe(`create table ${data}.orders (id int primary key, customer text, amount numeric, status text)`)
    await sql.unsafe(
      `insert into ${data}.orders values (1, 'Ada', 250, 'paid'), (2, 'Bob', 40, 'paid'), (3, 'Cy', 900, 'open'), (4, 'Di', 120, 'paid')`
    )
    const received: Array<unknown> = []
    const crm = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        received.push(JSON.parse(body))
        res.writeHead(201, { "content-type": "application/json" }).end('{"accepted":true}')
      })
    })
    await new Promise<void>((resolve) => crm.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/api/contacts`
      // The example file, pointed at the test CRM; everything else as published.
      const flow = JSON.parse(readFileSync(reference, "utf8")) as { nodes: { send: { config: { url: string } } } }
      flow.nodes.send.config.url = url
      const cwd = tempDir({
        "flow.json": flow,
        "runner.json": {
          connectors: { sql: { credential: "orders-db", searchPath: data } },
          ssrf: { allow: ["127.0.0.1/32"] },
          audit: { sink: "postgres", snapshots: "full" }
        }
      })
      const env = {
        JSONFLOW_AUDIT_URL: `${postgresUrl}?schema=${schema}`,
        JSONFLOW_CREDENTIAL_ORDERS_DB_URL: postgresUrl
      }
      const expected = [
        { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" },
        { externalId: 4, contact: { name: "Di" }, total: 120, currency: "EUR" }
      ]
      const run = await jsonflow(["run", "flow.json", "--config", "runner.json"], { cwd, env })
      expect(run.code).toBe(0)
      expect(JSON.parse(run.stdout).output).toMatchObject({ status: 201, body: { accepted: true } })
      expect(received).toEqual([expected])
      expect(run.stderr).toContain(`recorded in ${postgresUrl}`)
      const id = executionIdOf(run.stderr)

      const rows = await sql.unsafe(`select execution_id, status from ${schema}.audit_executions`)
      expect(rows.map((r) => [r.execution_id, r.status])).toEqual([[id, "succeeded"]])
      const listed = JSON.parse(
        (await cli(["executions", "list", "--json", "--config", "runner.json"], { cwd, env })).stdout
      )
      expect((listed as ReadonlyArray<Row>).map((r) => r.executionId)).toEqual([id])
      const shown = await cli(["executions", "show", id, "--config", "runner.json"], { cwd, env })
      for (const node of ["orders", "paid", "shape", "send"])
        expect(shown.stdout).toMatch(new RegExp(`${node}\\s+\\S+\\s.*succeeded`))

      // Replaying the last node posts the recorded batch again: the connectors are in the replay's environment.
      const replayed = await cli(["replay", id, "--from", "send", "--config", "runner.json", "--json"], { cwd, env })
      expect(replayed.stderr).toBe("")
      expect(replayed.code).toBe(0)
      expect(received).toEqual([expected, expected])
      const replayOf = await sql.unsafe(`select replay_of from ${schema}.audit_executions where execution_id = $1`, [
        JSON.parse(replayed.stdout).executionId
      ])
      expect(replayOf[0]?.replay_of).toBe(id)
    } finally {
      await new Promise((resolve) => crm.close(resolve))
    }
  }, 120_000)
})

describeWith(["redis", "postgres"], "the Redis bus: run appends, audit-worker --config moves it to PostgreSQL", () => {
  const schema = `jf_cli_bus_${process.pid}_${Date.now().toString(36)}`
  const stream = `jsonflow:audit:cli-test:${schema}`
  const sql = postgres(postgresUrl, { onnotice: () => {} })
  afterAll(async () => {
    const { Redis } = await import("ioredis")
    const redis = new Redis(redisUrl)
    await redis.del(stream, `${stream}:dead`)
    await redis.quit()
    await sql.unsafe(`drop schema if exists ${schema} cascade`)
    await sql.end()
  })

  it("every command finds Redis, the stream and the store in the same configuration file", async () => {
    const cwd = tempDir({
      "runner.json": { audit: { sink: "redis", redis: redisUrl, stream, url: `${postgresUrl}?schema=${schema}` } }
    })
    const run = await cli(["run", double, "--input", '{"value":4}', "--config", "runner.json"], { cwd })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`recorded in the Redis stream ${stream}`)
    const id = executionIdOf(run.stderr)
    const worker = await start("jsonflow audit-worker --config runner.json", {
      cwd,
      ready: /audit-worker: .* -> /,
      timeoutMs: 60_000
    })
    try {
      expect(worker.stdout() + worker.stderr()).toContain(`${stream} -> ${postgresUrl}`)
      let rows: ReadonlyArray<Row> = []
      for (const end = Date.now() + 30_000; Date.now() < end && rows.length === 0; ) {
        const listed = await cli(["executions", "list", "--json", "--config", "runner.json"], { cwd })
        rows = listed.code === 0 ? (JSON.parse(listed.stdout) as ReadonlyArray<Row>) : []
        if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 200))
      }
      expect(rows.map((r) => [r.executionId, r.status])).toEqual([[id, "succeeded"]])
    } finally {
      expect(await worker.stop()).toBe(0)
    }
  }, 120_000)
})
