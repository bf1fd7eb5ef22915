/**
 * Execution events: what the engine reports while it runs a flow, and the service that receives them.
 *
 * The engine emits `ExecutionStarted`, `NodeStarted`, `NodeSucceeded`, `NodeFailed`, `NodeSkipped` and
 * `ExecutionFinished` to the {@link FlowEvents} service. Emitting is a synchronous call that must never wait
 * on I/O: a subscriber that writes somewhere (audit sinks) enqueues into its own bounded buffer. Each event
 * has an `eventId` (`<executionId>:<seq>`) so that sinks can write idempotently.
 *
 * @module FlowEvents
 */
import { Context, Layer, Schema } from "effect"
import { ErrorInfo } from "./FlowError.ts"
import { SnapshotPolicy } from "./Ir.ts"

const Common = {
  eventId: Schema.String,
  seq: Schema.Number,
  executionId: Schema.String,
  flowId: Schema.String,
  flowVersion: Schema.String,
  /** Epoch milliseconds. */
  at: Schema.Number
}
const NodeCommon = { ...Common, nodeId: Schema.String, nodeType: Schema.String }

/** Execution variables as recorded: a copy, taken when they were set. */
export const Variables = Schema.Record(Schema.String, Schema.Unknown)

/**
 * An execution began. `parentExecutionId` links a for-each item or sub-flow run; `replayOf` a replay.
 * `snapshots` is the policy its `input` and its node inputs and outputs were recorded under: a `metadata`
 * snapshot (`{ "type": "object" }`) cannot be told from data by looking at it. Absent in records written
 * before the field existed.
 *
 * With `full` snapshots only: `triggerData` is the trigger's own data when it was given apart from the input
 * (the HTTP request: method, path, params, query, headers, body), and `variables` the initial variables
 * when there were any; a replay restores both.
 */
export const ExecutionStarted = Schema.TaggedStruct("ExecutionStarted", {
  ...Common,
  trigger: Schema.String,
  parentExecutionId: Schema.optionalKey(Schema.String),
  parentNodeId: Schema.optionalKey(Schema.String),
  replayOf: Schema.optionalKey(Schema.String),
  snapshots: Schema.optionalKey(SnapshotPolicy),
  triggerData: Schema.optionalKey(Schema.Unknown),
  variables: Schema.optionalKey(Variables),
  input: Schema.optionalKey(Schema.Unknown)
})
/** A node attempt began. */
export const NodeStarted = Schema.TaggedStruct("NodeStarted", {
  ...NodeCommon,
  attempt: Schema.Number,
  input: Schema.optionalKey(Schema.Unknown)
})
/**
 * A node attempt succeeded and emitted on `ports`. With `full` snapshots, `variables` holds all the
 * execution's variables when they changed since the last event that carried them (a `setVariables` node):
 * folded in order, they give the variables any later node started with, which a replay from that node needs.
 */
export const NodeSucceeded = Schema.TaggedStruct("NodeSucceeded", {
  ...NodeCommon,
  attempt: Schema.Number,
  durationMs: Schema.Number,
  ports: Schema.Array(Schema.String),
  variables: Schema.optionalKey(Variables),
  output: Schema.optionalKey(Schema.Unknown)
})
/**
 * A node attempt failed. `willRetry`: another attempt follows; `handled`: routed to the node's error port.
 * An attempt still running when its execution ends without it is closed with a `NodeFailed` too, so every
 * `NodeStarted` has an end: `error._tag` is `FlowTimeout` (the flow ran past its time limit) or `Interrupted`
 * (the execution was interrupted, or failed at another node), with `willRetry` and `handled` false.
 */
export const NodeFailed = Schema.TaggedStruct("NodeFailed", {
  ...NodeCommon,
  attempt: Schema.Number,
  durationMs: Schema.Number,
  error: ErrorInfo,
  willRetry: Schema.Boolean,
  handled: Schema.Boolean
})
/** A node did not run because none of its inputs became active (a branch not taken). */
export const NodeSkipped = Schema.TaggedStruct("NodeSkipped", { ...NodeCommon })
/** An execution ended. `durationMs` is measured with a monotonic clock, fractional like the nodes' durations. */
export const ExecutionFinished = Schema.TaggedStruct("ExecutionFinished", {
  ...Common,
  durationMs: Schema.Number,
  status: Schema.Literals(["succeeded", "failed", "interrupted"]),
  steps: Schema.Number,
  error: Schema.optionalKey(ErrorInfo),
  output: Schema.optionalKey(Schema.Unknown)
})

/** Any execution event. */
export const FlowEvent = Schema.Union([
  ExecutionStarted,
  NodeStarted,
  NodeSucceeded,
  NodeFailed,
  NodeSkipped,
  ExecutionFinished
])
export type FlowEvent = typeof FlowEvent.Type
export type ExecutionStarted = typeof ExecutionStarted.Type
export type NodeStarted = typeof NodeStarted.Type
export type NodeSucceeded = typeof NodeSucceeded.Type
export type NodeFailedEvent = typeof NodeFailed.Type
export type NodeSkipped = typeof NodeSkipped.Type
export type ExecutionFinished = typeof ExecutionFinished.Type

/** A synchronous, non-blocking receiver of events. It must not throw; if it does, the error is dropped. */
export type Subscriber = (event: FlowEvent) => void

/**
 * The events service. `snapshots` says how much of node inputs and outputs the engine copies into events:
 * `none`, `metadata` (type and size only) or `full` (the values, which must not be mutated afterwards).
 */
export interface FlowEventsShape {
  readonly snapshots: SnapshotPolicy
  /** Whether anybody listens; when false the engine builds no events at all. */
  readonly enabled: boolean
  readonly emit: (event: FlowEvent) => void
}

/**
 * The `FlowEvents` service. Its default (when no layer is provided) drops every event.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FlowEvents } from "@jsonflow/core"
 * const seen: Array<string> = []
 * const layer = FlowEvents.layer([(e) => seen.push(e._tag)], { snapshots: "metadata" })
 * ```
 */
export const FlowEvents = Context.Reference<FlowEventsShape>("@jsonflow/core/FlowEvents", {
  defaultValue: () => ({ snapshots: "none", enabled: false, emit: () => {} })
})

/**
 * Fans events out to subscribers; one failing subscriber does not stop the others (its error is dropped:
 * a subscriber must never break an execution).
 *
 * @example
 * ```ts
 * import { FlowEvents } from "@jsonflow/core"
 * const tags: Array<string> = []
 * const emit = FlowEvents.fanOut([
 *   () => { throw new Error("a broken sink") },
 *   (event) => tags.push(event._tag)
 * ])
 * // emit(event) delivers to the second subscriber even though the first throws
 * ```
 */
export const fanOut = (subscribers: ReadonlyArray<Subscriber>): ((event: FlowEvent) => void) => {
  if (subscribers.length === 1) {
    const only = subscribers[0]!
    return (event) => {
      try {
        only(event)
      } catch {
        // A subscriber must not break an execution.
      }
    }
  }
  return (event) => {
    for (const subscriber of subscribers) {
      try {
        subscriber(event)
      } catch {
        // A subscriber must not break an execution.
      }
    }
  }
}

/**
 * A layer that delivers every event to the given subscribers.
 *
 * @example
 * ```ts
 * import { FlowEvents } from "@jsonflow/core"
 * const layer = FlowEvents.layer([(event) => console.log(event._tag)])
 * ```
 */
export const layer = (
  subscribers: ReadonlyArray<Subscriber>,
  options: { readonly snapshots?: SnapshotPolicy } = {}
): Layer.Layer<never> =>
  Layer.succeed(FlowEvents, {
    snapshots: options.snapshots ?? "metadata",
    enabled: subscribers.length > 0,
    emit: fanOut(subscribers)
  })

/** Keeps the events of recent executions in memory, bounded; for tests, the CLI and development. */
export interface MemoryRecorder {
  readonly subscriber: Subscriber
  /** All events of one execution, in emission order. */
  readonly trace: (executionId: string) => ReadonlyArray<FlowEvent>
  /** Execution ids, oldest first. */
  readonly executions: () => ReadonlyArray<string>
  readonly clear: () => void
}

/**
 * Creates an in-memory recorder keeping the events of at most `maxExecutions` executions (oldest dropped).
 *
 * @example
 * ```ts
 * import { FlowEvents } from "@jsonflow/core"
 * const recorder = FlowEvents.memoryRecorder()
 * const layer = FlowEvents.layer([recorder.subscriber], { snapshots: "full" })
 * // ... run a flow with `layer`, then: recorder.trace(result.executionId)
 * ```
 */
export const memoryRecorder = (maxExecutions = 1_000): MemoryRecorder => {
  const traces = new Map<string, Array<FlowEvent>>()
  return {
    subscriber: (event) => {
      let trace = traces.get(event.executionId)
      if (trace === undefined) {
        trace = []
        traces.set(event.executionId, trace)
        if (traces.size > maxExecutions) traces.delete(traces.keys().next().value!)
      }
      trace.push(event)
    },
    trace: (executionId) => traces.get(executionId) ?? [],
    executions: () => [...traces.keys()],
    clear: () => traces.clear()
  }
}

/**
 * A layer with an in-memory recorder, and the recorder itself, for tests.
 *
 * @example
 * ```ts
 * import { FlowEvents } from "@jsonflow/core"
 * const { layer, recorder } = FlowEvents.layerMemory({ snapshots: "full" })
 * ```
 */
export const layerMemory = (options: { readonly snapshots?: SnapshotPolicy; readonly maxExecutions?: number } = {}) => {
  const recorder = memoryRecorder(options.maxExecutions)
  return { layer: layer([recorder.subscriber], { snapshots: options.snapshots ?? "full" }), recorder }
}
