import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { OptionalPackage } from "../src/index.ts"

const soap = { feature: "the SOAP connector", install: "npm install soap@^1.13.0" }

// Specifiers held in variables: TypeScript resolves only literal ones, and these must not resolve.
const missing: string = "jsonflow-no-such-package"
const scopedMissing: string = "@jsonflow-missing/grpc-js/build/src/index.js"

describe("OptionalPackage.load", () => {
  it.effect("loads an installed package, the same module each time", () =>
    Effect.gen(function* () {
      const first = yield* OptionalPackage.load("effect", () => import("effect"), soap)
      const second = yield* OptionalPackage.load("effect", () => import("effect"), soap)
      assert.strictEqual(typeof first.Effect.succeed, "function")
      assert.strictEqual(first, second)
    })
  )

  it.effect("fails with MissingPackage naming the package, the feature and the install command", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(OptionalPackage.load("jsonflow-no-such-package", () => import(missing), soap))
      assert.instanceOf(error, OptionalPackage.MissingPackage)
      assert.strictEqual(error._tag, "MissingPackage")
      assert.strictEqual(error.package, "jsonflow-no-such-package")
      assert.strictEqual(error.feature, "the SOAP connector")
      assert.strictEqual(error.install, "npm install soap@^1.13.0")
      assert.strictEqual(error.retryable, false)
      assert.strictEqual(
        error.message,
        'the SOAP connector needs the "jsonflow-no-such-package" package, which is not installed: npm install soap@^1.13.0'
      )
    })
  )

  it.effect("names the package of a scoped or deep specifier", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        OptionalPackage.load("@jsonflow-missing/grpc-js/build/src/index.js", () => import(scopedMissing), {
          feature: "the gRPC connector",
          install: "npm install @grpc/grpc-js@^1.14.7 @grpc/proto-loader@^0.8.1"
        })
      )
      assert.strictEqual(error.package, "@jsonflow-missing/grpc-js")
    })
  )

  it.effect("keeps any other load failure as a defect with its own error", () =>
    Effect.gen(function* () {
      // An installed package that fails while loading: its own dependency is missing, then one that throws.
      const dir = mkdtempSync(join(tmpdir(), "jsonflow-optional-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const broken = join(dir, "broken.mjs")
      writeFileSync(broken, 'import "jsonflow-dependency-that-is-missing"\n')
      const throwing = join(dir, "throwing.mjs")
      writeFileSync(throwing, 'throw new Error("boom at import")\n')

      for (const [file, expected] of [
        [broken, /jsonflow-dependency-that-is-missing/],
        [throwing, /boom at import/]
      ] as const) {
        const exit = yield* Effect.exit(
          OptionalPackage.load(pathToFileURL(file).href, () => import(pathToFileURL(file).href), soap)
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.hasFails(exit.cause), "not a MissingPackage")
          assert.match(String(exit.cause.reasons.find(Cause.isDieReason)?.defect), expected)
        }
      }
    })
  )
})
