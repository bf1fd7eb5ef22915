import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Compiler, Flow, FlowEvents, Ir, Node } from "../src/index.ts"
import {
  Order,
  OrdersTable,
  orders,
  PostFailed,
  query,
  recordingServer,
  referenceFlow,
  tableLayer
} from "./support/reference.ts"

describe("builder", () => {
  it.effect("runs the reference use case: query -> filter -> map -> HTTP POST", () =>
    Effect.gen(function* () {
      const server = yield* recordingServer
      const { layer, recorder } = FlowEvents.layerMemory()
      const result = yield* Flow.run(referenceFlow(server.url), undefined).pipe(Effect.provide([tableLayer, layer]))
      assert.deepStrictEqual(result.output, { status: 201 })
      assert.deepStrictEqual(server.received, [
        [
          { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" },
          { externalId: 4, contact: { name: "Di" }, total: 120, currency: "EUR" }
        ]
      ])
      const ran = recorder
        .trace(result.executionId)
        .filter((e) => e._tag === "NodeSucceeded")
        .map((e) => (e._tag === "NodeSucceeded" ? e.nodeId : ""))
      assert.deepStrictEqual(ran, ["query", "paid", "shape", "send"])
    }).pipe(Effect.scoped)
  )

  it("produces plain IR: the same value the JSON loader produces, with the input's JSON Schema", () => {
    const built = referenceFlow("http://127.0.0.1:1/x")
    const json = JSON.parse(JSON.stringify(built.ir))
    assert.isTrue(Ir.equals(json, built.ir), "the IR survives a JSON round trip unchanged")
    assert.deepStrictEqual(built.ir.nodes.paid, {
      type: "filter",
      config: {
        where: {
          all: [
            { path: "status", op: "eq", value: "paid" },
            { path: "amount", op: "gte", value: 100 }
          ]
        }
      }
    })
    assert.deepStrictEqual(built.ir.edges[0], {
      from: { node: "$input", port: "out" },
      to: { node: "query", port: "in" }
    })
    assert.deepStrictEqual(built.ir.output, { node: "send", port: "out" })
    assert.deepStrictEqual(built.ir.nodes.send?.retry, { maxAttempts: 3, initialDelayMs: 10 })
    // The IR compiles on its own against the same registry (what a JSON flow goes through).
    assert.strictEqual(Compiler.compileSync(json, built.registry)._tag, "Compiled")
  })

  it.effect("branches with switch, joins branches, catches errors, and loops with forEach", () =>
    Effect.gen(function* () {
      const boom = Node.define({
        type: "test.boom",
        input: Schema.Unknown,
        output: Schema.Unknown,
        run: () => Effect.fail(new PostFailed({ status: 500, retryable: false }))
      })
      const flow = Flow.make({ id: "shapes", input: Schema.Array(Order) })
        .forEach(
          "each",
          (p) => p.$input,
          (item) =>
            item
              .switch("size", (p) => p.$input, { big: { path: "amount", op: "gte", value: 200 } })
              .merge("sized", (p) => [p.size.big, p.size.default]),
          { concurrency: 2 }
        )
        .node("explode", boom, {}, (p) => p.each.out)
        .map("caught", (p) => p.explode.error, { fields: { failed: "node", why: "error._tag" } })
        .join("both", (p) => ({ items: p.each.out, failure: p.caught.out }))
        .build()
      const result = yield* Flow.run(flow, orders)
      assert.deepStrictEqual(result.output, {
        items: orders,
        failure: { failed: "explode", why: "PostFailed" }
      })
    })
  )

  it.effect("decodes the flow input with its Schema and names the problem", () =>
    Effect.gen(function* () {
      const flow = Flow.make({ id: "typed-input", input: Schema.Struct({ value: Schema.Number }) })
        .map("copy", (p) => p.$input, { fields: { v: "value" } })
        .build()
      const error = yield* Effect.flip(Flow.run(flow, { value: "21" } as never))
      assert.strictEqual(error._tag, "InputInvalid")
      assert.strictEqual(error._tag === "InputInvalid" && error.nodeId, "$input")
      assert.strictEqual(error._tag === "InputInvalid" && error.path, "/value")
    })
  )

  it("runs behind the promise API with a layer, and disposes it", async () => {
    let closed = 0
    const counted = Layer.effect(
      OrdersTable,
      Effect.acquireRelease(Effect.succeed({ select: Effect.succeed(orders) }), () => Effect.sync(() => closed++))
    )
    const flow = Flow.make({ id: "count" })
      .andThen("query", query, { table: "orders" })
      .map("n", (p) => p.query.out, { fields: { first: "0.customer" } })
      .build()
    const runner = Flow.toPromise(flow, counted)
    const first = await runner.run(undefined)
    const second = await runner.run(undefined)
    assert.deepStrictEqual(first.output, { first: "Ada" })
    assert.notStrictEqual(first.executionId, second.executionId)
    await runner.dispose()
    assert.strictEqual(closed, 1, "the layer is built once and closed on dispose")

    const failing = Flow.toPromise(
      Flow.make({ id: "fails", input: Schema.Number })
        .map("m", (p) => p.$input, { fields: {} })
        .build()
    )
    const rejection = await failing.run("nope" as never).catch((error: unknown) => error)
    assert.strictEqual((rejection as { _tag: string })._tag, "InputInvalid")
    await failing.dispose()
  })
})
