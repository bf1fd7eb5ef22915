/**
 * The live query path. Over HTTP: the protocol handler mounted behind a bearer token on a loopback port,
 * and the client, answer as the store itself does. Over the embedded store's unix socket: a second process
 * holds the store (as `jsonflow serve` does) and this one lists, traces and replays through it; once that
 * process is killed, this one takes the store over.
 */
import { type ChildProcess, spawn } from "node:child_process"
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Audit, Config, Embedded, Query, Remote, Replay, Store } from "@jsonflow/audit"
import { Flow, type FlowEvents } from "@jsonflow/core"
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fixed, orderFlow, replayFlow } from "./flows.ts"

const dir = realpathSync(mkdtempSync(join(tmpdir(), "audit-remote-")))
const httpDir = join(dir, "http")
const TOKEN = "test-admin-token-0123456789"

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)

describe("the protocol over HTTP, behind a token", () => {
  const runtime = ManagedRuntime.make(
    Audit.layer({
      sinks: [Embedded.sink({ dataDir: httpDir })],
      flows: [orderFlow.ir],
      buffer: { journalDir: join(dir, "journal-http"), lingerMs: 2 }
    })
  )
  let store: Store.AuditStoreShape
  let server: Server
  let base = ""
  const stuck = "stuck-execution"

  beforeAll(async () => {
    store = await runtime.runPromise(Store.AuditStore.use((s) => Effect.succeed(s)))
    const compiled = await runtime.runPromise(Flow.compile(orderFlow))
    for (const [id, amount, failWith] of [
      ["o1", 50, undefined],
      ["o2", 500, undefined],
      ["o3", 70, "card declined by the issuer"]
    ] as const) {
      const order = { id, amount, customer: { email: "a@b.co" }, ...(failWith ? { failWith } : {}) }
      await runtime.runPromiseExit(compiled.run(order, { trigger: order }))
    }
    // An execution whose runner died in a node.
    const at = (seq: number) => ({
      eventId: `${stuck}:${seq}`,
      seq,
      executionId: stuck,
      flowId: "orders",
      flowVersion: "1",
      at: Date.now() + seq
    })
    const events: Array<FlowEvents.FlowEvent> = [
      { _tag: "ExecutionStarted", ...at(0), trigger: "manual", input: { id: "o4" } },
      { _tag: "NodeStarted", ...at(1), nodeId: "enrich", nodeType: "test.enrich", attempt: 1 }
    ]
    await run(store.write(events))
    await runtime.runPromise(Audit.Audit.use((a) => a.flush))

    // What the runner does: its admin API checks the bearer token, then hands /admin/audit/... over.
    const listen = Remote.nodeListener(Remote.handler(store), { prefix: "/admin/audit" })
    server = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { "content-type": "application/json" })
        res.end(JSON.stringify({ _tag: "Unauthorized", message: "the admin API needs a bearer token" }))
        return
      }
      listen(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/audit`
  }, 30_000)

  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await runtime.dispose()
  })

  it("answers every query as the store does", async () => {
    const remote = Remote.client({ url: base, token: TOKEN })
    expect(await run(Remote.hello({ url: base, token: TOKEN }))).toEqual({
      protocol: Remote.PROTOCOL,
      store: "embedded",
      write: false
    })
    const all = await run(store.listExecutions({}))
    expect(all.length).toBe(4)
    const since = Math.min(...all.map((r) => r.startedAt))
    for (const filter of [
      {},
      { status: "failed" as const },
      { flowId: "orders", limit: 2 },
      { errorText: "DECLINED" },
      { since, until: since + 1 },
      { flowId: "nope" }
    ]) {
      expect(await run(remote.listExecutions(filter))).toEqual(await run(store.listExecutions(filter)))
    }
    expect((await run(remote.listExecutions({ errorText: "declined" }))).map((r) => r.status)).toEqual(["failed"])
    for (const record of all) {
      expect(await run(remote.trace(record.executionId))).toEqual(await run(store.trace(record.executionId)))
      expect(await run(remote.whereStopped(record.executionId))).toEqual(
        await run(store.whereStopped(record.executionId))
      )
    }
    expect((await run(remote.whereStopped(stuck)))!.inFlight.map((n) => n.nodeId)).toEqual(["enrich"])
    expect(await run(remote.flow("orders", "1"))).toEqual(orderFlow.ir)
    expect(await run(remote.count())).toEqual(await run(store.count()))
    // Unknown ids are `undefined`, as from the store.
    expect(await run(remote.trace("no/such id"))).toBeUndefined()
    expect(await run(remote.whereStopped("nope"))).toBeUndefined()
    expect(await run(remote.flow("orders", "99"))).toBeUndefined()
  })

  it("says what is wrong: token, parameters, writes, retention, a dead server", async () => {
    const denied = await run(
      Effect.flip(Remote.client({ url: base, token: "wrong-token-0123456789" }).listExecutions())
    )
    expect(denied).toMatchObject({ _tag: "StoreError", retryable: false })
    expect(denied.reason).toContain("401")
    const bad = await fetch(`${base}/executions?status=lost`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ _tag: "QueryInvalid", parameter: "status" })
    const tooMany = await fetch(`${base}/executions?limit=${Remote.MAX_LIMIT + 1}`, {
      headers: { authorization: `Bearer ${TOKEN}` }
    })
    expect(await tooMany.json()).toMatchObject({ _tag: "QueryInvalid", parameter: "limit" })
    const remote = Remote.client({ url: base, token: TOKEN })
    const write = await run(
      Effect.flip(remote.write([{ _tag: "FlowRecorded", flowId: "x", flowVersion: "1", at: 0, flow: orderFlow.ir }]))
    )
    expect(write.reason).toContain("WriteForbidden")
    expect((await run(Effect.flip(remote.prune(Date.now())))).reason).toMatch(/retention runs in the process/)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const down = await run(Effect.flip(Remote.client({ url: `http://127.0.0.1:${port}/a` }).count()))
    expect(down).toMatchObject({ operation: "count", retryable: true })
    expect(down.reason).toContain("does not answer")
  })

  it("is also served on <dataDir>.sock, mode 0600, named in the lock file", async () => {
    const lock = JSON.parse(readFileSync(`${httpDir}.lock`, "utf8")) as { pid: number; socket: string }
    expect(lock).toEqual({ pid: process.pid, socket: `${httpDir}.sock`, protocol: Remote.PROTOCOL })
    expect(statSync(lock.socket).mode & 0o777).toBe(0o600)
    expect(await run(Remote.hello({ socketPath: lock.socket }))).toEqual({
      protocol: Remote.PROTOCOL,
      store: "embedded",
      write: true
    })
    const viaSocket = Remote.client({ socketPath: lock.socket })
    expect(await run(viaSocket.listExecutions({ status: "failed" }))).toEqual(
      await run(store.listExecutions({ status: "failed" }))
    )
  })

  it("writes through a handler that allows it, validating the entries", async () => {
    const handle = Remote.handler(store, { allowWrite: true })
    const invalid = await handle({ method: "POST", path: "/entries", body: [{ _tag: "NodeStarted" }] })
    expect(invalid).toMatchObject({ status: 400, body: { _tag: "EntriesInvalid" } })
    const flow = { ...orderFlow.ir, version: "written-remotely" }
    const ok = await handle({
      method: "POST",
      path: "/entries",
      body: [{ _tag: "FlowRecorded", flowId: flow.id, flowVersion: flow.version, at: Date.now(), flow }]
    })
    expect(ok.status).toBe(204)
    expect(await run(store.flow(flow.id, flow.version))).toEqual(flow)
    expect((await handle({ method: "DELETE", path: "/count" })).status).toBe(405)
    expect((await handle({ method: "GET", path: "/nothing/here" })).status).toBe(404)
  })
})

describe("the embedded store's unix socket", () => {
  const fixture = fileURLToPath(new URL("./fixtures/owner.ts", import.meta.url))
  // Too long for a socket beside it: the socket goes to a private temporary directory.
  const dataDir = join(dir, "d".repeat(60), "e".repeat(40), "owned")
  let child: ChildProcess | undefined
  let output = ""
  let failedId = ""

  beforeAll(async () => {
    child = spawn(process.execPath, [fixture], {
      env: { ...process.env, DATA_DIR: dataDir, JOURNAL: join(dir, "journal-owner") },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const started = Date.now()
    while (!/READY (\S+)/.test(output)) {
      if (child.exitCode !== null) throw new Error(`the owner exited: ${output}`)
      if (Date.now() - started > 60_000) throw new Error(`the owner never got ready: ${output}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    failedId = /READY (\S+)/.exec(output)![1]!
  }, 70_000)

  afterAll(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })

  it("is named in the lock file, opens to its user only, and serves reads and a replay", async () => {
    const lock = JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")) as { pid: number; socket: string }
    expect(lock).toEqual({ pid: child!.pid, socket: expect.any(String), protocol: Remote.PROTOCOL })
    expect(lock.socket.startsWith(join(tmpdir(), "jsonflow-audit-"))).toBe(true)
    expect(statSync(dirname(lock.socket)).mode & 0o777).toBe(0o700)
    expect(statSync(lock.socket).mode & 0o777).toBe(0o600)
    expect(Embedded.owner(dataDir)).toEqual({ pid: child!.pid, socket: lock.socket })

    // What `jsonflow executions list/show` does: the store layer of the setting.
    const failed = await run(
      Query.executions({ status: "failed" }).pipe(Effect.provide(Config.storeLayer(Config.target(dataDir, dir))))
    )
    expect(failed.map((r) => r.executionId)).toEqual([failedId])
    const trace = await run(Query.trace(failedId).pipe(Effect.provide(Config.storeLayer(Config.target(dataDir, dir)))))
    expect(trace!.nodes.map((n) => `${n.nodeId}:${n.status}`)).toEqual(["first:succeeded", "fragile:failed"])

    // A sink does not silently write through another runner...
    const sinkExit = await Effect.runPromiseExit(Effect.scoped(Embedded.sink({ dataDir })))
    expect(Exit.isFailure(sinkExit) && String(sinkExit.cause)).toContain(`is open in process ${child!.pid}`)

    // ...unless asked to, as `jsonflow replay` does to record its run.
    fixed.value = true
    const replaying = ManagedRuntime.make(
      Audit.layer({
        sinks: [Embedded.sink({ dataDir, throughOwner: true })],
        flows: [replayFlow.ir],
        buffer: { journalDir: join(dir, "journal-replay"), lingerMs: 2 }
      })
    )
    const replayed = await replaying.runPromise(
      Replay.replay({ executionId: failedId, from: "failed", registry: replayFlow.registry })
    )
    expect(replayed.output).toEqual({ n: 21 })
    await replaying.runPromise(Audit.Audit.use((a) => a.flush))
    expect((await replaying.runPromise(Audit.Audit.use((a) => Effect.succeed(a.counters()))))[0]).toMatchObject({
      written: expect.any(Number),
      failures: 0,
      spilled: 0
    })
    await replaying.dispose()
    const linked = await run(
      Effect.scoped(Effect.flatMap(Embedded.openStore({ dataDir }), (s) => s.listExecutions({ replayOf: failedId })))
    )
    expect(linked.map((r) => r.executionId)).toEqual([replayed.executionId])
  }, 30_000)

  it("is taken over, with its data, once its owner is killed", async () => {
    const stale = (JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")) as { socket: string }).socket
    child!.kill("SIGKILL")
    await new Promise((resolve) => child!.once("exit", resolve))
    expect(existsSync(stale)).toBe(true) // left behind by the killed owner
    const scope = await run(Scope.make())
    let socket = ""
    try {
      const local = await run(Scope.provide(Embedded.openStore({ dataDir }), scope))
      expect(existsSync(dirname(stale))).toBe(false) // the dead owner's socket directory is cleaned up
      const all = await run(local.listExecutions({}))
      expect(all.map((r) => r.status).sort()).toEqual(["failed", "succeeded"])
      expect(await run(local.prune(0))).toBe(0) // retention works locally, not through a socket
      const lock = JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")) as { pid: number; socket: string }
      expect(lock.pid).toBe(process.pid)
      socket = lock.socket
      expect(await run(Remote.hello({ socketPath: socket }))).toMatchObject({ write: true })
    } finally {
      await run(Scope.close(scope, Exit.void))
    }
    expect(existsSync(`${dataDir}.lock`)).toBe(false)
    expect(existsSync(dirname(socket))).toBe(false)
  }, 30_000)

  it("still opens when the socket cannot be served, and the lock file says why; links name one store", async () => {
    writeFileSync(`${httpDir}.sock`, "not a socket")
    const link = join(dir, "link")
    symlinkSync(httpDir, link)
    const scope = await run(Scope.make())
    try {
      const store = await run(Scope.provide(Embedded.openStore({ dataDir: link }), scope))
      expect((await run(store.count())).executions).toBe(4)
      // The lock is the directory's, whatever path named it.
      expect(existsSync(`${link}.lock`)).toBe(false)
      const lock = JSON.parse(readFileSync(`${httpDir}.lock`, "utf8")) as { pid: number; socketError?: string }
      expect(lock.pid).toBe(process.pid)
      expect(lock.socketError).toMatch(/EADDRINUSE/)
      expect(readFileSync(`${httpDir}.sock`, "utf8")).toBe("not a socket") // a file that is not ours stays
    } finally {
      await run(Scope.close(scope, Exit.void))
    }
  }, 30_000)
})
