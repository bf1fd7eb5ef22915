/**
 * The hostile corpus: every script in `hostile/` states its expected outcome in its header comments
 * (`// expect: <_tag | ok>`, plus optional `reason`, `errorName`, `path`, `output`, `logs`, `limits`).
 * Each runs next to a concurrent innocent call, with the static checks off (so the isolate and the
 * supervisor, not the checks, are what is tested), and must leave the host and the innocent call untouched.
 */
import { readdirSync, readFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { type Limits, Sandbox, Script } from "../src/index.ts"

const dir = new URL("./hostile/", import.meta.url)

interface Spec {
  readonly file: string
  readonly source: string
  readonly header: Readonly<Record<string, string>>
}

const corpus: ReadonlyArray<Spec> = readdirSync(dir)
  .filter((file) => /\.(js|ts)$/.test(file))
  .sort()
  .map((file) => {
    const source = readFileSync(new URL(file, dir), "utf8")
    const header: Record<string, string> = {}
    for (const match of source.matchAll(/^\/\/ (expect|reason|errorName|path|output|logs|limits):(.*)$/gm)) {
      header[match[1]!] = match[2]!.trim()
    }
    return { file, source, header }
  })

const INNOCENT = "export default (order) => ({ total: order.items.reduce((sum, item) => sum + item.price, 0) })"
const innocentInput = { items: [{ price: 2 }, { price: 40 }] }
// Effect registers its own global (the current fiber) on first use: not something a script did.
const globalNames = () =>
  Object.getOwnPropertyNames(globalThis)
    .filter((name) => !name.startsWith("~effect"))
    .sort()
const hostGlobals = globalNames()

// Real clock; static checks off; a short grace so that runaway scripts are killed quickly.
layer(Sandbox.layer({ staticChecks: "off", deadlineGraceMs: 500 }), { excludeTestServices: true })(
  "hostile corpus",
  (it) => {
    it("has at least 30 scripts, each with an expected outcome", () => {
      assert.isAtLeast(corpus.length, 30)
      for (const spec of corpus) assert.isDefined(spec.header.expect, spec.file)
    })

    for (const spec of corpus) {
      it.effect(`${spec.file}: ${spec.header.expect}`, () =>
        Effect.gen(function* () {
          const sandbox = yield* Sandbox
          const limits = JSON.parse(spec.header.limits ?? "{}") as Partial<Limits.Limits>
          const hostile = sandbox
            .compile(spec.source, { language: Script.languageOf(spec.file), nodeId: spec.file })
            .pipe(Effect.flatMap((script) => sandbox.run(script, { items: [] }, { nodeId: spec.file, limits })))
          const [outcome, innocent] = yield* Effect.all([Effect.exit(hostile), sandbox.run(INNOCENT, innocentInput)], {
            concurrency: "unbounded"
          })

          const { expect } = spec.header
          if (expect === "ok") {
            assert.isTrue(Exit.isSuccess(outcome), `${spec.file}: ${Exit.isFailure(outcome) ? outcome.cause : ""}`)
            if (Exit.isSuccess(outcome)) {
              if (spec.header.output !== undefined) {
                assert.deepStrictEqual(outcome.value.output, JSON.parse(spec.header.output))
              }
              if (spec.header.logs === "capped") {
                assert.isAbove(outcome.value.droppedLogs, 0)
                const bytes = outcome.value.logs.reduce((sum, line) => sum + Buffer.byteLength(line.message) + 8, 0)
                assert.isAtMost(bytes, sandbox.limits.maxLogBytes)
              }
            }
          } else {
            const failure = Exit.isFailure(outcome) ? outcome.cause.reasons.find((r) => r._tag === "Fail") : undefined
            assert.isDefined(failure, `${spec.file} should fail with ${expect}`)
            const error = failure!.error as unknown as Record<string, unknown>
            assert.strictEqual(error._tag, expect, `${spec.file}: ${String(error.message)}`)
            assert.strictEqual(error.nodeId, spec.file)
            for (const key of ["reason", "errorName", "path"] as const) {
              if (spec.header[key] !== undefined)
                assert.strictEqual(error[key], spec.header[key], `${spec.file}: ${key}`)
            }
          }

          // Unaffected: the concurrent innocent call, the host's prototypes and globals, the next call.
          assert.deepStrictEqual(innocent.output, { total: 42 })
          assert.deepStrictEqual(Object.keys(Object.prototype), [])
          assert.deepStrictEqual(globalNames(), hostGlobals)
          assert.strictEqual(({} as Record<string, unknown>).polluted, undefined)
          const next = yield* sandbox.run(INNOCENT, innocentInput)
          assert.deepStrictEqual(next.output, { total: 42 })
        })
      )
    }
  }
)
