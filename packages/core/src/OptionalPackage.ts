/**
 * Optional packages, loaded on first use. Protocol libraries that only some users need (soap, gRPC,
 * nodemailer, BullMQ) are optional peer dependencies: nothing imports them at module load, and the code
 * that needs one calls {@link load} where it builds its client. Without the package installed, that fails
 * with the typed {@link MissingPackage}, which names the package and the command that installs it, instead
 * of crashing when the module is imported.
 *
 * @module OptionalPackage
 */
import { Effect, Schema } from "effect"

/**
 * An optional package is not installed. `message` names what needs it and how to install it:
 * `<feature> needs the "<package>" package, which is not installed: <install>`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OptionalPackage } from "@jsonflow/core"
 * declare const layerBuild: Effect.Effect<void, OptionalPackage.MissingPackage>
 * layerBuild.pipe(Effect.catchTag("MissingPackage", (e) => Effect.logError(e.message)))
 * // e.g. the SOAP connector needs the soap package, which is not installed: npm install soap@^1.13.0
 * ```
 */
export class MissingPackage extends Schema.TaggedError<MissingPackage>()("MissingPackage", {
  /** The package name, e.g. `soap` or `@grpc/grpc-js`. */
  package: Schema.String,
  /** What needs it, e.g. `the SOAP connector`. */
  feature: Schema.String,
  /** The command that installs it, e.g. `npm install soap@^1.13.0`. */
  install: Schema.String,
  // Like every connector and credential error: callers read `retryable` across a layer's error union.
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `${this.feature} needs the "${this.package}" package, which is not installed: ${this.install}`
  }
}

/** What to tell the user when the package is missing. */
export interface LoadOptions {
  /** What needs the package, as the start of a sentence: `the SOAP connector`. */
  readonly feature: string
  /** The install command, with the supported version range: `npm install soap@^1.13.0`. */
  readonly install: string
}

/** `soap` -> `soap`, `@grpc/grpc-js/build/x` -> `@grpc/grpc-js`: what Node names in "Cannot find package". */
const packageName = (specifier: string): string =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/")

/**
 * Whether `error` says that `specifier` itself cannot be found. A package that is installed but fails to
 * load (a missing dependency of its own, a broken file, a throw at import) is not "missing": its error says
 * another name or has another code.
 */
const isNotFound = (error: unknown, specifier: string): boolean => {
  if (typeof error !== "object" || error === null) return false
  const { code, message } = error as { readonly code?: unknown; readonly message?: unknown }
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false
  if (typeof message !== "string") return false
  // Node: "Cannot find package 'soap' imported from ..." (ESM), "Cannot find module 'soap'\nRequire stack" (CJS).
  const first = message.split("\n", 1)[0] ?? ""
  return first.includes(`'${specifier}'`) || first.includes(`'${packageName(specifier)}'`)
}

/**
 * Imports an optional package through `importer`: the caller's own `() => import("soap")`,
 * so the package is resolved from the package that declares it as a peer (strict layouts such as pnpm's
 * find it there, not beside `@jsonflow/core`), and its type comes with it. Fails with {@link MissingPackage}
 * only when `specifier` itself is not installed; any other failure while loading it (a missing dependency
 * of the package, an error thrown by its code) is a defect and keeps its original error.
 *
 * Declarations (`.d.ts`) must not name the package's types: a consumer without it type-checks them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OptionalPackage } from "@jsonflow/core"
 *
 * const jsonata = OptionalPackage.load("jsonata", () => import("jsonata"), {
 *   feature: "JSONata expressions",
 *   install: "npm install jsonata@^2.2.2"
 * })
 * const evaluate = (expression: string, data: unknown) =>
 *   Effect.gen(function* () {
 *     const compile = (yield* jsonata).default // fails with MissingPackage when jsonata is not installed
 *     return yield* Effect.promise(() => compile(expression).evaluate(data))
 *   })
 * ```
 */
export const load = <M>(
  specifier: string,
  importer: () => Promise<M>,
  options: LoadOptions
): Effect.Effect<M, MissingPackage> =>
  // Node keeps a loaded module: importing it again is a lookup, so there is no cache here.
  Effect.tryPromise({
    try: importer,
    catch: (error) => error
  }).pipe(
    Effect.catch((error) =>
      isNotFound(error, specifier)
        ? Effect.fail(
            new MissingPackage({
              package: packageName(specifier),
              feature: options.feature,
              install: options.install,
              retryable: false
            })
          )
        : Effect.die(error)
    )
  )
