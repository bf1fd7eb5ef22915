/**
 * Typed failures of an execution. Every one names the flow and the execution, and where it applies the
 * node and port; each is a `Schema.TaggedError`, so it serializes (audit, HTTP error bodies) and can be
 * caught by tag.
 *
 * @module FlowError
 */
import { Schema } from "effect"

/** A serializable summary of any error: its tag, a message a person can read, and whether a retry is safe. */
export const ErrorInfo = Schema.Struct({
  _tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean,
  details: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})
export type ErrorInfo = typeof ErrorInfo.Type

const Where = {
  flowId: Schema.String,
  executionId: Schema.String
}

/**
 * A node failed (after its retries) and no edge leaves its `error` port.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FlowError } from "@jsonflow/core"
 * declare const run: Effect.Effect<unknown, FlowError.FlowError>
 * run.pipe(Effect.catchTag("NodeFailed", (e) => Effect.succeed(`${e.nodeId}: ${e.error.message}`)))
 * ```
 */
export class NodeFailed extends Schema.TaggedError<NodeFailed>()("NodeFailed", {
  ...Where,
  nodeId: Schema.String,
  nodeType: Schema.String,
  attempts: Schema.Number,
  error: ErrorInfo,
  /** The node's own typed error, as it failed (not serialized). */
  cause: Schema.optionalKey(Schema.Unknown)
}) {
  override get message() {
    return `node "${this.nodeId}" (${this.nodeType}) failed after ${this.attempts} attempt(s): ${this.error._tag}: ${this.error.message}`
  }
}

/** The whole execution ran past the flow's time limit. */
export class FlowTimeout extends Schema.TaggedError<FlowTimeout>()("FlowTimeout", {
  ...Where,
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `flow "${this.flowId}" ran past its ${this.timeoutMs} ms time limit`
  }
}

/** More node runs than the flow's `maxSteps` (a loop that does not end). */
export class MaxStepsExceeded extends Schema.TaggedError<MaxStepsExceeded>()("MaxStepsExceeded", {
  ...Where,
  maxSteps: Schema.Number,
  nodeId: Schema.String
}) {
  override get message() {
    return `flow "${this.flowId}" exceeded ${this.maxSteps} steps (at node "${this.nodeId}")`
  }
}

/** A value arriving at a node's input port does not fit the node's input Schema (or the flow's input Schema). */
export class InputInvalid extends Schema.TaggedError<InputInvalid>()("InputInvalid", {
  ...Where,
  nodeId: Schema.String,
  port: Schema.String,
  /** JSON Pointer into the value. */
  path: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `input of node "${this.nodeId}" port "${this.port}"${this.path ? ` at ${this.path}` : ""}: ${this.problem}`
  }
}

/** Any failure of an execution. */
export type FlowError = NodeFailed | FlowTimeout | MaxStepsExceeded | InputInvalid

/** Node-level error: the node ran past its `timeoutMs`. Retryable. */
export class NodeTimeout extends Schema.TaggedError<NodeTimeout>()("NodeTimeout", {
  nodeId: Schema.String,
  timeoutMs: Schema.Number,
  retryable: Schema.Literal(true)
}) {
  override get message() {
    return `node "${this.nodeId}" ran past its ${this.timeoutMs} ms time limit`
  }
}

/** Node-level error: the node's code threw or died instead of failing with a typed error. Not retryable. */
export class NodeDefect extends Schema.TaggedError<NodeDefect>()("NodeDefect", {
  nodeId: Schema.String,
  defect: Schema.String,
  retryable: Schema.Literal(false)
}) {
  override get message() {
    return `node "${this.nodeId}" crashed: ${this.defect}`
  }
}

/** Node-level error raised by the `fail` built-in node. */
export class FlowFailure extends Schema.TaggedError<FlowFailure>()("FlowFailure", {
  code: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.code}: ${this.reason}`
  }
}

const describe = (value: unknown): string => {
  if (value instanceof Error) return value.message
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * Summarizes any error value as {@link ErrorInfo}: `_tag` and `retryable` from the value when present,
 * the message from `message` (or the value itself), and the other plain fields as `details`.
 *
 * @example
 * ```ts
 * import { FlowError } from "@jsonflow/core"
 * FlowError.toErrorInfo(new Error("boom")) // { _tag: "Error", message: "boom", retryable: false }
 * ```
 */
export const toErrorInfo = (error: unknown): ErrorInfo => {
  if (typeof error !== "object" || error === null) {
    return { _tag: "UnknownError", message: describe(error), retryable: false }
  }
  const record = error as Record<string, unknown>
  const tag = typeof record._tag === "string" ? record._tag : error instanceof Error ? error.name : "UnknownError"
  let message: string
  try {
    message = typeof record.message === "string" ? record.message : describe(error)
  } catch {
    message = tag
  }
  const details: Record<string, unknown> = {}
  let hasDetails = false
  for (const key of Object.keys(record)) {
    if (key === "_tag" || key === "message" || key === "retryable" || key === "stack" || key === "cause") continue
    const value = record[key]
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
      details[key] = value
      hasDetails = true
    }
  }
  return {
    _tag: tag,
    message,
    retryable: record.retryable === true,
    ...(hasDetails ? { details } : {})
  }
}
