/**
 * What JSON flows run with. A JSON flow is data anyone with access to the flow store may have written, so
 * the runner decides its powers: the built-in nodes, the HTTP connector **with the SSRF guard on** (internal
 * addresses refused unless `ssrf.allow` lists them), the bounded JSONata expressions layer, the native nFlow
 * box types, and whatever extensions the embedding code adds (the sandbox's code nodes, more connectors).
 * Builder flows (TypeScript) get exactly the layers their author provides instead.
 *
 * @module JsonEnvironment
 */

import * as Http from "@jsonflow/connectors/http"
import { Builtins, Registry } from "@jsonflow/core"
import { Nflow } from "@jsonflow/json-dsl"
import * as Expressions from "@jsonflow/sandbox/expressions"
import { Layer } from "effect"

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
export const registry = (extensions: ReadonlyArray<Extension> = []): Registry.Registry<unknown> => {
  let merged: Registry.Registry<unknown> = Registry.merge(
    Registry.merge(Builtins.registry, Registry.make(Http.request)),
    Nflow.nativeRegistry
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
  options: { readonly ssrfAllow?: ReadonlyArray<string>; readonly extensions?: ReadonlyArray<Extension> } = {}
): Layer.Layer<Http.HttpClient, unknown> => {
  const base = Layer.mergeAll(
    Http.layer({ ssrfGuard: { enabled: true, allow: options.ssrfAllow ?? [] } }),
    Expressions.layer()
  )
  return (options.extensions ?? []).reduce<Layer.Layer<Http.HttpClient, unknown>>(
    (acc, extension) => (extension.layer ? Layer.merge(acc, extension.layer) : acc),
    base
  )
}
