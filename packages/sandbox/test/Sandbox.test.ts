import { readFileSync } from "node:fs"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { Sandbox, type SandboxError } from "../src/index.ts"
import { eventually, sandboxProcesses } from "./support.ts"

const failureOf = <A>(effect: Effect.Effect<A, SandboxError, Sandbox>) => Effect.flip(effect)

// Real clock: these tests measure and time out in real time.
layer(Sandbox.layer(), { excludeTestServices: true })("Sandbox (production layer)", (it) => {
  it.effect("runs a transform with its input and ctx, and returns JSON data", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const result = yield* sandbox.run(
        "export default (order, ctx) => ({ total: order.items.reduce((s, i) => s + i, 0), node: ctx.nodeId, execution: ctx.executionId, region: ctx.variables.region })",
        { items: [1, 2, 3] },
        { nodeId: "sum", executionId: "e-1", variables: { region: "eu" } }
      )
      assert.deepStrictEqual(result, {
        output: { total: 6, node: "sum", execution: "e-1", region: "eu" },
        logs: [],
        droppedLogs: 0
      })
    })
  )

  it.effect("awaits async transforms (promises and microtasks settle within the call)", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const source = `export default async (n) => {
        let total = 0
        for (let i = 0; i < n; i++) total += await Promise.resolve(i)
        return { total, thenable: await { then: (resolve) => resolve("ok") } }
      }`
      const { output } = yield* sandbox.run(source, 100)
      assert.deepStrictEqual(output, { total: 4950, thenable: "ok" })
    })
  )

  it.effect("works on a copy: changing the input or ctx in the script changes nothing on the host", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const input = { list: [1, 2] }
      const variables = { counter: 1 }
      yield* sandbox.run(
        "export default (input, ctx) => { input.list.push(3); ctx.variables.counter = 99; return null }",
        input,
        { variables }
      )
      assert.deepStrictEqual(input, { list: [1, 2] })
      assert.deepStrictEqual(variables, { counter: 1 })
    })
  )

  it.effect("runs TypeScript with errors at the user's line and column", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const script = yield* sandbox.compile(
        "interface Order { readonly items: Array<{ price: number }> }\nexport default (order: Order): number => {\n  const first: { price: number } = order.items[0]!\n  return first.price.toFixed(2) as unknown as number\n}",
        { language: "ts" }
      )
      assert.strictEqual((yield* sandbox.run(script, { items: [{ price: 2 }] })).output, "2.00")
      const error = yield* failureOf(sandbox.run(script, { items: [] }, { nodeId: "price" }))
      assert.strictEqual(error._tag, "ScriptError")
      if (error._tag !== "ScriptError") return
      assert.strictEqual(error.errorName, "TypeError")
      assert.strictEqual(error.line, 4)
      assert.strictEqual(error.column, 16)
      assert.strictEqual(error.nodeId, "price")
      assert.match(error.stack ?? "", /script:4:16/)
      assert.notMatch(error.stack ?? "", /isolated-vm|worker|node:/)
    })
  )

  it.effect("captures console output per call, with a byte cap", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const result = yield* sandbox.run(
        "export default (n) => { console.log('count', n, { n }); console.warn('careful'); console.error(new Error('shown')); return n }",
        3
      )
      assert.deepStrictEqual(result.logs, [
        { level: "log", message: 'count 3 {"n":3}' },
        { level: "warn", message: "careful" },
        { level: "error", message: "Error: shown" }
      ])
      const capped = yield* sandbox.run(
        "export default () => { for (let i = 0; i < 100; i++) console.log('x'.repeat(50)); return 1 }",
        null,
        { limits: { maxLogBytes: 500 } }
      )
      const bytes = capped.logs.reduce((sum, line) => sum + line.message.length + 8, 0)
      assert.isAtMost(bytes, 500)
      assert.isAbove(capped.droppedLogs, 80)
    })
  )

  it.effect("applies per-call limits over the runner's defaults", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      assert.strictEqual(sandbox.limits.timeoutMs, 1000)
      const started = Date.now()
      const error = yield* failureOf(
        sandbox.run("export default () => { let i = 0; while (i >= 0) i++ }", null, { limits: { timeoutMs: 50 } })
      )
      assert.strictEqual(error._tag, "ScriptTimeout")
      if (error._tag === "ScriptTimeout") assert.strictEqual(error.timeoutMs, 50)
      assert.isBelow(Date.now() - started, 900)
    })
  )

  it.effect("refuses input that is too large or not JSON data, before anything is sent", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const big = yield* failureOf(
        sandbox.run("export default (x) => x", "é".repeat(600), { limits: { maxInputBytes: 1000 } })
      )
      assert.strictEqual(big._tag, "InputTooLarge")
      if (big._tag === "InputTooLarge") assert.isAbove(big.bytes, 1000)
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.strictEqual(
        (yield* failureOf(sandbox.run("export default (x) => 1", cyclic)))._tag,
        "InputNotSerializable"
      )
      assert.strictEqual((yield* failureOf(sandbox.run("export default (x) => 1", 10n)))._tag, "InputNotSerializable")
    })
  )

  it.effect("caps the result size (UTF-8 bytes), measured inside the isolate", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const error = yield* failureOf(
        sandbox.run("export default () => 'é'.repeat(40)", null, { limits: { maxOutputBytes: 60 } })
      )
      assert.strictEqual(error._tag, "ResultTooLarge")
      if (error._tag === "ResultTooLarge") assert.deepStrictEqual([error.bytes, error.limit], [82, 60])
      const fits = yield* sandbox.run("export default () => 'é'.repeat(29)", null, { limits: { maxOutputBytes: 60 } })
      assert.strictEqual(fits.output, "é".repeat(29))
    })
  )

  it.effect("drops __proto__ and constructor keys from results", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const { output } = yield* sandbox.run(
        `export default () => JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}},"list":[{"__proto__":{"x":1},"ok":true}]}')`,
        null
      )
      assert.deepStrictEqual(output, { list: [{ ok: true }] })
      assert.isFalse(Object.hasOwn(output as object, "__proto__"))
      const merged = Object.assign({}, output) as Record<string, unknown>
      assert.isUndefined(merged.admin)
      assert.isUndefined(({} as Record<string, unknown>).admin)
    })
  )

  it.effect("keeps no state between calls: module state, globals, builtins", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const counter = yield* sandbox.compile(
        "let calls = 0\nconst seen = []\nexport default (x) => { seen.push(x); return [++calls, seen.length] }"
      )
      for (let i = 0; i < 5; i++) assert.deepStrictEqual((yield* sandbox.run(counter, i)).output, [1, 1])
      const writer = yield* sandbox.compile(
        "export default () => { const tries = []; for (const f of [() => { globalThis.shared = 1 }, () => { Array.prototype.extra = 1 }, () => { JSON.parse = () => 'hacked' }, () => { Math.random = () => 4 }]) { try { f(); tries.push('changed') } catch { tries.push('refused') } } return tries }"
      )
      assert.deepStrictEqual((yield* sandbox.run(writer, null)).output, ["refused", "refused", "refused", "refused"])
      const reader = yield* sandbox.compile(
        "export default () => [typeof globalThis.shared, typeof [].extra, JSON.parse('1'), typeof Math.random()]"
      )
      assert.deepStrictEqual((yield* sandbox.run(reader, null)).output, ["undefined", "undefined", 1, "number"])
    })
  )

  it.effect("a rejection left behind fails its own call only", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const error = yield* failureOf(
        sandbox.run("export default () => { Promise.reject(new Error('left')); return 1 }", null)
      )
      assert.strictEqual(error._tag, "ScriptError")
      assert.strictEqual((yield* sandbox.run("export default () => 'clean'", null)).output, "clean")
    })
  )

  it.effect("runs many calls concurrently, each with its own result", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const script = yield* sandbox.compile("export default async (n, ctx) => ({ n: n * 2, node: ctx.nodeId })")
      const results = yield* Effect.forEach(
        Array.from({ length: 64 }, (_, i) => i),
        (i) => sandbox.run(script, i, { nodeId: `n${i}` }),
        { concurrency: "unbounded" }
      )
      results.forEach((result, i) => {
        assert.deepStrictEqual(result.output, { n: i * 2, node: `n${i}` })
      })
    })
  )

  it.effect("an interrupted call does not disturb the next ones", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const slow = sandbox.run(
        "export default () => { const end = Date.now() + 200; while (Date.now() < end) {} return 1 }",
        null
      )
      const outcome = yield* Effect.exit(slow.pipe(Effect.timeout("20 millis")))
      assert.isTrue(Exit.isFailure(outcome))
      assert.strictEqual((yield* sandbox.run("export default () => 'next'", null)).output, "next")
    })
  )

  it.effect("refuses scripts the static checks block, naming the node", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const error = yield* failureOf(sandbox.run("export default (s) => eval(s)", "1", { nodeId: "evil" }))
      assert.strictEqual(error._tag, "ScriptCompileError")
      if (error._tag !== "ScriptCompileError") return
      assert.strictEqual(error.nodeId, "evil")
      assert.strictEqual(error.reason, "forbidden")
    })
  )
})

describe("Sandbox supervision", () => {
  it.live("restarts a sandbox process that dies; the call it ran fails with SandboxCrashed, the next one works", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      yield* sandbox.run("export default () => 1", null)
      const [pid] = sandboxProcesses()
      assert.isDefined(pid)
      const running = yield* Effect.forkChild(
        sandbox.run("export default () => { const end = Date.now() + 3000; while (Date.now() < end) {} }", null, {
          limits: { timeoutMs: 5000 }
        })
      )
      const waiting = yield* Effect.forkChild(sandbox.run("export default (x) => x + 1", 1))
      yield* Effect.sleep("150 millis")
      process.kill(pid!, "SIGKILL")
      const error = yield* Effect.flip(Fiber.join(running))
      assert.strictEqual(error._tag, "SandboxCrashed")
      assert.isTrue(error.retryable)
      // A call that had not started yet is sent to the new process.
      assert.strictEqual((yield* Fiber.join(waiting)).output, 2)
      assert.strictEqual((yield* sandbox.run("export default () => 'after'", null)).output, "after")
      assert.notInclude(sandboxProcesses(), pid)
    }).pipe(Effect.provide(Sandbox.layer()))
  )

  it.live("quarantines a script that keeps killing the sandbox process", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const fatal = yield* sandbox.compile("export default () => 'a'.repeat(2 ** 28).split('').length")
      for (let i = 0; i < 2; i++) {
        const error = yield* Effect.flip(sandbox.run(fatal, null))
        assert.deepStrictEqual([error._tag, error.retryable], ["SandboxCrashed", true])
      }
      const started = Date.now()
      const refused = yield* Effect.flip(sandbox.run(fatal, null))
      assert.deepStrictEqual([refused._tag, refused.retryable], ["SandboxCrashed", false])
      assert.match(refused.message, /killed the sandbox process 2 times/)
      assert.isBelow(Date.now() - started, 100)
      assert.strictEqual((yield* sandbox.run("export default () => 'others run'", null)).output, "others run")
    }).pipe(Effect.provide(Sandbox.layer({ quarantineAfter: 2 })))
  )

  it.live("spreads calls over several processes and recycles isolates without losing calls", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      assert.strictEqual(sandboxProcesses().length, 2)
      const script = yield* sandbox.compile("let n = 0\nexport default (x) => [x, ++n]")
      const results = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => sandbox.run(script, i),
        { concurrency: 8 }
      )
      results.forEach((result, i) => {
        assert.deepStrictEqual(result.output, [i, 1])
      })
    }).pipe(Effect.provide(Sandbox.layer({ processes: 2, recycleAfterCalls: 3 })))
  )

  it.live("replaces a process over its memory cap without failing calls", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const [first] = sandboxProcesses()
      const results = yield* Effect.forEach(
        Array.from({ length: 120 }, (_, i) => i),
        (i) => sandbox.run("export default (x) => x", i),
        { concurrency: 4 }
      )
      assert.deepStrictEqual(
        results.map((r) => r.output),
        Array.from({ length: 120 }, (_, i) => i)
      )
      yield* eventually(() => !sandboxProcesses().includes(first!))
    }).pipe(Effect.provide(Sandbox.layer({ maxRssMb: 1 })))
  )

  it.live("starts the sandbox process under Node's permission model, without the host's environment", () =>
    Effect.gen(function* () {
      process.env.JSONFLOW_TEST_SECRET = "s3cret"
      const seen = yield* Effect.scoped(
        Effect.gen(function* () {
          const before = new Set(sandboxProcesses())
          yield* Layer.build(Sandbox.layer())
          return sandboxProcesses()
            .filter((pid) => !before.has(pid))
            .map((pid) => ({
              args: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"),
              env: readFileSync(`/proc/${pid}/environ`, "utf8")
            }))
        })
      ).pipe(Effect.ensuring(Effect.sync(() => delete process.env.JSONFLOW_TEST_SECRET)))
      assert.strictEqual(seen.length, 1)
      const [{ args, env }] = seen as [{ args: Array<string>; env: string }]
      assert.include(args, "--permission")
      assert.include(args, "--no-node-snapshot")
      assert.isFalse(args.some((arg) => /allow-(fs-write|child-process|worker|wasi)/.test(arg)))
      assert.notInclude(env, "JSONFLOW_TEST_SECRET")
    })
  )

  it.live("kills its processes when the layer is released", () =>
    Effect.gen(function* () {
      const before = sandboxProcesses().length
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(Sandbox.layer({ processes: 2 }))
          assert.strictEqual(sandboxProcesses().length, before + 2)
          yield* Effect.provideContext(
            Sandbox.use((s) => s.run("export default () => 1", null)),
            context
          )
        })
      )
      yield* eventually(() => sandboxProcesses().length === before)
    })
  )

  it.live("fails to build with SandboxCrashed when no sandbox process can start", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(Sandbox.layer({ execArgv: ["--no-such-node-flag"], startTimeoutMs: 5000 })))
      )
      assert.strictEqual(error._tag, "SandboxCrashed")
      assert.match(error.message, /could not start/)
    })
  )

  it.live("with static checks off, (indirect) eval and Function run inside the script's compartment only", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const { output } = yield* sandbox.run(
        "export default () => [(0, eval)('1 + 1'), Function('return typeof globalThis.process')()]",
        null
      )
      assert.deepStrictEqual(output, [2, "undefined"])
    }).pipe(Effect.provide(Sandbox.layer({ staticChecks: "off" })))
  )
})
