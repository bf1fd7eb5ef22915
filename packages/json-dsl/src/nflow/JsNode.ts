/**
 * `nflow.js`: an nFlow code box. Its config carries the box's code (inline, or a custom box's module),
 * its output ports (`output_1..N`) and its designer fields (`nflow_data`). Each step wraps the code with
 * {@link contract.scriptSource} and runs it through a {@link ScriptRunner} (the isolated-vm sandbox in
 * production), then applies what the script decided: the new payload, the port in `next` (a port the box
 * does not have ends the flow, as in nFlow), the first reply and the headers it set. A script that throws
 * answers 500 `{ message, actor }` like nflow-runtime, with the line of the user's code.
 *
 * The `http_*` helpers reach the network only through the runner: when its {@link ScriptRunner} has an
 * `httpClient` (read from the step's Effect context) each step offers the script the `http` host capability
 * ({@link Http.hostCalls}); without one the helpers throw a clear error.
 *
 * @module nflow/JsNode
 */
import { Node } from "@jsonflow/core"
import { Effect, Option, Schema } from "effect"
import * as contract from "./contract.ts"
import * as Http from "./Http.ts"
import * as Nodes from "./nodes.ts"
import * as State from "./State.ts"

/** The node type name. */
export const TYPE = "nflow.js"

/** Config of an `nflow.js` node. */
export const NflowJsConfig = Schema.Struct({
  /** The box's id in the export (`current_box`). */
  id: Schema.String,
  /** The script: defines `function main()`. */
  code: Schema.String,
  /** Output ports, `output_1..N`. */
  ports: Schema.Array(Schema.String),
  /** The box's fields, as the script reads them in `nflow_data`. */
  data: Schema.Record(Schema.String, Schema.Unknown),
  /** First target of each output port by export id (`__outputs`). */
  outputs: Schema.Record(Schema.String, Schema.String),
  /** The designer module (tab) name (`__flow_name`). */
  flowName: Schema.String,
  /** The custom box whose module supplied `code`, if any. */
  module: Schema.optionalKey(Schema.String)
})
export type NflowJsConfig = typeof NflowJsConfig.Type

/**
 * Host calls a step offers its script: the shape of `@jsonflow/sandbox`'s `HostCalls`, to pass on as
 * `RunOptions.hostCalls`.
 */
export interface ScriptHostCalls {
  readonly capabilities: Readonly<Record<string, (request: unknown) => Effect.Effect<unknown, unknown>>>
  readonly maxCalls?: number
  readonly maxBytes?: number
}

/**
 * Runs a sandbox script (`export default function (input, ctx)`) on a JSON input; resolves to its JSON
 * result. `context.hostCalls`, when given, must reach the sandbox (`RunOptions.hostCalls`): it is how the
 * `http_*` helpers call the host.
 *
 * @example
 * ```ts
 * import { Http } from "@jsonflow/connectors/http"
 * const runner: Nflow.JsNode.ScriptRunner<Sandbox> = {
 *   run: (source, input, { nodeId, executionId, hostCalls }) =>
 *     Sandbox.use((s) => Effect.map(s.run(source, input, { nodeId, executionId, ...(hostCalls ? { hostCalls } : {}) }), (r) => r.output)),
 *   httpClient: Effect.serviceOption(Http.HttpClient)
 * }
 * ```
 */
export interface ScriptRunner<R = never> {
  readonly run: (
    source: string,
    input: unknown,
    context: { readonly nodeId: string; readonly executionId: string; readonly hostCalls?: ScriptHostCalls }
  ) => Effect.Effect<unknown, unknown, R>
  /**
   * The HTTP client behind the `http_*` helpers, looked up at every step (e.g.
   * `Effect.serviceOption(Http.HttpClient)`): absent, or none in the context, and the helpers throw.
   */
  readonly httpClient?: Effect.Effect<Option.Option<Http.HttpClientLike>, never, R>
}

const noClient: Effect.Effect<Option.Option<Http.HttpClientLike>> = Effect.succeed(Option.none())

const outputs = { output_1: State.State }

const isRenderRequest = (
  body: unknown
): body is { readonly __render: "template" | "mustache"; readonly template: string; readonly data: unknown } =>
  typeof body === "object" &&
  body !== null &&
  ((body as { __render?: unknown }).__render === "template" ||
    (body as { __render?: unknown }).__render === "mustache") &&
  typeof (body as { template?: unknown }).template === "string"

/** Replies whose body is a `template()`/`mustache()` request from the script are rendered here. */
const renderRequests = (result: contract.ScriptResult): contract.ScriptResult => ({
  ...result,
  replies: result.replies.map((reply) =>
    isRenderRequest(reply.body)
      ? {
          ...reply,
          body: Nodes.renderTemplate(
            reply.body.__render === "mustache" ? "mustache" : "go-template",
            reply.body.template,
            reply.body.data
          )
        }
      : reply
  )
})

/**
 * The `nflow.js` node type running scripts through `runner`.
 *
 * @example
 * ```ts
 * import { Registry } from "@jsonflow/core"
 * import { Nflow } from "@jsonflow/json-dsl"
 * const registry = Registry.make(Nflow.JsNode.make(runner))
 * ```
 */
export const make = <R>(runner: ScriptRunner<R>) =>
  Node.define({
    type: TYPE,
    description:
      "nFlow JS box: runs the box's script (function main, payload, next, nflow_data, c.JSON, ...) in the sandbox.",
    config: NflowJsConfig,
    input: State.State,
    outputs,
    dynamicPorts: (config) => config.ports,
    run: (input, config, context) => {
      const source = contract.scriptSource(config.code)
      const where = { nodeId: context.nodeId, executionId: context.executionId }
      return State.step(input, context, config.ports, config.id, (payload, request) =>
        Effect.flatMap(runner.httpClient ?? noClient, (client) =>
          runner
            .run(
              source,
              contract.scriptInput({
                payload,
                request,
                box: config.id,
                prev: input.prev,
                data: config.data,
                outputs: config.outputs,
                flowName: config.flowName,
                executionId: context.executionId
              }),
              Option.isSome(client) ? { ...where, hostCalls: Http.hostCalls(client.value) } : where
            )
            .pipe(
              Effect.mapError(contract.userPosition),
              Effect.map((result) => renderRequests(contract.readResult(result)))
            )
        )
      ) as Effect.Effect<ReadonlyArray<{ readonly port: "output_1"; readonly value: State.State }>, never, R>
    }
  })

/** The same node type without a runner: for validating imports (running it fails). */
export const definitionForValidation = make({
  run: () => Effect.fail(new Error("nflow.js needs a script runner: build the registry with Nflow.registry(runner)"))
})
