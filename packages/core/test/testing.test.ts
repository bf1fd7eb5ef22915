import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Builtins, FlowEvents } from "../src/index.ts"
import * as Testing from "../src/testing.ts"
import { OrdersTable, orders, recordingServer, referenceFlow, tableLayer } from "./support/reference.ts"

// A table that must not be touched: replays and mocks run without any server.
const noTable = Layer.succeed(OrdersTable, { select: Effect.die(new Error("the table was queried during a replay")) })

describe("test kit", () => {
  it.effect("replaces node outputs with mocks and asserts on the trace", () =>
    Effect.gen(function* () {
      const flow = referenceFlow("http://127.0.0.1:9/unused")
      const run = yield* Testing.run(flow, undefined, {
        mocks: {
          query: [
            { id: 1, customer: "Ada", amount: 500, status: "paid" },
            { id: 2, customer: "Bob", amount: 5, status: "paid" }
          ],
          send: { status: 202 }
        }
      }).pipe(Effect.provide(noTable))
      assert.deepStrictEqual(run.output, { status: 202 })
      assert.deepStrictEqual(run.trace.ran(), ["query", "paid", "shape", "send"])
      assert.deepStrictEqual(run.trace.inputOf("send"), [
        { externalId: 1, contact: { name: "Ada" }, total: 500, currency: "EUR" }
      ])
      assert.strictEqual(run.trace.attempts("send"), 1)
      assert.strictEqual(run.executionId, "test-execution")
    })
  )

  it.live("a mocked failure follows the node's retry policy and ends the run with a typed error", () =>
    Effect.gen(function* () {
      const run = yield* Testing.run(referenceFlow("http://127.0.0.1:9/unused"), undefined, {
        mocks: { query: orders, send: { fail: { _tag: "Unavailable", message: "503 from the CRM", retryable: true } } }
      }).pipe(Effect.provide(noTable))
      assert.strictEqual(run.error?._tag, "NodeFailed")
      assert.strictEqual(run.error?._tag === "NodeFailed" && run.error.nodeId, "send")
      assert.strictEqual(run.trace.attempts("send"), 3, "retry: maxAttempts 3")
      assert.deepStrictEqual(run.trace.failed(), ["send"])
    })
  )

  it.effect("records a real execution once, then replays it offline with the same result", () =>
    Effect.gen(function* () {
      const server = yield* recordingServer
      const flow = referenceFlow(server.url)
      const { layer, recorder } = FlowEvents.layerMemory({ snapshots: "full" })
      const live = yield* Effect.provide(Testing.run(flow, undefined), [tableLayer, layer])
      const fixture = Testing.recordFixture(flow.ir, live.trace.events, { types: ["test.sql.query", "test.http.post"] })
      assert.deepStrictEqual(Object.keys(fixture.mocks), ["query", "send"])
      void recorder
      const received = server.received.length
      // Through JSON, as a fixture file would be.
      const replayed = yield* Testing.run(flow, undefined, { fixture: JSON.parse(JSON.stringify(fixture)) }).pipe(
        Effect.provide(noTable)
      )
      assert.deepStrictEqual(replayed.output, live.output)
      assert.deepStrictEqual(replayed.trace.ran(), live.trace.ran())
      assert.strictEqual(server.received.length, received, "the replay sent nothing")
    }).pipe(Effect.scoped)
  )

  it.effect("works on JSON flows too: the IR with its registry", () =>
    Effect.gen(function* () {
      const ir = {
        id: "json-flow",
        version: "1",
        trigger: { type: "manual" as const },
        nodes: {
          lookup: { type: "noop" },
          route: {
            type: "switch",
            config: { cases: [{ port: "vip", when: { path: "tier", op: "eq", value: "gold" } }] }
          },
          vip: { type: "respond", config: { status: 200, body: { value: "welcome back" } } },
          other: { type: "respond", config: { status: 403 } }
        },
        edges: [
          { from: { node: "$input", port: "out" }, to: { node: "lookup", port: "in" } },
          { from: { node: "lookup", port: "out" }, to: { node: "route", port: "in" } },
          { from: { node: "route", port: "vip" }, to: { node: "vip", port: "in" } },
          { from: { node: "route", port: "default" }, to: { node: "other", port: "in" } }
        ]
      }
      const run = yield* Testing.run(ir, {}, { registry: Builtins.registry, mocks: { lookup: { tier: "gold" } } })
      assert.deepStrictEqual(run.reply, { status: 200, headers: {}, body: "welcome back" })
      assert.deepStrictEqual(run.trace.skipped(), ["other"])
    })
  )
})
