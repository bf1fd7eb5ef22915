import { readFileSync } from "node:fs"
import { assert, describe, it, layer } from "@effect/vitest"
import { Builtins, Compiler, type Ir, Registry } from "@jsonflow/core"
import * as Testing from "@jsonflow/core/testing"
import { Effect, Logger, Schema } from "effect"
import { JsConfig, jsNode, Nodes, Sandbox, TsConfig, tsNode } from "../src/index.ts"
import { nodeContext, sandboxProcesses } from "./support.ts"

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

  it("check scripts when the flow is loaded with the sandbox's own static-check policy", () => {
    // Default policy ("block", as Sandbox.layer's): a blocked construct is a load error with its position.
    assert.throws(
      () => decodeJs({ source: "export default (s) => {\n  return eval(s)\n}" }),
      /refused: line 2, column 10/
    )
    assert.throws(() => decodeJs({ source: "export default () => { for (;;) {} }" }), /line 1, column 24: this loop/)
    const [reportJs] = Nodes.make({ staticChecks: "report" })
    const decodeReport = Schema.decodeUnknownSync(reportJs.config)
    assert.strictEqual(decodeReport({ source: "export default () => { for (;;) {} }" }).source.length, 36)
    // A direct eval is refused whatever the policy: SES would refuse it in the isolate.
    assert.throws(() => decodeReport({ source: "export default (s) => eval(s)" }), /line 1, column 23/)
    assert.deepStrictEqual(Nodes.make(), Nodes.definitions)
  })

  it("refuse limits over the sandbox's ceilings when the flow is loaded, naming the field, value and ceiling", () => {
    const source = "export default (x) => x"
    assert.throws(() => decodeJs({ source, timeoutMs: 120_000 }), /timeoutMs is over the sandbox's ceiling of 60000 ms/)
    assert.throws(() => decodeTs({ source, memoryMb: 1024 }), /memoryMb is over the sandbox's ceiling of 512 MB/)
    assert.throws(
      () => decodeJs({ source, maxLogBytes: 2 ** 21 }),
      /maxLogBytes is over the sandbox's ceiling of 1048576 bytes/
    )
    assert.throws(() => decodeJs({ source, memoryMb: 4 }))
    assert.deepStrictEqual(decodeJs({ source, timeoutMs: 60_000, memoryMb: 512 }), {
      source,
      timeoutMs: 60_000,
      memoryMb: 512
    })
    // A runner whose sandbox allows more checks against its own ceilings.
    const [wideJs] = Nodes.make({ maxLimits: { timeoutMs: 300_000 } })
    assert.strictEqual(Schema.decodeUnknownSync(wideJs.config)({ source, timeoutMs: 120_000 }).timeoutMs, 120_000)
    assert.throws(() => Schema.decodeUnknownSync(wideJs.config)({ source, timeoutMs: 400_000 }), /ceiling of 300000/)
  })

  it("report those load errors through the flow compiler, with the node and the JSON pointer", () => {
    const registry = Registry.merge(Builtins.registry, Registry.make(...Nodes.definitions))
    const flow = {
      id: "limits",
      version: "1",
      trigger: { type: "manual" },
      nodes: {
        slow: { type: "js", config: { source: "export default (x) => x", timeoutMs: 600_000 } },
        evil: { type: "js", config: { source: "export default (s) => eval(s)" } }
      },
      edges: [
        { from: { node: "$input", port: "out" }, to: { node: "slow", port: "in" } },
        { from: { node: "slow", port: "out" }, to: { node: "evil", port: "in" } }
      ],
      output: { node: "evil", port: "out" }
    }
    const outcome = Compiler.compileSync(flow, registry)
    assert.strictEqual(outcome._tag, "Failed")
    if (outcome._tag !== "Failed") return
    const problems = outcome.error.problems
      .filter((p) => p.code === "invalid-config")
      .map((p) => [p.code, p.nodeId, p.path, p.message])
    assert.deepStrictEqual(problems, [
      [
        "invalid-config",
        "slow",
        "/nodes/slow/config/timeoutMs",
        "timeoutMs is over the sandbox's ceiling of 60000 ms (raise maxLimits.timeoutMs of the runner's sandbox to allow it), got 600000"
      ],
      [
        "invalid-config",
        "evil",
        "/nodes/evil/config/source",
        `the script is refused: line 1, column 23: eval runs code built from a string, got "export default (s) => eval(s)"`
      ]
    ])
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
      // Definitions made for a laxer sandbox than the one running them: the sandbox still refuses.
      const [laxJs] = Nodes.make({ staticChecks: "off" })
      const config = Schema.decodeUnknownSync(laxJs.config)({ source: "export default () => { while (true) {} }" })
      const error = yield* Effect.flip(jsNode.run(1, config, nodeContext({ nodeId: "spin" })))
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

describe("js nodes in the engine", () => {
  it.live("retry a node whose attempt killed the sandbox process (SandboxCrashed), and the flow succeeds", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      yield* sandbox.run("export default () => 1", null)
      const [before] = sandboxProcesses()
      // The corpus's V8-fatal script (it aborts the sandbox process), on the node's first attempt only.
      const fatal = readFileSync(new URL("./hostile/split-fatal.js", import.meta.url), "utf8")
      assert.include(fatal, "export default () =>")
      const source = `${fatal.replace("export default () =>", "const kill = () =>")}
export default (input, ctx) => (ctx.attempt === 1 ? kill() : { attempt: ctx.attempt, input })`
      const flow: Ir.Flow = {
        id: "fragile",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          fragile: { type: "js", retry: { maxAttempts: 3, initialDelayMs: 0, jitter: false }, config: { source } }
        },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "fragile", port: "in" } }],
        output: { node: "fragile", port: "out" }
      }
      const registry = Registry.merge(Builtins.registry, Registry.make(...Nodes.definitions))
      const run = yield* Testing.run(flow, { order: 7 }, { registry })
      assert.isUndefined(run.error, String(run.error?.message))
      assert.deepStrictEqual(run.output, { attempt: 2, input: { order: 7 } })
      assert.strictEqual(run.trace.attempts("fragile"), 2)
      const failed = run.trace.events.filter((e) => e._tag === "NodeFailed")
      assert.deepStrictEqual(
        failed.map((e) => (e._tag === "NodeFailed" ? [e.attempt, e.error._tag, e.willRetry] : [])),
        [[1, "SandboxCrashed", true]]
      )
      // The process really died and was replaced.
      assert.notInclude(sandboxProcesses(), before)
      assert.strictEqual(sandbox.stats().processRestarts, 1)
    }).pipe(Effect.provide(Sandbox.layer()))
  )
})
