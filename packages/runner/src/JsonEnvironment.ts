/**
 * What JSON flows run with. A JSON flow is data anyone with access to the flow store may have written, so
 * the runner decides its powers: the built-in nodes, the `js`/`ts` code nodes and nFlow code boxes in the
 * sandbox (isolated-vm in a supervised process, started on first use), the HTTP connector **with the SSRF
 * guard on** (internal addresses refused unless `ssrf.allow` lists them), the bounded JSONata expressions
 * layer, the native nFlow box types, and whatever extensions the embedding code adds (more connectors).
 * Builder flows (TypeScript) get exactly the layers their author provides instead.
 *
 * @module JsonEnvironment
 */

import * as Http from "@jsonflow/connectors/http"
import { Builtins, Registry } from "@jsonflow/core"
import { Nflow } from "@jsonflow/json-dsl"
import { Limits, Sandbox, Nodes as SandboxNodes, type SandboxOptions, type SandboxService } from "@jsonflow/sandbox"
import * as Expressions from "@jsonflow/sandbox/expressions"
import { Context, Effect, Layer } from "effect"

/** Node types and services added to the JSON environment by the embedding code. */
export interface Extension {
  readonly registry?: Registry.Registry<unknown>
  readonly layer?: Layer.Layer<never, unknown, never>
}

/**
 * The registry JSON flows are resolved against.
 *
 * @example
 * ```ts
 * import { Registry } from "@jsonflow/core"
 * import { JsonEnvironment } from "@jsonflow/runner"
 * Registry.catalog(JsonEnvironment.registry()).map((e) => e.type) // ["delay", "fail", "filter", "http.request", ...]
 * ```
 */
// nFlow code boxes run through the same sandbox service as `js`/`ts` nodes.
const nflowScripts: Nflow.JsNode.ScriptRunner<Sandbox> = {
  run: (source, input, context) =>
    Sandbox.use((sandbox) =>
      Effect.map(
        sandbox.run(source, input, { nodeId: context.nodeId, executionId: context.executionId }),
        (result) => result.output
      )
    )
}

export const registry = (extensions: ReadonlyArray<Extension> = []): Registry.Registry<unknown> => {
  let merged: Registry.Registry<unknown> = Registry.merge(
    Registry.merge(Builtins.registry, Registry.make(Http.request, ...SandboxNodes.definitions)),
    Nflow.registry(nflowScripts)
  )
  for (const extension of extensions) if (extension.registry) merged = Registry.merge(merged, extension.registry)
  return merged
}

/**
 * The services JSON flows get: the guarded HTTP client, expressions, and the extensions' layers.
 *
 * @example
 * ```ts
 * import { JsonEnvironment } from "@jsonflow/runner"
 * const layer = JsonEnvironment.layer({ ssrfAllow: ["10.20.0.0/16"] })
 * ```
 */
export const layer = (
  options: {
    readonly ssrfAllow?: ReadonlyArray<string>
    readonly sandbox?: SandboxOptions
    readonly extensions?: ReadonlyArray<Extension>
  } = {}
): Layer.Layer<Http.HttpClient | Sandbox, unknown> => {
  const base = Layer.mergeAll(
    Http.layer({ ssrfGuard: { enabled: true, allow: options.ssrfAllow ?? [] } }),
    Expressions.layer(),
    lazySandbox(options.sandbox ?? {})
  )
  return (options.extensions ?? []).reduce<Layer.Layer<Http.HttpClient | Sandbox, unknown>>(
    (acc, extension) => (extension.layer ? Layer.merge(acc, extension.layer) : acc),
    base
  )
}

/**
 * The sandbox, started on the first script call: a runner whose flows have no code never spawns the
 * sandbox process. A failed start is retried at the next call.
 *
 * @example
 * ```ts
 * const SandboxLive = lazySandbox({ processes: 2 })
 * ```
 */
export const lazySandbox = (options: SandboxOptions): Layer.Layer<Sandbox> =>
  Layer.effect(
    Sandbox,
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      let started: Promise<SandboxService> | undefined
      const service = Effect.promise(() => {
        started ??= Effect.runPromise(
          Layer.buildWithScope(Sandbox.layer(options), scope).pipe(
            Effect.map((context) => Context.get(context, Sandbox))
          )
        ).catch((error: unknown) => {
          started = undefined
          throw error
        })
        return started
      })
      return Sandbox.of({
        compile: (source, compileOptions) =>
          Effect.flatMap(service, (sandbox) => sandbox.compile(source, compileOptions)),
        run: (script, input, runOptions) =>
          Effect.flatMap(service, (sandbox) => sandbox.run(script, input, runOptions)),
        limits: Limits.resolve(options.limits, Limits.defaults, Limits.ceilings)
      })
    })
  )
