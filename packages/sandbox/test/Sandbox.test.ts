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
        "export default (order, ctx) => ({ total: order.items.reduce((s, i) => s + i, 0), node: ctx.nodeId, execution: ctx.executionId, region: ctx.variables.region, attempt: ctx.attempt })",
        { items: [1, 2, 3] },
        { nodeId: "sum", executionId: "e-1", variables: { region: "eu" }, attempt: 3 }
      )
      assert.deepStrictEqual(result, {
        output: { total: 6, node: "sum", execution: "e-1", region: "eu", attempt: 3 },
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

  it.effect("drops __proto__ keys from results and keeps constructor as an ordinary data key", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const { output } = yield* sandbox.run(
        `export default () => JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}},"list":[{"__proto__":{"x":1},"ok":true}]}')`,
        null
      )
      assert.deepStrictEqual(output, { constructor: { prototype: { admin: true } }, list: [{ ok: true }] })
      assert.isFalse(Object.hasOwn(output as object, "__proto__"))
      assert.strictEqual(Object.getPrototypeOf(output), Object.prototype)
      // Copies of it are plain objects: no prototype changed, nothing polluted.
      for (const copy of [Object.assign({}, output), { ...(output as object) }, structuredClone(output)]) {
        assert.strictEqual(Object.getPrototypeOf(copy), Object.prototype)
        assert.isUndefined((copy as Record<string, unknown>).admin)
      }
      assert.isUndefined(({} as Record<string, unknown>).admin)
      assert.strictEqual({}.constructor, Object)
      assert.isUndefined((Object.prototype as Record<string, unknown>).admin)

      const bob = yield* sandbox.run(
        "export default () => ({ constructor: 'Bob', people: [{ constructor: 'Ann' }] })",
        null
      )
      assert.deepStrictEqual(bob.output, { constructor: "Bob", people: [{ constructor: "Ann" }] })
      assert.strictEqual((bob.output as { constructor: unknown }).constructor, "Bob")
      assert.strictEqual(JSON.stringify(bob.output), '{"constructor":"Bob","people":[{"constructor":"Ann"}]}')
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

  it.effect("runs scripts whose strings and comments hold text SES refuses, with errors at the user's columns", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      // Two lines that differ only in what SES refuses: the error must be at the same line and column.
      const refused =
        "// no import() here\nexport default (html) => { const b = '<!--' + \"-->\"; return b + html.x.y }"
      const same = "// no imp_rt() here\nexport default (html) => { const b = '<!~~' + \"~~>\"; return b + html.x.y }"
      const errors: Array<unknown> = []
      for (const source of [refused, same]) {
        const error = yield* failureOf(sandbox.run(source, "<p/>"))
        assert.strictEqual(error._tag, "ScriptError", source)
        if (error._tag === "ScriptError") errors.push([error.line, error.column, error.stack])
      }
      const column = refused.split("\n")[1]!.indexOf(".y") + 2
      assert.deepStrictEqual(errors[0], [2, column, `at default (script:2:${column})`])
      assert.deepStrictEqual(errors[0], errors[1])
      const html = yield* sandbox.run(refused.replace("html.x.y", "html"), "<p/>")
      assert.strictEqual(html.output, "<!---->" + "<p/>")
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

  it.effect("a script that throws after leaving a rejection reports its own error first, with its position", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      for (const [source, errorName, errorMessage, line, column] of [
        [
          "export default () => {\n  Promise.reject(new Error('A'))\n  throw new Error('sync')\n}",
          "Error",
          "sync",
          3,
          9
        ],
        [
          "export default async () => {\n  Promise.reject(new Error('A')); Promise.reject(new Error('B'))\n  await null\n  return null.x\n}",
          "TypeError",
          "Cannot read properties of null (reading 'x')",
          4,
          15
        ]
      ] as const) {
        const error = yield* failureOf(sandbox.run(source, null))
        assert.strictEqual(error._tag, "ScriptError")
        if (error._tag !== "ScriptError") continue
        assert.deepStrictEqual(
          [error.errorName, error.errorMessage, error.line, error.column],
          [errorName, `${errorMessage} (also, a promise was left rejected and unhandled: A)`, line, column]
        )
        // Nothing of it reaches the next call.
        assert.strictEqual((yield* sandbox.run("export default () => 'clean'", null)).output, "clean")
      }
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

  it.live("reports its gauges and counters through stats()", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const before = sandbox.stats()
      assert.deepStrictEqual(before, {
        processes: { configured: 1, alive: 1 },
        callsInFlight: 0,
        callsQueued: 0,
        processRestarts: 0,
        quarantinedScripts: 0,
        isolatesRecycled: 0,
        callsByOutcome: {}
      })
      for (let i = 0; i < 4; i++) yield* sandbox.run("export default (x) => x", i)
      yield* Effect.flip(sandbox.run("export default () => { throw new Error('no') }", null))
      yield* Effect.flip(sandbox.run("export default (x) => x", 1n))
      yield* Effect.flip(sandbox.run("export default (", null))
      // Three calls in flight at once: one runs, the others wait in the process (pipeline 1) or on the host.
      const slow = "export default () => { const end = Date.now() + 300; while (Date.now() < end) {} return 1 }"
      const fibers = yield* Effect.forkChild(
        Effect.all([sandbox.run(slow, null), sandbox.run(slow, null), sandbox.run(slow, null)], {
          concurrency: "unbounded"
        })
      )
      yield* Effect.sleep("100 millis")
      const busy = sandbox.stats()
      assert.deepStrictEqual([busy.callsInFlight, busy.callsQueued], [1, 2])
      yield* Fiber.join(fibers)
      // recycleAfterCalls 3: 4 + 1 + 3 calls reached the isolates: two recycles.
      const [pid] = sandboxProcesses()
      process.kill(pid!, "SIGKILL")
      yield* eventually(() => sandbox.stats().processRestarts === 1)
      yield* eventually(() => sandbox.stats().processes.alive === 1)
      const after = sandbox.stats()
      assert.strictEqual(after.isolatesRecycled, 2)
      assert.deepStrictEqual(after.callsByOutcome, {
        ok: 7,
        ScriptError: 1,
        InputNotSerializable: 1,
        ScriptCompileError: 1
      })
      assert.deepStrictEqual([after.callsInFlight, after.callsQueued], [0, 0])
    }).pipe(Effect.provide(Sandbox.layer({ recycleAfterCalls: 3, pipeline: 1 })))
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

  it.live("kills a process whose resident memory passes the hard cap in the middle of a call", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const [pid] = sandboxProcesses()
      // ~400 MB of touched typed arrays (within the isolate's 512 MB), then a 3 s wait: the call would succeed.
      const error = yield* failureOf(
        sandbox.run(
          "export default () => { const keep = []; for (let i = 0; i < 50; i++) keep.push(new Float64Array(1e6).fill(i)); const end = Date.now() + 3000; while (Date.now() < end) {} return keep.length }",
          null,
          { limits: { memoryMb: 512, timeoutMs: 5000 } }
        )
      )
      assert.strictEqual(error._tag, "SandboxCrashed")
      assert.match(error.message, /resident memory \(\d+ MB\) passed the hard cap of 300 MB/)
      assert.notInclude(sandboxProcesses(), pid)
      assert.strictEqual((yield* sandbox.run("export default () => 'after'", null)).output, "after")
    }).pipe(Effect.provide(Sandbox.layer({ hardRssMb: 300, spareIsolates: false })))
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
      // Its own heap is capped (half of maxRssMb); the isolates have their own limits.
      assert.include(args, "--max-old-space-size=512")
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
