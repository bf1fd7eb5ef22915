import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { type HostCalls, Sandbox } from "../src/index.ts"

const echo: HostCalls = {
  capabilities: { echo: (request) => Effect.succeed({ got: request }) }
}

// Real clock: deadlines are measured in real time.
layer(Sandbox.layer({ limits: { timeoutMs: 1_000 } }), { excludeTestServices: true })("host calls", (it) => {
  it.effect("a script calls a capability synchronously with JSON data and gets JSON data back", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const seen: Array<unknown> = []
      const { output } = yield* sandbox.run(
        `export default (x, ctx) => {
          const a = ctx.host.call("lookup", { id: x, tags: ["a"] })
          const b = ctx.host.call("lookup", { id: x + 1 })
          return { names: ctx.host.names, a, b, frozen: Object.isFrozen(ctx.host) && Object.isFrozen(ctx.host.call) }
        }`,
        41,
        {
          nodeId: "n1",
          hostCalls: {
            capabilities: {
              lookup: (request) =>
                Effect.sync(() => {
                  seen.push(request)
                  return { name: `item ${(request as { id: number }).id}`, __proto__: { evil: true } }
                })
            }
          }
        }
      )
      assert.deepStrictEqual(seen, [{ id: 41, tags: ["a"] }, { id: 42 }])
      assert.deepStrictEqual(output, {
        names: ["lookup"],
        a: { name: "item 41" },
        b: { name: "item 42" },
        frozen: true
      })
    })
  )

  it.effect("an asynchronous capability (it waits on the host) works from async scripts too", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const { output } = yield* sandbox.run(
        `export default async (x, ctx) => {
          const first = await Promise.resolve(ctx.host.call("slow", x))
          return [first, ctx.host.call("slow", first)]
        }`,
        1,
        {
          hostCalls: {
            capabilities: { slow: (n) => Effect.as(Effect.sleep("30 millis"), (n as number) * 10) }
          }
        }
      )
      assert.deepStrictEqual(output, [10, 100])
    })
  )

  it.effect("a call without host calls has no ctx.host, and a name not offered is refused in the isolate", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const plain = yield* sandbox.run("export default (x, ctx) => typeof ctx.host", null)
      assert.strictEqual(plain.output, "undefined")
      const refused = yield* Effect.flip(
        sandbox.run("export default (x, ctx) => ctx.host.call('fs', '/etc/passwd')", null, { hostCalls: echo })
      )
      assert.strictEqual(refused._tag, "ScriptError")
      if (refused._tag === "ScriptError") {
        assert.strictEqual(refused.errorName, "TypeError")
        assert.include(refused.errorMessage, "offers no host capability fs")
      }
    })
  )

  it.effect("a failed capability fails the whole call with HostCallError, even if the script catches it", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const error = yield* Effect.flip(
        sandbox.run(
          `export default (x, ctx) => {
            try { ctx.host.call("pay", x) } catch (e) { return "swallowed: " + e.message }
            return "paid"
          }`,
          { amount: 5 },
          {
            nodeId: "pay-node",
            executionId: "e-7",
            hostCalls: {
              capabilities: {
                pay: () => Effect.fail({ _tag: "PaymentRefused", message: "card declined", retryable: true })
              }
            }
          }
        )
      )
      assert.strictEqual(error._tag, "HostCallError")
      if (error._tag === "HostCallError") {
        assert.deepInclude(error, {
          nodeId: "pay-node",
          executionId: "e-7",
          capability: "pay",
          reason: "failed",
          errorTag: "PaymentRefused",
          errorMessage: "card declined",
          retryable: true
        })
        assert.strictEqual(
          error.message,
          'script of node "pay-node" failed in its host call "pay": PaymentRefused: card declined'
        )
      }
    })
  )

  it.effect("host calls are counted and capped per call, and requests and answers are size-capped", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      let served = 0
      const counted: HostCalls = {
        maxCalls: 3,
        capabilities: {
          tick: () =>
            Effect.sync(() => {
              served++
              return served
            })
        }
      }
      const many = yield* Effect.flip(
        sandbox.run(
          `export default (x, ctx) => { for (let i = 0; i < 10; i++) { try { ctx.host.call("tick", i) } catch {} } return "done" }`,
          null,
          { hostCalls: counted }
        )
      )
      assert.deepInclude(many, { _tag: "HostCallError", reason: "too-many", capability: "tick" })
      assert.strictEqual(served, 3)

      const sized: HostCalls = { maxBytes: 100, capabilities: { echo: (r) => Effect.succeed(r) } }
      const bigRequest = yield* Effect.flip(
        sandbox.run("export default (x, ctx) => ctx.host.call('echo', 'x'.repeat(200))", null, { hostCalls: sized })
      )
      assert.deepInclude(bigRequest, { _tag: "HostCallError", reason: "too-large" })
      const bigAnswer = yield* Effect.flip(
        sandbox.run("export default (x, ctx) => ctx.host.call('big', 1)", null, {
          hostCalls: { maxBytes: 100, capabilities: { big: () => Effect.succeed("y".repeat(500)) } }
        })
      )
      assert.deepInclude(bigAnswer, { _tag: "HostCallError", reason: "too-large" })
      if (bigAnswer._tag === "HostCallError") assert.include(bigAnswer.errorMessage, "the answer is 502 bytes")
    })
  )

  it.effect("a capability that never answers ends at the call's deadline with ScriptTimeout, and is interrupted", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      let interrupted = false
      const started = performance.now()
      const error = yield* Effect.flip(
        sandbox.run("export default (x, ctx) => { try { ctx.host.call('hang', 1) } catch {} ; return 'late' }", null, {
          nodeId: "hangs",
          limits: { timeoutMs: 300 },
          hostCalls: {
            capabilities: {
              hang: () =>
                Effect.never.pipe(
                  Effect.onInterrupt(() =>
                    Effect.sync(() => {
                      interrupted = true
                    })
                  )
                )
            }
          }
        })
      )
      const elapsed = performance.now() - started
      assert.deepInclude(error, { _tag: "ScriptTimeout", nodeId: "hangs", timeoutMs: 300 })
      assert.isAtLeast(elapsed, 290)
      assert.isBelow(elapsed, 1_000)
      assert.isTrue(interrupted)
    })
  )

  it.effect("the isolate's own timeout still stops a hosted call's script, and the process serves on", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox
      const error = yield* Effect.flip(
        sandbox.run("export default (x, ctx) => { ctx.host.call('echo', 1); let i = 0; while (i >= 0) i++ }", null, {
          limits: { timeoutMs: 200 },
          hostCalls: echo
        })
      )
      assert.deepInclude(error, { _tag: "ScriptTimeout", reason: "cpu" })
      // Hosted and plain calls interleaved, several in flight at once: each gets its own answer.
      const fibers = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) =>
          Effect.forkChild(
            i % 2 === 0
              ? sandbox.run("export default (x, ctx) => ctx.host.call('echo', x).got * 2", i, { hostCalls: echo })
              : sandbox.run("export default (x) => x * 2", i)
          )
      )
      const results = yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(
        results.map((r) => r.output),
        Array.from({ length: 12 }, (_, i) => i * 2)
      )
    })
  )
})
