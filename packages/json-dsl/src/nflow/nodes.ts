/**
 * Node types for imported nFlow flows: the HTTP starter, the standard boxes of the nFlow palette (`json`,
 * `_end`, `if_equals`, `if_major`, `_js_foreach`, `js_set_var`, `parser_query_param`, `template`,
 * `mustache`) and the parallel box. Each reproduces what the box's nFlow module does (read from its code),
 * natively and without a script, through the shared {@link State.step} discipline. Code boxes (`nflow.js`)
 * live in {@link JsNode} because they need the sandbox.
 *
 * @module nflow/nodes
 */
import { Node, Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import Mustache from "mustache"
import type * as HttpRequest from "../HttpRequest.ts"
import * as GoTemplate from "./GoTemplate.ts"
import * as State from "./State.ts"

const Ports2 = ["output_1", "output_2"] as const
const Port1 = ["output_1"] as const

/** Fields every nFlow node config carries: the node's id in the export (scripts see it as `current_box`). */
const Base = { id: Schema.String }

const outputs2 = { output_1: State.State, output_2: State.State }

/** `starter`: turns the HTTP request into the first state: form and query values fill payload and session. */
export const StarterConfig = Schema.Struct({
  ...Base,
  method: Schema.String,
  urlpattern: Schema.String,
  flowName: Schema.String
})

const formValues = (request: HttpRequest.HttpRequest): Record<string, unknown> => {
  const values: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request.query)) values[key] = value
  const contentType = request.headers["content-type"] ?? ""
  if (typeof request.body === "string" && contentType.startsWith("application/x-www-form-urlencoded")) {
    const form = new URLSearchParams(request.body)
    for (const key of new Set(form.keys())) {
      const all = form.getAll(key)
      values[key] = all.length === 1 ? all[0] : all
    }
  }
  return values
}

/** The nFlow start box. Reached from another node (not as the trigger) it answers 500, as nFlow does. */
export const starter = Node.define({
  type: "nflow.starter",
  description: "nFlow HTTP start box: makes the nFlow state from the request (payload = form and query values).",
  config: StarterConfig,
  input: Schema.Unknown,
  outputs: { output_1: State.State },
  run: (input, config, context) =>
    Effect.sync(() => {
      if (Schema.is(State.State)(input)) {
        if (!input.detached) {
          context.reply(State.jsonReply(500, { error: "Starter can not run with play button" }))
        }
        return []
      }
      const session = formValues(State.requestOf(context))
      const state: State.State = { payload: { ...session }, session, headers: {}, detached: false, prev: config.id }
      return [{ port: "output_1" as const, value: state }]
    })
})

/** `_end`: replies 200 `{}`. */
export const end = Node.define({
  type: "nflow.end",
  description: "nFlow End box: replies 200 with {}.",
  config: Schema.Struct(Base),
  input: State.State,
  outputs: {},
  run: (input, config, context) =>
    State.step(input, context, [], config.id, (payload) =>
      Effect.succeed({ payload, next: "output_1", replies: [State.jsonReply(200, {})] })
    ).pipe(Effect.as([]))
})

/** `json` (JSON Render): replies `httpCode` with the payload, or with the value at the dotted path `field`. */
export const JsonConfig = Schema.Struct({ ...Base, field: Schema.String, httpCode: Schema.String })
export const json = Node.define({
  type: "nflow.json",
  description: 'nFlow JSON Render box: replies http_code (default 200) with the payload or the value at "field".',
  config: JsonConfig,
  input: State.State,
  outputs: {},
  run: (input, config, context) =>
    State.step(input, context, [], config.id, (payload) => {
      const status = config.httpCode === "" ? 200 : Number.parseInt(config.httpCode, 10)
      const whole = config.field === "" || config.field === "*"
      return Effect.succeed({
        payload,
        next: "output_1",
        replies: [State.jsonReply(status, whole ? payload : State.findElement(config.field, payload))]
      })
    }).pipe(Effect.as([]))
})

/** `if_equals`: `payload[field] == value` (JavaScript loose equality) -> output_1, else output_2. */
export const IfEqualsConfig = Schema.Struct({ ...Base, field: Schema.String, value: Schema.String })
export const ifEquals = Node.define({
  type: "nflow.ifEquals",
  description: "nFlow if-equals box: payload[field] == value (loose) goes to output_1, else output_2.",
  config: IfEqualsConfig,
  input: State.State,
  outputs: outputs2,
  run: (input, config, context) =>
    State.step(input, context, Ports2, config.id, (payload) =>
      Effect.succeed({
        payload,
        next: State.looseEqualsString(payload[config.field], config.value) ? "output_1" : "output_2"
      })
    )
})

/** `if_major`: `parseFloat(payload[field]) > parseFloat(limit)` -> output_1, else output_2. */
export const IfMajorConfig = Schema.Struct({ ...Base, field: Schema.String, limit: Schema.String })
export const ifMajor = Node.define({
  type: "nflow.ifMajor",
  description: "nFlow if-higher box: parseFloat(payload[field]) > parseFloat(limit) goes to output_1, else output_2.",
  config: IfMajorConfig,
  input: State.State,
  outputs: outputs2,
  run: (input, config, context) =>
    State.step(input, context, Ports2, config.id, (payload) =>
      Effect.succeed({
        payload,
        next:
          Number.parseFloat(String(payload[config.field])) > Number.parseFloat(config.limit) ? "output_1" : "output_2"
      })
    )
})

/**
 * `_js_foreach`: a loop through the box's own input. The first visit copies the list at `field` into
 * `payload.__foreach`; each visit moves its next item to `payload[itemName]` and goes to output_2 (the loop
 * body, wired back to this box); an empty or missing list goes to output_1.
 */
export const ForEachConfig = Schema.Struct({ ...Base, field: Schema.String, itemName: Schema.String })
export const forEach = Node.define({
  type: "nflow.forEach",
  description:
    "nFlow for-each box: pops the next item of the list at field into payload[item_name] (output_2) until empty (output_1).",
  config: ForEachConfig,
  input: State.State,
  outputs: outputs2,
  run: (input, config, context) =>
    State.step(input, context, Ports2, config.id, (payload) => {
      if (payload.__foreach === undefined || payload.__foreach === null) {
        payload.__foreach = State.findElement(config.field, payload)
      }
      const list = payload.__foreach
      if (!Array.isArray(list) || list.length === 0) return Effect.succeed({ payload, next: "output_1" })
      payload[config.itemName] = list[0]
      payload.__foreach = list.slice(1)
      return Effect.succeed({ payload, next: "output_2" })
    })
})

/** `js_set_var`: sets one payload key to a constant string. */
export const SetVarConfig = Schema.Struct({ ...Base, name: Schema.String, value: Schema.String })
export const setVar = Node.define({
  type: "nflow.setVar",
  description: "nFlow Set Variable box: payload[var_name] = var_value.",
  config: SetVarConfig,
  input: State.State,
  outputs: { output_1: State.State },
  run: (input, config, context) =>
    State.step(input, context, Port1, config.id, (payload) => {
      payload[config.name] = config.value
      return Effect.succeed({ payload, next: "output_1" })
    })
})

/** `parser_query_param`: copies each query parameter (its first value) into the payload. */
export const queryParams = Node.define({
  type: "nflow.queryParams",
  description: "nFlow Param to Payload box: payload[key] = first value of each query parameter.",
  config: Schema.Struct(Base),
  input: State.State,
  outputs: { output_1: State.State },
  run: (input, config, context) =>
    State.step(input, context, Port1, config.id, (payload, request) => {
      for (const [key, value] of Object.entries(request.query)) {
        payload[key] = typeof value === "string" ? value : (value[0] ?? "")
      }
      return Effect.succeed({ payload, next: "output_1" })
    })
})

// Go escapes text as html/template does; mustache.js would also escape / ` and =.
const mustacheOptions = { escape: (value: unknown) => GoTemplate.escapeHtml(String(value)) }

/**
 * Renders a template the way nFlow's `template()` (Go html/template) and `mustache()` helpers do.
 *
 * @example
 * ```ts
 * renderTemplate("mustache", "<p>{{name}}</p>", { name: "Ada" }) // "<p>Ada</p>"
 * ```
 */
export const renderTemplate = (engine: "go-template" | "mustache", template: string, data: unknown): string =>
  engine === "mustache"
    ? Mustache.render(template, data, {}, mustacheOptions)
    : GoTemplate.render(GoTemplate.parse(template), data)

/** `template` (Go html/template) and `mustache`: reply 200 with HTML rendered from the payload. */
export const RenderConfig = Schema.Struct({
  ...Base,
  engine: Schema.Literals(["go-template", "mustache"]),
  template: Schema.String
})
export const render = Node.define({
  type: "nflow.render",
  description: "nFlow Template / Mustache box: replies 200 with HTML rendered from the payload.",
  config: RenderConfig,
  input: State.State,
  outputs: {},
  run: (input, config, context) =>
    State.step(input, context, [], config.id, (payload) =>
      Effect.try({
        try: () => renderTemplate(config.engine, config.template, payload),
        catch: (error) => error
      }).pipe(Effect.map((html) => ({ payload, next: "output_1", replies: [State.htmlReply(200, html)] })))
    ).pipe(Effect.as([]))
})

/** `gorutine` (Parallel): output_1 continues this run; output_2 runs on a copy whose replies are discarded. */
export const fork = Node.define({
  type: "nflow.fork",
  description: "nFlow Parallel box: continues on output_1 and runs output_2 detached (its replies are discarded).",
  config: Schema.Struct(Base),
  input: State.State,
  outputs: outputs2,
  run: (input, config, context) =>
    State.step(input, context, Ports2, config.id, (payload) => Effect.succeed({ payload, next: "output_1" })).pipe(
      Effect.map((emitted) =>
        emitted.flatMap((e) => [
          { port: "output_1" as const, value: e.value },
          { port: "output_2" as const, value: { ...e.value, detached: true } }
        ])
      )
    )
})

/** Every native nFlow node type. */
export const definitions = [starter, end, json, ifEquals, ifMajor, forEach, setVar, queryParams, render, fork] as const

/**
 * A registry of the native nFlow node types (merge it with the built-ins and the code node).
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * import { Nflow } from "@jsonflow/json-dsl"
 * const registry = Registry.merge(Builtins.registry, Nflow.nativeRegistry)
 * ```
 */
export const nativeRegistry = Registry.make(...definitions)
