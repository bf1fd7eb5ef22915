/**
 * Replay against the embedded store (no server needed): from the failed node once the cause is fixed, from
 * the start, on the recorded or the current version, refused where it cannot be faithful.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Embedded, Redaction, Replay, Store } from "@jsonflow/audit"
import { Flow, Node } from "@jsonflow/core"
import { Effect, ManagedRuntime, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fixed, orderFlow, replayFlow, step } from "./flows.ts"

const dir = mkdtempSync(join(tmpdir(), "audit-replay-"))
const keyring = Redaction.keyringFrom(`k1:${Redaction.generateKey()}`)

const login = Node.define({
  type: "test.login",
  input: Schema.Struct({ user: Schema.String, password: Schema.String }),
  output: Schema.String,
  run: (input) => Effect.succeed(`${input.user}:${input.password.length}`)
})
const loginFlow = Flow.make({ id: "login", input: Schema.Struct({ user: Schema.String, password: Schema.String }) })
  .andThen("check", login, {})
  .build()

const runtime = ManagedRuntime.make(
  Audit.layer({
    sinks: [Embedded.sink({ dataDir: join(dir, "store") })],
    flows: [replayFlow.ir, orderFlow.ir, loginFlow.ir],
    buffer: { journalDir: join(dir, "journal"), lingerMs: 2 },
    redaction: { mode: "encrypt", keyring }
  })
)
const flush = () => runtime.runPromise(Audit.Audit.use((a) => a.flush))
const run = <A>(effect: Effect.Effect<A, unknown, Store.AuditStore>) => runtime.runPromise(effect)

let failedId = ""

beforeAll(async () => {
  fixed.value = false
  const compiled = await runtime.runPromise(Flow.compile(replayFlow))
  const exit = await runtime.runPromiseExit(compiled.run({ n: 1 }))
  expect(exit._tag).toBe("Failure")
  await flush()
  const failed = await run(Store.AuditStore.use((s) => s.listExecutions({ flowId: "replayable", status: "failed" })))
  failedId = failed[0]!.executionId
}, 30_000)

afterAll(async () => {
  await runtime.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe("Replay", () => {
  it("from the failed node, once the cause is fixed, gives the result of a fresh run", async () => {
    fixed.value = true
    const fresh = await runtime.runPromise(Effect.flatMap(Flow.compile(replayFlow), (c) => c.run({ n: 1 })))
    const replayed = await run(Replay.replay({ executionId: failedId, from: "failed", registry: replayFlow.registry }))
    expect(replayed.output).toEqual(fresh.output)
    expect(replayed.output).toEqual({ n: 21 })
    await flush()
    const trace = await run(Store.AuditStore.use((s) => s.trace(replayed.executionId)))
    expect(trace!.execution.replayOf).toBe(failedId)
    expect(trace!.execution.status).toBe("succeeded")
    // Only the failed node and what follows it ran again.
    expect([...new Set(trace!.nodes.map((n) => n.nodeId))]).toEqual(["fragile", "last"])
  })

  it("from the start, and on the current version, links every replay to the original", async () => {
    fixed.value = true
    const fromStart = await run(Replay.replay({ executionId: failedId, registry: replayFlow.registry }))
    expect(fromStart.output).toEqual({ n: 21 })
    // Version 2 adds a step at the end.
    const v2 = Flow.make({ id: "replayable", version: "2", input: Schema.Struct({ n: Schema.Number }) })
      .andThen("first", step, {})
      .andThen("fragile", step, {})
      .andThen("last", step, {})
      .andThen("extra", step, {})
      .build()
    const current = await run(
      Replay.replay({
        executionId: failedId,
        from: "fragile",
        version: "current",
        registry: v2.registry,
        resolveFlow: () => v2.ir
      })
    )
    expect(current.output).toEqual({ n: 5 })
    await flush()
    const replays = await run(Store.AuditStore.use((s) => s.listExecutions({ replayOf: failedId })))
    expect(replays.length).toBe(3)
    expect(replays.map((r) => r.flowVersion).sort()).toEqual(["1", "1", "2"])
  })

  it("refuses what it cannot do faithfully, saying why", async () => {
    const error = (options: Parameters<typeof Replay.plan>[0]) =>
      run(Effect.flip(Replay.plan(options))).then((e) => (e as { message: string }).message)
    expect(await error({ executionId: "nope", registry: replayFlow.registry })).toMatch(/no such execution/)
    expect(await error({ executionId: failedId, from: "last", registry: replayFlow.registry })).toMatch(
      /did not run in it/
    )
    // A merge downstream of `review` also waits on `auto`, which would not run again.
    const compiled = await runtime.runPromise(Flow.compile(orderFlow))
    const order = { id: "o1", amount: 500, customer: { email: "a@b.co" } }
    const result = await runtime.runPromise(compiled.run(order, { trigger: order }))
    await flush()
    expect(await error({ executionId: result.executionId, from: "review", registry: orderFlow.registry })).toMatch(
      /"done" downstream of "review" also waits on auto/
    )
  })

  it("decrypts encrypted inputs with the keyring, and refuses without it", async () => {
    const compiled = await runtime.runPromise(Flow.compile(loginFlow))
    const original = await runtime.runPromise(compiled.run({ user: "ann", password: "correct horse" }))
    await flush()
    const stored = JSON.stringify(await run(Store.AuditStore.use((s) => s.trace(original.executionId))))
    expect(stored).not.toContain("correct horse")
    const replayed = await run(
      Replay.replay({ executionId: original.executionId, registry: loginFlow.registry, keyring })
    )
    expect(replayed.output).toBe(original.output)
    const without = await runtime.runPromiseExit(
      Replay.replay({ executionId: original.executionId, registry: loginFlow.registry })
    )
    expect(without._tag).toBe("Failure")
  })
})
