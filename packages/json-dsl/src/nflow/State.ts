/**
 * What travels along the edges of an imported nFlow flow, and the step discipline every nFlow node follows.
 *
 * nflow-runtime keeps one mutable `payload` object per request, merges the request's form and query values
 * (the `nflow_form` session) into it before every step and writes the payload back after it, stops when the
 * payload says `break`, and lets the first reply written win. A parallel box (`gorutine`) copies the payload
 * into a detached run whose replies are discarded. Here that state is an explicit value on the edges:
 * `{ payload, session, headers, detached, prev }`; each nFlow node type runs {@link step}, which does the
 * merge, the break check, the reply and the port choice the same way for all of them.
 *
 * @module nflow/State
 */
import type { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import * as HttpRequest from "../HttpRequest.ts"

/** The nFlow state on an edge. */
export const State = Schema.Struct({
  payload: Schema.Record(Schema.String, Schema.Unknown),
  /** The `nflow_form` session: request form/query values and the payload keys written back after each step. */
  session: Schema.Record(Schema.String, Schema.Unknown),
  /** Response headers set by `c.SetHeader`, applied to the reply when one is written. */
  headers: Schema.Record(Schema.String, Schema.String),
  /** On the second branch of a parallel box: replies are discarded and failures end only this branch. */
  detached: Schema.Boolean,
  /** The original id of the node that ran before (`prev_box`). */
  prev: Schema.NullOr(Schema.String)
}).annotate({ identifier: "NflowState" })
export type State = typeof State.Type

type Payload = Record<string, unknown>

/** What one nFlow box decided: the new payload, the port (`next`), replies written and headers set. */
export interface Outcome {
  readonly payload: unknown
  readonly next: string
  readonly replies?: ReadonlyArray<Node.Reply>
  readonly headers?: Readonly<Record<string, string>>
}

/** The request this execution serves (the trigger data), or an empty GET when run without one. */
export const requestOf = (context: Node.NodeContext): HttpRequest.HttpRequest =>
  HttpRequest.fromUnknown(context.trigger) ?? HttpRequest.make({ method: "GET", path: "/" })

const isObject = (value: unknown): value is Payload =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Copies into a null-prototype-free plain object, skipping keys that could reach a prototype. */
const assignSafe = (target: Payload, source: Payload) => {
  for (const [key, value] of Object.entries(source)) {
    if (key === "__proto__")
      Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
    else target[key] = value
  }
  return target
}

/** nFlow answers a failed script with 500 `{ message, actor }`. */
export const errorReply = (message: string, actor: unknown): Node.Reply => ({
  status: 500,
  headers: { "content-type": "application/json" },
  body: { message, actor }
})

/** A JSON reply as Echo's `c.JSON` writes it. */
export const jsonReply = (status: number, body: unknown): Node.Reply => ({
  status,
  headers: { "content-type": "application/json" },
  body
})

/** An HTML reply as Echo's `c.HTML` writes it. */
export const htmlReply = (status: number, body: string): Node.Reply => ({
  status,
  headers: { "content-type": "text/html; charset=UTF-8" },
  body
})

const isBreak = (payload: unknown) => isObject(payload) && (payload.break === true || payload.break === "true")

/**
 * Runs one nFlow step: merges the session into the payload (session keys win), runs `body`, writes the
 * payload back to the session, applies the first reply (unless detached), then continues on the chosen port
 * if it is one of `ports`, else ends this path (nFlow: an output that does not exist ends the flow).
 */
export const step = <P extends string, R = never>(
  input: State,
  context: Node.NodeContext,
  ports: ReadonlyArray<P>,
  originalId: string,
  body: (payload: Payload, request: HttpRequest.HttpRequest) => Effect.Effect<Outcome, unknown, R>
): Effect.Effect<ReadonlyArray<{ readonly port: P; readonly value: State }>, never, R> =>
  Effect.suspend(() => {
    const payload = assignSafe(assignSafe({}, isObject(input.payload) ? input.payload : {}), input.session)
    const request = requestOf(context)
    return body(payload, request).pipe(
      Effect.map((outcome) => {
        const headers = { ...input.headers, ...outcome.headers }
        const first = outcome.replies?.[0]
        if (first !== undefined && !input.detached) {
          context.reply({ ...first, headers: { ...headers, ...first.headers } })
        }
        // nflow-runtime crashes when a step leaves a non-object payload and another follows (its bug 2):
        // here such a payload becomes {} for the next step.
        const nextPayload = isObject(outcome.payload) ? outcome.payload : {}
        const state: State = {
          payload: nextPayload,
          session: assignSafe({ ...input.session }, nextPayload),
          headers,
          detached: input.detached,
          prev: originalId
        }
        const port = ports.find((p) => p === outcome.next)
        if (isBreak(nextPayload) || port === undefined) return []
        return [{ port, value: state }]
      }),
      Effect.catch((error: unknown) =>
        Effect.sync((): ReadonlyArray<{ readonly port: P; readonly value: State }> => {
          if (!input.detached) {
            context.reply(errorReply(messageOf(error), { id: originalId }))
          }
          return []
        })
      )
    )
  })

/** A readable message of any thrown or failed value. */
export const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    const { _tag, name } = error as { readonly _tag?: unknown; readonly name?: unknown }
    const kind = typeof _tag === "string" ? _tag : typeof name === "string" ? name : undefined
    return `${kind === undefined ? "" : `${kind}: `}${(error as { message: string }).message}`
  }
  return String(error)
}

/**
 * `find_element(path, obj)`: the value at a dotted path (`a.b.0`), or `null` when any step is missing.
 *
 * @example
 * ```ts
 * findElement("user.name", { user: { name: "Ada" } }) // "Ada"
 * ```
 */
export const findElement = (path: string, value: unknown): unknown => {
  let current = value
  for (const segment of path.split(".")) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) return null
    current = (current as Record<string, unknown>)[segment]
  }
  return current === undefined ? null : current
}

/**
 * JavaScript's `x == "text"` (the `if_equals` box compares a payload value with a string from the designer).
 *
 * @example
 * ```ts
 * looseEqualsString(5, "5") // true
 * looseEqualsString(true, "1") // true
 * looseEqualsString(null, "null") // false
 * ```
 */
export const looseEqualsString = (value: unknown, text: string): boolean => {
  if (value === null || value === undefined) return false
  if (typeof value === "string") return value === text
  if (typeof value === "number") return value === Number(text)
  if (typeof value === "boolean") return Number(value) === Number(text)
  if (typeof value === "bigint") return String(value) === text.trim()
  if (typeof value === "object") {
    // ToPrimitive of a plain object or array: its string form.
    const primitive = Array.isArray(value)
      ? value.map((v) => (v === null || v === undefined ? "" : String(v))).join(",")
      : "[object Object]"
    return primitive === text
  }
  return false
}
