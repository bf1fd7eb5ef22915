/**
 * Running a loaded flow once, as `jsonflow run` does: pick the flow a request is for (method and
 * `:param` route, like an HTTP trigger), run it with the request as trigger data and its body as input, and
 * turn the execution's reply into `{ status, headers, body }`. A flow that wrote no reply answers 200 with
 * an empty body, as nflow-runtime (Echo) does.
 *
 * @module Execute
 */
import type { Compiler, FlowError, Ir } from "@jsonflow/core"
import { Effect } from "effect"
import * as HttpRequest from "./HttpRequest.ts"

/** What an HTTP-triggered execution answers. */
export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

/** A flow chosen for a request, with the path parameters its route captured. */
export interface Routed<F> {
  readonly flow: F
  readonly params: Readonly<Record<string, string>>
}

/**
 * The first flow whose HTTP trigger accepts the method and path (`ANY` accepts every method).
 *
 * @example
 * ```ts
 * import { Execute } from "@jsonflow/json-dsl"
 * Execute.route([flowIr], (f) => f, "GET", "/users/7")?.params // { id: "7" } for a trigger GET /users/:id
 * ```
 */
export const route = <F>(
  flows: ReadonlyArray<F>,
  flowOf: (entry: F) => Ir.Flow,
  method: string,
  path: string
): Routed<F> | undefined => {
  for (const entry of flows) {
    const trigger = flowOf(entry).trigger
    if (trigger.type !== "http" || !HttpRequest.methodMatches(trigger.method, method)) continue
    const params = HttpRequest.matchPath(trigger.path, path)
    if (params !== undefined) return { flow: entry, params }
  }
  return undefined
}

/** nflow-runtime's answer when no starter matches. */
export const NOT_FOUND: HttpResponse = {
  status: 404,
  headers: { "content-type": "application/json" },
  body: { message: "not found", code: 404 }
}

/** The response of a finished execution: its reply, or 200 with an empty body. */
export const responseOf = (result: Compiler.ExecutionResult): HttpResponse =>
  result.reply === undefined
    ? { status: 200, headers: {}, body: "" }
    : { status: result.reply.status, headers: result.reply.headers, body: result.reply.body }

/**
 * Runs a compiled HTTP-triggered flow for one request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Execute, HttpRequest } from "@jsonflow/json-dsl"
 * const response = await Effect.runPromise(
 *   Execute.runRequest(compiled, HttpRequest.make({ method: "GET", path: "/users/7", params: { id: "7" } })))
 * ```
 */
export const runRequest = <R>(
  compiled: Compiler.CompiledFlow<R>,
  request: HttpRequest.HttpRequest
): Effect.Effect<HttpResponse, FlowError.FlowError, R> =>
  Effect.map(compiled.run(request.body ?? null, { trigger: request }), responseOf)
