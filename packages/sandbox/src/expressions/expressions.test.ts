import { assert, describe, it } from "@effect/vitest"
import { Builtins, Compiler } from "@jsonflow/core"
import { Effect } from "effect"
import { hasNestedQuantifier, layer, makeEngine } from "./index.ts"

const engine = makeEngine({ timeoutMs: 200 })
const run = (source: string, data: unknown = {}, bindings: Record<string, unknown> = {}) =>
  Effect.result(engine.evaluate(source, data, bindings))

describe("JSONata expressions", () => {
  it.effect("evaluates expressions with $vars and $trigger bound", () =>
    Effect.gen(function* () {
      const ok = yield* run("amount * 1.2 + $vars.extra", { amount: 100 }, { vars: { extra: 1 } })
      assert.deepStrictEqual(ok._tag === "Success" && ok.success, 121)
      const seq = yield* run("items[price > 5].sku", {
        items: [
          { sku: "a", price: 9 },
          { sku: "b", price: 1 },
          { sku: "c", price: 7 }
        ]
      })
      assert.deepStrictEqual(seq._tag === "Success" && seq.success, ["a", "c"])
    })
  )

  it.effect("reports syntax errors with their position", () =>
    Effect.gen(function* () {
      const bad = yield* run("amount * ")
      assert.strictEqual(bad._tag, "Failure")
      if (bad._tag === "Failure") {
        assert.strictEqual(bad.failure._tag, "ExpressionError")
        assert.isNumber(bad.failure._tag === "ExpressionError" ? bad.failure.position : undefined)
      }
    })
  )

  it.effect("cannot reach the host through prototypes", () =>
    Effect.gen(function* () {
      for (const source of [
        "$.constructor",
        "constructor.constructor('return process')()",
        "a.__proto__",
        "$lookup($, 'constructor')",
        "$eval('constructor')"
      ]) {
        const result = yield* run(source, { a: {} })
        // Either nothing or a typed error: never a host function or object.
        if (result._tag === "Success") assert.isUndefined(result.success, source)
        else assert.strictEqual(result.failure._tag, "ExpressionError", source)
      }
    })
  )

  it.live("stops runaway recursion, huge strings, huge sequences and catastrophic regexes", () =>
    Effect.gen(function* () {
      const cases: Array<readonly [string, RegExp]> = [
        ["($f := function($n){ $f($n+1) }; $f(0))", /D1011|D1012/],
        ["$pad('', 1000000000)", /JF001/],
        ["$reduce([1..40], function($a, $b){ $a & $a }, 'x')", /JF001/],
        ["[1..100000000]", /D2014/],
        ["$count([1..200000])", /D2015/],
        ["$match('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', /(a+)+$/)", /JF002/]
      ]
      for (const [source, code] of cases) {
        const started = Date.now()
        const result = yield* run(source)
        assert.strictEqual(result._tag, "Failure", source)
        if (result._tag === "Failure") assert.match(result.failure.message, code, source)
        assert.isBelow(Date.now() - started, 5_000, `${source} must be stopped, not run to exhaustion`)
      }
    })
  )

  it("recognizes nested quantifiers", () => {
    assert.isTrue(hasNestedQuantifier("(a+)+$"))
    assert.isTrue(hasNestedQuantifier("^(a|aa)*b"))
    assert.isTrue(hasNestedQuantifier("((ab)*c)*"))
    assert.isFalse(hasNestedQuantifier("^[a-z]+@[a-z]+\\.com$"))
    assert.isFalse(hasNestedQuantifier("(abc)+"))
    assert.isFalse(hasNestedQuantifier("a(b|c)d"))
  })

  it.effect("powers expr values in built-in nodes; without the layer a flow fails with ExpressionUnavailable", () =>
    Effect.gen(function* () {
      const flow = {
        id: "expr",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          keep: { type: "filter", config: { where: { expr: "amount > 100 and status = 'paid'" } } },
          shape: {
            type: "map",
            config: { each: true, fields: { id: "id", gross: { expr: "$round(amount * 1.2, 2)" } } }
          }
        },
        edges: [
          { from: { node: "$input", port: "out" }, to: { node: "keep", port: "in" } },
          { from: { node: "keep", port: "out" }, to: { node: "shape", port: "in" } }
        ]
      }
      const compiled = yield* Compiler.compile(flow, Builtins.registry)
      const input = [
        { id: 1, amount: 150.5, status: "paid" },
        { id: 2, amount: 90, status: "paid" },
        { id: 3, amount: 300, status: "open" }
      ]
      const result = yield* compiled.run(input).pipe(Effect.provide(layer()))
      assert.deepStrictEqual(result.output, { shape: [{ id: 1, gross: 180.6 }] })
      const missing = yield* Effect.flip(compiled.run(input))
      assert.strictEqual(missing._tag === "NodeFailed" && missing.error._tag, "ExpressionUnavailable")
    })
  )
})
