// The test kit's guarantees beyond mocks: fake service layers, a fixture file read back with pointers to its
// problems, deterministic traces, retries that do not wait (also under @effect/vitest's TestClock).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Testing from "../src/testing.ts"
import { OrdersTable, orders, recordingServer, referenceFlow, tableLayer } from "./support/reference.ts"

const unused = "http://127.0.0.1:9/unused"

describe("test kit: services, fixtures, determinism", () => {
  it.effect("a connector service replaced by a fake layer: the real node runs against it", () =>
    Effect.gen(function* () {
      const fake = Layer.succeed(OrdersTable, { select: Effect.succeed([orders[0]!]) })
      const run = yield* Testing.run(referenceFlow(unused), undefined, { mocks: { send: { status: 201 } } }).pipe(
        Effect.provide(fake)
      )
      assert.deepStrictEqual(run.trace.outputOf("query"), [orders[0]])
      assert.deepStrictEqual(run.trace.inputOf("send"), [
        { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" }
      ])
      assert.deepStrictEqual(run.trace.portsOf("query"), ["out"])
      assert.deepStrictEqual(run.output, { status: 201 })
    })
  )

  it.effect("retry delays are skipped by default, so a retried failure does not wait on the TestClock", () =>
    Effect.gen(function* () {
      // send retries with initialDelayMs 10: under it.effect's TestClock a real wait would never end.
      const outage = { fail: { _tag: "Unavailable", message: "503", retryable: true } }
      const run = yield* Testing.run(referenceFlow(unused), undefined, { mocks: { send: outage } }).pipe(
        Effect.provide(tableLayer)
      )
      assert.strictEqual(run.trace.attempts("send"), 3)
      assert.deepStrictEqual(run.trace.errorOf("send"), {
        _tag: "Unavailable",
        message: "503",
        retryable: true
      })
      assert.strictEqual(run.error?._tag, "NodeFailed")
    })
  )

  it.effect("two runs give equal traces: fixed ids and zero times", () =>
    Effect.gen(function* () {
      const once = () =>
        Testing.run(referenceFlow(unused), undefined, { mocks: { send: { status: 202 } } }).pipe(
          Effect.provide(tableLayer)
        )
      const [a, b] = [yield* once(), yield* once()]
      assert.deepStrictEqual(a.trace.events, b.trace.events)
      assert.isTrue(a.trace.events.every((e) => e.at === 0 && e.eventId.startsWith("test-execution:")))
      const real = yield* Testing.run(referenceFlow(unused), undefined, {
        mocks: { send: { status: 202 } },
        time: "real"
      }).pipe(Effect.provide(tableLayer))
      assert.isTrue(real.trace.events.every((e) => e.at > 0))
    })
  )

  it.effect("a mock of a node the flow does not have fails with a FixtureError naming the nodes", () =>
    Effect.gen(function* () {
      const error = yield* Testing.run(referenceFlow(unused), undefined, { mocks: { sned: {} } }).pipe(
        Effect.provide(tableLayer),
        Effect.flip
      )
      assert.strictEqual(error._tag, "FixtureError")
      assert.include(error.message, '"sned"')
      assert.include(error.message, "query, paid, shape, send")
    })
  )

  it.effect("record once into a fixture file, replay it from the file with no server", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "jsonflow-fixture-")))
      yield* Effect.addFinalizer(() => Effect.promise(() => rm(dir, { recursive: true, force: true })))
      const server = yield* recordingServer
      const flow = referenceFlow(server.url)
      const live = yield* Testing.run(flow, undefined).pipe(Effect.provide(tableLayer))
      assert.deepStrictEqual(live.output, { status: 201 })
      const file = join(dir, "orders.fixture.json")
      const fixture = Testing.recordFixture(flow.ir, live.trace.events, { types: ["test.sql.query", "test.http.post"] })
      yield* Effect.promise(() => writeFile(file, JSON.stringify(fixture, null, 2)))
      const sent = server.received.length
      const replayed = yield* Testing.run(flow, undefined, {
        fixture: Testing.parseFixture(yield* Effect.promise(() => readFile(file, "utf8")))
      }).pipe(Effect.provide(Layer.succeed(OrdersTable, { select: Effect.die("queried during a replay") })))
      assert.deepStrictEqual(replayed.output, live.output)
      assert.deepStrictEqual(replayed.trace.ran(), live.trace.ran())
      assert.deepStrictEqual(replayed.trace.inputOf("send"), live.trace.inputOf("send"))
      assert.strictEqual(fixture.executionId, "test-execution")
      assert.strictEqual(server.received.length, sent, "the replay sent nothing")
    }).pipe(Effect.scoped)
  )

  it("a fixture file that does not decode names the JSON pointer of the problem", () => {
    assert.throws(() => Testing.parseFixture('{"flowId": "x", "mocks": 3}'), /\/mocks: /)
    assert.throws(() => Testing.parseFixture('{"mocks": {}}'), /\/flowId: is required/)
    assert.throws(() => Testing.parseFixture("{"), /not JSON/)
  })

  it.effect("a trace recorded without values is refused by recordFixture", () =>
    Effect.gen(function* () {
      const flow = referenceFlow(unused)
      const run = yield* Testing.run(flow, undefined, { mocks: { send: {} } }).pipe(Effect.provide(tableLayer))
      const started = run.trace.events[0]
      assert.strictEqual(started?._tag === "ExecutionStarted" && started.snapshots, "full")
      const metadata = run.trace.events.map((e) =>
        e._tag === "ExecutionStarted" ? { ...e, snapshots: "metadata" as const } : e
      )
      assert.throws(() => Testing.recordFixture(flow.ir, metadata), /"metadata" snapshots/)
    })
  )

  it.effect("Testing.unused satisfies the type; a node that uses the service dies naming it", () =>
    Effect.gen(function* () {
      const mocked = yield* Testing.run(referenceFlow(unused), undefined, { mocks: { send: {} } }).pipe(
        Effect.provide(tableLayer)
      )
      assert.strictEqual(mocked.error, undefined)
      const used = yield* Testing.run(referenceFlow(unused), undefined, { mocks: { send: {} } }).pipe(
        Effect.provide(Testing.unused(OrdersTable)),
        Effect.exit
      )
      assert.strictEqual(used._tag, "Success")
      const run = used._tag === "Success" ? used.value : undefined
      assert.strictEqual(run?.error?._tag, "NodeFailed")
      assert.include(run?.error?.message, "test/OrdersTable.select")
    })
  )
})
