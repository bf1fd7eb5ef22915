/**
 * The audit record model. What travels from the engine to a store is an {@link Entry}: an execution event
 * (the `FlowEvents` Schemas of core, after redaction) or a {@link FlowRecorded} (a flow's IR, stored once per
 * version so a replay can run the version an execution ran on). Stores derive two views from entries: one
 * {@link ExecutionRecord} per execution (for listing) and the ordered events of each execution, from which
 * {@link buildTrace} computes the {@link NodeRun}s of a timeline.
 *
 * Event ids are `<executionId>:<seq>`: stores key events by `(executionId, seq)`, so writing the same event
 * twice is a no-op, and execution rows are merged commutatively, so entries may arrive in any order.
 *
 * @module Record
 */
import { FlowError, FlowEvents, Ir } from "@jsonflow/core"
import { Schema } from "effect"

/** Where an execution is: `running` until its `ExecutionFinished` is recorded (or forever, if its runner died). */
export const ExecutionStatus = Schema.Literals(["running", "succeeded", "failed", "interrupted"])
export type ExecutionStatus = typeof ExecutionStatus.Type

/** A flow's IR, recorded when an execution of that version is first seen. */
export const FlowRecorded = Schema.TaggedStruct("FlowRecorded", {
  flowId: Schema.String,
  flowVersion: Schema.String,
  /** Epoch milliseconds. */
  at: Schema.Number,
  flow: Ir.Flow
})
export type FlowRecorded = typeof FlowRecorded.Type

/** Anything an audit sink writes. */
export const Entry = Schema.Union([
  FlowEvents.ExecutionStarted,
  FlowEvents.NodeStarted,
  FlowEvents.NodeSucceeded,
  FlowEvents.NodeFailed,
  FlowEvents.NodeSkipped,
  FlowEvents.ExecutionFinished,
  FlowRecorded
])
export type Entry = FlowEvents.FlowEvent | FlowRecorded

/** One execution, as listed. Times are epoch milliseconds. */
export const ExecutionRecord = Schema.Struct({
  executionId: Schema.String,
  flowId: Schema.String,
  flowVersion: Schema.String,
  trigger: Schema.optionalKey(Schema.String),
  status: ExecutionStatus,
  startedAt: Schema.Number,
  finishedAt: Schema.optionalKey(Schema.Number),
  /** The time of the latest event seen: for a `running` execution, when it was last heard of. */
  lastEventAt: Schema.Number,
  durationMs: Schema.optionalKey(Schema.Number),
  steps: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(FlowError.ErrorInfo),
  input: Schema.optionalKey(Schema.Unknown),
  output: Schema.optionalKey(Schema.Unknown),
  parentExecutionId: Schema.optionalKey(Schema.String),
  parentNodeId: Schema.optionalKey(Schema.String),
  replayOf: Schema.optionalKey(Schema.String),
  /**
   * The snapshot policy its input and node values were recorded under (`full`: the values; `metadata`:
   * types and sizes only; `none`). Absent for executions recorded before the policy was, or whose
   * `ExecutionStarted` has not arrived.
   */
  snapshots: Schema.optionalKey(Ir.SnapshotPolicy)
})
export type ExecutionRecord = typeof ExecutionRecord.Type

/** One attempt of one node. `running`: started and never reported back (the runner stopped there). */
export const NodeRunStatus = Schema.Literals(["running", "succeeded", "failed", "retried", "skipped"])
export type NodeRunStatus = typeof NodeRunStatus.Type

/** One node attempt in a trace, start to end. */
export const NodeRun = Schema.Struct({
  nodeId: Schema.String,
  nodeType: Schema.String,
  attempt: Schema.Number,
  status: NodeRunStatus,
  startedAt: Schema.Number,
  finishedAt: Schema.optionalKey(Schema.Number),
  durationMs: Schema.optionalKey(Schema.Number),
  input: Schema.optionalKey(Schema.Unknown),
  output: Schema.optionalKey(Schema.Unknown),
  ports: Schema.optionalKey(Schema.Array(Schema.String)),
  /** All the execution variables after this attempt, when it changed them (recorded with `full` snapshots). */
  variables: Schema.optionalKey(FlowEvents.Variables),
  error: Schema.optionalKey(FlowError.ErrorInfo),
  /** The failure went to the node's error port. */
  handled: Schema.optionalKey(Schema.Boolean)
})
export type NodeRun = typeof NodeRun.Type

/** One execution's full trace: its record, its events in order, and the node attempts they describe. */
export interface Trace {
  readonly execution: ExecutionRecord
  readonly events: ReadonlyArray<FlowEvents.FlowEvent>
  readonly nodes: ReadonlyArray<NodeRun>
}

/** Where an execution stopped: the last thing it did, and what was still running. */
export interface StopPoint {
  readonly executionId: string
  readonly status: ExecutionStatus
  /** The last event recorded. */
  readonly lastEvent: FlowEvents.FlowEvent | undefined
  /** Node attempts that started and never ended: where a killed runner was. */
  readonly inFlight: ReadonlyArray<NodeRun>
  /** The last node attempt that ended (succeeded or failed). */
  readonly lastCompleted: NodeRun | undefined
  /** The failure that ended the execution, if it failed. */
  readonly failedAt: NodeRun | undefined
}

/** A partial execution row contributed by some events; stores merge patches with {@link mergePatch}. */
export interface ExecutionPatch {
  executionId: string
  flowId: string
  flowVersion: string
  trigger?: string
  status: ExecutionStatus
  startedAt: number
  finishedAt?: number
  lastEventAt: number
  durationMs?: number
  steps?: number
  error?: FlowError.ErrorInfo
  input?: unknown
  output?: unknown
  parentExecutionId?: string
  parentNodeId?: string
  replayOf?: string
  snapshots?: Ir.SnapshotPolicy
}

/**
 * The execution row an event implies on its own.
 *
 * @example
 * ```ts
 * import { Record } from "@jsonflow/audit"
 * declare const event: Parameters<typeof Record.patchOf>[0]
 * Record.patchOf(event).status // "running" unless it is an ExecutionFinished
 * ```
 */
export const patchOf = (event: FlowEvents.FlowEvent): ExecutionPatch => {
  const patch: ExecutionPatch = {
    executionId: event.executionId,
    flowId: event.flowId,
    flowVersion: event.flowVersion,
    status: "running",
    startedAt: event.at,
    lastEventAt: event.at
  }
  if (event._tag === "ExecutionStarted") {
    patch.trigger = event.trigger
    if (event.input !== undefined) patch.input = event.input
    if (event.parentExecutionId !== undefined) patch.parentExecutionId = event.parentExecutionId
    if (event.parentNodeId !== undefined) patch.parentNodeId = event.parentNodeId
    if (event.replayOf !== undefined) patch.replayOf = event.replayOf
    if (event.snapshots !== undefined) patch.snapshots = event.snapshots
  } else if (event._tag === "ExecutionFinished") {
    patch.status = event.status
    patch.finishedAt = event.at
    patch.durationMs = event.durationMs
    patch.steps = event.steps
    // The start is `at - duration`: right even when this event arrives before its ExecutionStarted.
    patch.startedAt = event.at - event.durationMs
    if (event.error !== undefined) patch.error = event.error
    if (event.output !== undefined) patch.output = event.output
  }
  return patch
}

/**
 * Merges two patches of one execution. Commutative and idempotent, like the SQL upsert of the stores, so the
 * order in which events arrive does not matter.
 *
 * @example
 * ```ts
 * import { Record } from "@jsonflow/audit"
 * declare const a: Record.ExecutionPatch, b: Record.ExecutionPatch
 * const merged = Record.mergePatch(a, b) // same as mergePatch(b, a)
 * ```
 */
export const mergePatch = (a: ExecutionPatch, b: ExecutionPatch): ExecutionPatch => {
  const finished = b.status !== "running" ? b : a
  const other = finished === a ? b : a
  const merged: ExecutionPatch = {
    ...other,
    ...finished,
    startedAt: Math.min(a.startedAt, b.startedAt),
    lastEventAt: Math.max(a.lastEventAt, b.lastEventAt)
  }
  for (const key of ["trigger", "input", "parentExecutionId", "parentNodeId", "replayOf", "snapshots"] as const) {
    const value = a[key] ?? b[key]
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value
  }
  return merged
}

/** The execution record a patch describes. */
export const recordOfPatch = (patch: ExecutionPatch): ExecutionRecord => patch

/**
 * Folds one execution's events (any order; duplicates ignored) into its trace.
 *
 * @example
 * ```ts
 * import { FlowEvents } from "@jsonflow/core"
 * import { Record } from "@jsonflow/audit"
 * const { recorder } = FlowEvents.layerMemory()
 * // ... run a flow, then:
 * const trace = Record.buildTrace(recorder.trace("exec-1"))
 * ```
 */
export const buildTrace = (input: ReadonlyArray<FlowEvents.FlowEvent>): Trace | undefined => {
  const bySeq = new Map<number, FlowEvents.FlowEvent>()
  for (const event of input) bySeq.set(event.seq, event)
  const events = [...bySeq.values()].sort((x, y) => x.seq - y.seq)
  const first = events[0]
  if (first === undefined) return undefined
  let patch = patchOf(first)
  for (const event of events.slice(1)) patch = mergePatch(patch, patchOf(event))
  const nodes: Array<NodeRun> = []
  const open = new Map<string, number>()
  for (const event of events) {
    switch (event._tag) {
      case "NodeStarted": {
        open.set(`${event.nodeId}\u0000${event.attempt}`, nodes.length)
        nodes.push({
          nodeId: event.nodeId,
          nodeType: event.nodeType,
          attempt: event.attempt,
          status: "running",
          startedAt: event.at,
          ...(event.input === undefined ? {} : { input: event.input })
        })
        break
      }
      case "NodeSucceeded":
      case "NodeFailed": {
        const key = `${event.nodeId}\u0000${event.attempt}`
        const index = open.get(key)
        const started = index === undefined ? undefined : nodes[index]
        const base: NodeRun = started ?? {
          nodeId: event.nodeId,
          nodeType: event.nodeType,
          attempt: event.attempt,
          status: "running",
          startedAt: event.at - event.durationMs
        }
        const ended: NodeRun =
          event._tag === "NodeSucceeded"
            ? {
                ...base,
                status: "succeeded",
                finishedAt: event.at,
                durationMs: event.durationMs,
                ports: event.ports,
                ...(event.variables === undefined ? {} : { variables: event.variables }),
                ...(event.output === undefined ? {} : { output: event.output })
              }
            : {
                ...base,
                status: event.willRetry ? "retried" : "failed",
                finishedAt: event.at,
                durationMs: event.durationMs,
                error: event.error,
                handled: event.handled
              }
        if (index === undefined) nodes.push(ended)
        else nodes[index] = ended
        open.delete(key)
        break
      }
      case "NodeSkipped":
        nodes.push({
          nodeId: event.nodeId,
          nodeType: event.nodeType,
          attempt: 0,
          status: "skipped",
          startedAt: event.at,
          finishedAt: event.at,
          durationMs: 0
        })
        break
      default:
        break
    }
  }
  return { execution: recordOfPatch(patch), events, nodes }
}

/**
 * Where an execution stopped: for one that never finished (its runner was killed), the node attempts still
 * open and the last one that ended; for a failed one, the failing node.
 *
 * @example
 * ```ts
 * import { Record } from "@jsonflow/audit"
 * declare const trace: Record.Trace
 * const stop = Record.stopPoint(trace)
 * stop.inFlight.map((n) => n.nodeId) // e.g. ["charge-card"]
 * ```
 */
export const stopPoint = (trace: Trace): StopPoint => {
  const ended = trace.nodes.filter((n) => n.status !== "running" && n.status !== "skipped")
  const failed = [...ended].reverse().find((n) => n.status === "failed" && n.handled !== true)
  return {
    executionId: trace.execution.executionId,
    status: trace.execution.status,
    lastEvent: trace.events[trace.events.length - 1],
    inFlight: trace.nodes.filter((n) => n.status === "running"),
    lastCompleted: ended[ended.length - 1],
    failedAt: trace.execution.status === "failed" ? failed : undefined
  }
}

/** `<flowId>@<version>`, the key of a recorded flow. */
export const flowKey = (flowId: string, flowVersion: string): string => `${flowId}@${flowVersion}`
