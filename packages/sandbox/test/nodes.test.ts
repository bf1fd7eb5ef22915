import { assert, describe, it, layer } from "@effect/vitest"
import { Builtins, Compiler, Registry } from "@jsonflow/core"
import { Effect, Logger, Schema } from "effect"
import { JsConfig, jsNode, Nodes, Sandbox, TsConfig, tsNode } from "../src/index.ts"
import { nodeContext } from "./support.ts"

const decodeJs = Schema.decodeUnknownSync(JsConfig)
const decodeTs = Schema.decodeUnknownSync(TsConfig)

describe("js/ts node configs", () => {
  it("refuse a script that does not compile when the flow is loaded, with the position", () => {
    assert.throws(() => decodeJs({ source: "export default (x) => {\n  return x +\n}" }), /line 3, column 1/)
    assert.throws(() => decodeTs({ source: "enum E { A }\nexport default () => E.A" }), /enum/)
    assert.throws(() => decodeJs({ source: "export default (x) => x", ports: [] }))
    assert.throws(() => decodeJs({ source: "export default (x) => x", ports: ["error"] }), /not error/)
    assert.deepStrictEqual(decodeJs({ source: "export default (x) => x", timeoutMs: 50 }), {
      source: "export default (x) => x",
      timeoutMs: 50
    })
  })

  it("declare their ports from the config", () => {
    assert.deepStrictEqual(jsNode.dynamicPorts?.(decodeJs({ source: "export default (x) => x" })), ["out"])
    assert.deepStrictEqual(tsNode.dynamicPorts?.(decodeTs({ source: "export default (x) => x", ports: ["a", "b"] })), [
      "a",
      "b"
    ])
    assert.deepStrictEqual(
      Nodes.definitions.map((d) => d.type),
      ["js", "ts"]
    )
  })
})

layer(Sandbox.layer(), { excludeTestServices: true })("js/ts nodes", (it) => {
  it.effect("emit the script's result on their single port, with the node's context", () =>
    Effect.gen(function* () {
      const config = decodeJs({
        source:
          "export default (order, ctx) => ({ total: order.total * 2, node: ctx.nodeId, run: ctx.executionId, vat: ctx.variables.vat })"
      })
      const emitted = yield* jsNode.run(
        { total: 21 },
        config,
        nodeContext({ nodeId: "double", executionId: "x-1", variables: { vat: 0.2 } })
      )
      assert.deepStrictEqual(emitted, { port: "out", value: { total: 42, node: "double", run: "x-1", vat: 0.2 } })
    })
  )

  it.effect("run TypeScript and apply per-node limits", () =>
    Effect.gen(function* () {
      const ok = yield* tsNode.run(
        { n: 2 },
        decodeTs({ source: "type In = { n: number }\nexport default (input: In): number => input.n ** 10" }),
        nodeContext({ nodeType: "ts" })
      )
      assert.deepStrictEqual(ok, { port: "out", value: 1024 })
      const error = yield* Effect.flip(
        tsNode.run(
          null,
          decodeTs({ source: "export default (): void => { let i = 0; while (i >= 0) i++ }", timeoutMs: 30 }),
          nodeContext({ nodeId: "spin" })
        )
      )
      assert.strictEqual(error._tag, "ScriptTimeout")
      if (error._tag === "ScriptTimeout") assert.deepStrictEqual([error.nodeId, error.timeoutMs], ["spin", 30])
      assert.isFalse(jsNode.isRetryable(error))
    })
  )

  it.effect("with several ports, route { port, value } (or an array of them) and refuse anything else", () =>
    Effect.gen(function* () {
      const config = decodeJs({
        ports: ["big", "small"],
        source: `export default (order) => order.split
          ? [{ port: "big", value: order.total }, { port: "small", value: 0 }]
          : order.bad ? { port: "huge", value: 1 } : { port: order.total > 100 ? "big" : "small", value: order }`
      })
      const context = nodeContext({ nodeId: "route" })
      // Ports chosen by config are typed as the static `out` port's: compare as plain data.
      const run = (input: unknown) => jsNode.run(input, config, context) as Effect.Effect<unknown, unknown, Sandbox>
      assert.deepStrictEqual(yield* run({ total: 500 }), {
        port: "big",
        value: { total: 500 }
      })
      assert.deepStrictEqual(yield* run({ total: 5 }), { port: "small", value: { total: 5 } })
      assert.deepStrictEqual(yield* run({ total: 7, split: true }), [
        { port: "big", value: 7 },
        { port: "small", value: 0 }
      ])
      const error = yield* Effect.flip(jsNode.run({ bad: true }, config, context))
      assert.strictEqual(error._tag, "ScriptPortInvalid")
      if (error._tag === "ScriptPortInvalid") assert.deepStrictEqual(error.ports, ["big", "small"])
    })
  )

  it.effect("send console output to the Effect logger", () =>
    Effect.gen(function* () {
      const seen: Array<unknown> = []
      const logger = Logger.make((options) => {
        seen.push([options.logLevel, options.message])
      })
      yield* jsNode
        .run(1, decodeJs({ source: "export default (x) => { console.warn('careful', x); return x }" }), nodeContext())
        .pipe(Effect.provide(Logger.layer([logger])))
      assert.deepStrictEqual(seen, [["Warn", ["careful 1"]]])
    })
  )

  it.effect("fail with a compile error naming the node when the runner's static checks refuse the script", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        jsNode.run(1, decodeJs({ source: "export default () => { while (true) {} }" }), nodeContext({ nodeId: "spin" }))
      )
      assert.strictEqual(error._tag, "ScriptCompileError")
      if (error._tag === "ScriptCompileError") assert.deepStrictEqual([error.nodeId, error.line], ["spin", 1])
    })
  )

  it.effect("run inside a compiled flow, branching on the script's port", () =>
    Effect.gen(function* () {
      const registry = Registry.merge(Builtins.registry, Registry.make(...Nodes.definitions))
      const flow = {
        id: "orders",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          classify: {
            type: "ts",
            config: {
              ports: ["big", "small"],
              source: "export default (o: { total: number }) => ({ port: o.total > 100 ? 'big' : 'small', value: o })"
            }
          },
          label: {
            type: "js",
            config: { source: "export default (o, ctx) => ({ ...o, label: 'big order', by: ctx.nodeId })" }
          }
        },
        edges: [
          { from: { node: "$input", port: "out" }, to: { node: "classify", port: "in" } },
          { from: { node: "classify", port: "big" }, to: { node: "label", port: "in" } }
        ],
        output: { node: "label", port: "out" }
      }
      const compiled = yield* Compiler.compile(flow, registry)
      const result = yield* compiled.run({ total: 250 })
      assert.deepStrictEqual(result.output, { total: 250, label: "big order", by: "label" })
      // The small port fires: the label node is skipped, the flow ends after one step with no output.
      const small = yield* compiled.run({ total: 5 })
      assert.deepStrictEqual([small.steps, small.output], [1, undefined])
    })
  )
})
