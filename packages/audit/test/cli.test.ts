/**
 * The CLI against real stores: `executions list/show` (text, JSON, HTML) and `replay` on the embedded
 * store, and "where did it stop" for a runner killed mid-execution (PostgreSQL).
 */
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Audit, Config, Embedded, Query } from "@jsonflow/audit"
import { Builtins, Compiler, type Ir } from "@jsonflow/core"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshSchema, missingServices, PG_URL, titled } from "./services.ts"

const dir = mkdtempSync(join(tmpdir(), "audit-cli-"))
const store = join(dir, "store")

// Loaded by name at run time: the runner is another package, and its sources are not type-checked here.
const { main } = (await import("@jsonflow/runner/cli" as string)) as {
  readonly main: (
    argv: ReadonlyArray<string>,
    io: { stdout: (t: string) => void; stderr: (t: string) => void; cwd: string }
  ) => Promise<number>
}

const cli = async (...argv: Array<string>) => {
  let stdout = ""
  let stderr = ""
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir })
  return { code, stdout, stderr }
}

// Built-in nodes only, so that the CLI's registry runs it: v1 fails at "charge", v2 fixes it.
const v1: Ir.Flow = {
  id: "billing",
  version: "1",
  trigger: { type: "manual" },
  nodes: {
    shape: { type: "map", config: { fields: { total: "amount", who: "customer" } } },
    charge: { type: "fail", config: { code: "DECLINED", message: "card declined by issuer" } },
    receipt: { type: "map", config: { fields: { paid: "total" } } }
  },
  edges: [
    { from: { node: "$input", port: "out" }, to: { node: "shape", port: "in" } },
    { from: { node: "shape", port: "out" }, to: { node: "charge", port: "in" } },
    { from: { node: "charge", port: "out" }, to: { node: "receipt", port: "in" } }
  ]
}
const v2: Ir.Flow = { ...v1, version: "2", nodes: { ...v1.nodes, charge: { type: "noop" } } }

let failedId = ""
// Held open for the whole file: each CLI call then shares this process's database instead of starting
// PGlite again (a separate `jsonflow` process opens it in about a second).
const held = Effect.runSync(Scope.make())

beforeAll(async () => {
  await Effect.runPromise(Scope.provide(Embedded.openStore({ dataDir: store }), held))
  const outcome = Compiler.compileSync(v1, Builtins.registry)
  if (outcome._tag === "Failed") throw outcome.error
  const program = Effect.gen(function* () {
    yield* Effect.result(outcome.flow.run({ amount: 42, customer: "ann" }))
    yield* Effect.result(outcome.flow.run({ amount: 7, customer: "bob" }))
    yield* Audit.Audit.use((a) => a.flush)
    const failed = yield* Query.executions({ status: "failed" })
    return failed[0]!.executionId
  })
  failedId = await Effect.runPromise(
    program.pipe(
      Effect.provide(
        Audit.layer({ sinks: [Embedded.sink({ dataDir: store })], flows: [v1], buffer: { journalDir: join(dir, "j") } })
      )
    )
  )
}, 30_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(held, Exit.void))
  rmSync(dir, { recursive: true, force: true })
})

describe("jsonflow executions / replay (embedded store)", () => {
  it("lists executions with filters, as a table or JSON", async () => {
    const all = await cli("executions", "list", "--audit", store)
    expect(all.code).toBe(0)
    expect(all.stdout).toContain(failedId)
    expect(all.stdout).toContain("billing@1")
    const failed = await cli("executions", "list", "--audit", store, "--status", "failed", "--since", "1h", "--json")
    const rows = JSON.parse(failed.stdout) as Array<{ executionId: string; error: { message: string } }>
    expect(rows.map((r) => r.executionId)).toEqual(expect.arrayContaining([failedId]))
    expect(rows.every((r) => r.error.message.includes("declined"))).toBe(true)
    const byError = await cli("executions", "list", "--audit", store, "--error", "DECLINED", "--json")
    expect(JSON.parse(byError.stdout)).toHaveLength(2)
    const none = await cli("executions", "list", "--audit", store, "--flow", "other")
    expect(none.stdout).toContain("no executions")
    expect((await cli("executions", "list", "--audit", store, "--status", "weird")).code).toBe(2)
  })

  it("shows one execution as a timeline, JSON, or a self-contained HTML page", async () => {
    const text = await cli("executions", "show", failedId, "--audit", store)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/shape\s+map/)
    expect(text.stdout).toContain("FlowFailure: DECLINED: card declined by issuer")
    const json = JSON.parse((await cli("executions", "show", failedId, "--audit", store, "--json")).stdout)
    expect(json.stop.failedAt.nodeId).toBe("charge")
    const html = await cli("executions", "show", failedId, "--audit", store, "--html", "out.html")
    expect(html.code).toBe(0)
    const page = readFileSync(join(dir, "out.html"), "utf8")
    expect(page).toContain("<svg")
    expect(page).toMatch(/data-node="charge" data-status="failed"/)
    expect(page).toMatch(/data-node="receipt" data-status="not reached"/)
    expect(page).not.toMatch(/<script/i)
    expect((await cli("executions", "show", "nope", "--audit", store)).code).toBe(1)
  })

  it("replays from the failed node on the current version, linked to the original", async () => {
    writeFileSync(join(dir, "billing.json"), JSON.stringify(v2))
    const recorded = await cli("replay", failedId, "--audit", store, "--from", "failed")
    expect(recorded.code).toBe(1)
    expect(recorded.stderr).toContain("card declined")
    const current = await cli(
      "replay",
      failedId,
      "--audit",
      store,
      "--from",
      "charge",
      "--version",
      "current",
      "--flow",
      "billing.json",
      "--json"
    )
    expect(current.stderr).toBe("")
    expect(current.code).toBe(0)
    const result = JSON.parse(current.stdout) as { executionId: string; output: unknown }
    expect(result.output).toEqual({ receipt: { paid: 7 } })
    const replays = JSON.parse((await cli("executions", "list", "--audit", store, "--json")).stdout) as Array<{
      executionId: string
      replayOf?: string
      flowVersion: string
    }>
    const replay = replays.find((r) => r.executionId === result.executionId)!
    expect(replay.replayOf).toBe(failedId)
    expect(replay.flowVersion).toBe("2")
  })
})

const missing = missingServices("postgres")

describe.skipIf(missing !== undefined)(titled("where did it stop (runner killed)", missing), () => {
  const { schema, drop } = freshSchema()
  afterAll(drop)

  it("shows the node a killed runner was running", async () => {
    const executionId = randomUUID()
    const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/runner.ts", import.meta.url))], {
      env: { ...process.env, PG_URL, SCHEMA: schema, EXECUTION_ID: executionId, JOURNAL: join(dir, "runner-journal") },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const exited = new Promise((resolve) => child.once("exit", resolve))
    const audit = `${PG_URL}?schema=${schema}`
    const layer = Config.storeLayer(Config.target(audit, dir))
    try {
      const started = Date.now()
      while (Date.now() - started < 20_000) {
        const stop = await Effect.runPromise(
          Query.whereStopped(executionId).pipe(
            Effect.provide(layer),
            Effect.orElseSucceed(() => undefined)
          )
        )
        if (stop?.inFlight.some((n) => n.nodeId === "call-partner")) break
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      child.kill("SIGKILL")
      await exited
    }
    const stop = await Effect.runPromise(Query.whereStopped(executionId).pipe(Effect.provide(layer)))
    expect(stop!.status).toBe("running")
    expect(stop!.inFlight.map((n) => n.nodeId)).toEqual(["call-partner"])
    expect(stop!.lastCompleted!.nodeId).toBe("prepare")
    const shown = await cli("executions", "show", executionId, "--audit", audit)
    expect(shown.stdout).toContain("where it stopped:")
    expect(shown.stdout).toContain("running when last heard of: call-partner")
    const running = await cli("executions", "list", "--audit", audit, "--status", "running", "--json")
    expect(JSON.parse(running.stdout).map((r: { executionId: string }) => r.executionId)).toEqual([executionId])
  }, 40_000)
})
