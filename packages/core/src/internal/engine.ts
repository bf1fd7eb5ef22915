/**
 * The engine: walks a compiled plan for one execution.
 *
 * Acyclic flows are walked by readiness: a node runs once every incoming edge is resolved (carrying a value,
 * or dead because its source port did not emit or its source was skipped); with no active input it is
 * skipped and its outputs die, which is how branches not taken are skipped and how joins wait for all
 * active inputs. Flows with `allowCycles` run as a state machine instead: every value arriving on an edge
 * activates its target (nFlow semantics), bounded by `maxSteps`. Independent ready nodes run concurrently up
 * to `concurrency`.
 *
 * Cost model (this runs once per node, so it matters): a node whose `run` returns an `Exit` (`Effect.succeed`,
 * `Effect.fail`, which pure nodes and most built-ins do) is settled synchronously, in a plain loop, with no
 * fiber and no Effect step. Only nodes that really suspend go through the Effect runtime: a lone one runs
 * inline, several are forked as children of the walking fiber (so failing there interrupts the ones still
 * running). An execution that never suspends costs one Effect step in all, and needs no flow-timeout timer
 * (nothing can be interrupted in a synchronous stretch anyway); the timer is armed, with the time that is
 * left, when the first node suspends. A long synchronous stretch yields to the scheduler every
 * {@link SYNC_BURST} nodes so other fibers (and interruption) still get their turn.
 *
 * @module engine
 */
import { Cause, Effect, Exit, Queue, Random } from "effect"
import type { ExecutionResult, RunOptions } from "../Compiler.ts"
import {
  type ErrorInfo,
  FlowTimeout,
  InputInvalid,
  MaxStepsExceeded,
  NodeDefect,
  NodeFailed,
  NodeTimeout,
  toErrorInfo
} from "../FlowError.ts"
import {
  type ExecutionFinished,
  type ExecutionStarted,
  type FlowEvent,
  FlowEvents,
  type FlowEventsShape,
  type NodeFailedEvent,
  type NodeStarted,
  type NodeSucceeded
} from "../FlowEvents.ts"
import type * as Ir from "../Ir.ts"
import { type NodeContext, type NodeFailure, type Reply, SyncFailure } from "../Node.ts"
import * as Validation from "../Validation.ts"
import type { Plan, PlanNode } from "./plan.ts"

type FlowErrorValue = NodeFailed | FlowTimeout | MaxStepsExceeded | InputInvalid

interface Emitted {
  readonly port: string
  readonly value: unknown
}

/** A settled attempt. Classes, so that telling one from a pending Effect is an `instanceof`. */
class Succeeded {
  readonly node: PlanNode
  /** What the node emitted, or {@link BARE}: the single value `value` on port `out`. */
  readonly emitted: ReadonlyArray<Emitted>
  readonly value: unknown
  constructor(node: PlanNode, emitted: ReadonlyArray<Emitted>, value: unknown) {
    this.node = node
    this.emitted = emitted
    this.value = value
  }
}
class Failed {
  readonly node: PlanNode
  readonly error: FlowErrorValue
  readonly failure: NodeFailure | undefined
  constructor(node: PlanNode, error: FlowErrorValue, failure: NodeFailure | undefined) {
    this.node = node
    this.error = error
    this.failure = failure
  }
}
type Completion = Succeeded | Failed

/** What a synchronously settled success returns instead of a {@link Succeeded}: already applied. */
const SETTLED: unique symbol = Symbol("settled")
type Settled = typeof SETTLED

/** An attempt that has not settled synchronously: the Effect that settles it. */
type Pending = Effect.Effect<Completion, never, unknown>

const OUT_PORTS: ReadonlyArray<string> = Object.freeze(["out"])
/** Marks an emission of one value on `out`, kept unwrapped (saves two allocations per node). */
const BARE: ReadonlyArray<Emitted> = Object.freeze([])

// Event ids are `<executionId>:<seq>`: the digits of small sequence numbers are made once.
const SEQ_STRINGS: ReadonlyArray<string> = Array.from({ length: 1024 }, (_, i) => String(i))

/** Consecutive synchronously settled nodes after which the walk yields to the scheduler. */
const SYNC_BURST = 512

// Edge states: 0 pending (the initial value of the array), 1 carries a value, 2 dead.
const EDGE_VALUE = 1
const EDGE_DEAD = 2

const META_NULL = Object.freeze({ type: "null" })
const META_OBJECT = Object.freeze({ type: "object" })
const META_OTHER: Record<string, unknown> = {
  number: Object.freeze({ type: "number" }),
  boolean: Object.freeze({ type: "boolean" }),
  undefined: Object.freeze({ type: "undefined" }),
  bigint: Object.freeze({ type: "bigint" })
}

// `metadata` must stay cheap (it runs twice per node): the type, and the length of arrays and strings.
const snapshot = (policy: FlowEventsShape["snapshots"], value: unknown): unknown => {
  if (policy === "full") return value
  if (value === null) return META_NULL
  if (Array.isArray(value)) return { type: "array", length: value.length }
  if (typeof value === "object") return META_OBJECT
  if (typeof value === "string") return { type: "string", length: value.length }
  return META_OTHER[typeof value] ?? { type: typeof value }
}

// `Date.now() - performance.now()`, re-read at most every second so that a wall-clock step (NTP, a resumed
// VM) shows up in later timestamps; in between, timestamps cost no extra clock read.
let wallOffset = Date.now() - performance.now()
let wallOffsetRead = performance.now()
const wallOffsetAt = (now: number): number => {
  if (now - wallOffsetRead > 1_000 || now < wallOffsetRead) {
    wallOffset = Date.now() - performance.now()
    wallOffsetRead = now
  }
  return wallOffset
}

interface ReadyNode {
  readonly node: PlanNode
  readonly input: unknown
  readonly skip: boolean
}

class Execution {
  // Plain arrays, not typed arrays: for the few dozen entries of a flow they are cheaper to allocate.
  readonly edgeState: Array<number>
  readonly edgeValue: Array<unknown>
  readonly remaining: Array<number>
  readonly lastEmitted: Array<ReadonlyArray<Emitted> | undefined>
  /** The value of a node whose last emission was {@link BARE}. */
  readonly lastOut: Array<unknown>
  /**
   * Per node: the attempt in progress that suspended (0: none) and when it started; what an interrupted trace
   * is closed with. Synchronous attempts settle before anything can interrupt them, so only attempts that
   * suspend are tracked, and the arrays exist only once one has.
   */
  activeAttempt: Array<number> | undefined = undefined
  activeSince: Array<number> | undefined = undefined
  /** `<executionId>:`, the prefix of every event id. */
  readonly eventIdPrefix: string
  readonly variables: Record<string, unknown>
  /** A variable was set since the last event that recorded them (with `full` snapshots, a replay needs them). */
  variablesChanged = false
  reply: Reply | undefined = undefined
  steps = 0
  seq = 0
  // Monotonic, for durations as precise as the nodes' (`at` timestamps stay wall-clock milliseconds).
  readonly started = performance.now()
  // Event timestamps are derived from the monotonic clock: one clock read per event.
  readonly wallOffset = wallOffsetAt(this.started)
  readonly ready: Array<ReadyNode> = []
  /** Attempts that suspended and wait to be run (inline or forked). */
  readonly pending: Array<Pending> = []
  /** Forked attempts in flight, and where they report. */
  running = 0
  done: Queue.Queue<Completion> | undefined = undefined
  /** Nodes settled synchronously since the last yield; `mustYield` asks the walk to yield before going on. */
  burst = 0
  mustYield = false
  /** Whether `ExecutionFinished` was emitted (exactly once, whichever way the execution ends). */
  finished = false
  /**
   * The latest clock reading an event used (with events on); `clock` is that reading while it is still "now"
   * (just after a synchronous settle, to start the next node with).
   */
  lastRead = 0
  clock: number | undefined = undefined

  readonly plan: Plan
  readonly executionId: string
  readonly events: FlowEventsShape
  readonly trigger: unknown

  constructor(plan: Plan, executionId: string, events: FlowEventsShape, options: RunOptions, trigger: unknown) {
    this.plan = plan
    this.executionId = executionId
    this.events = events
    this.trigger = trigger
    this.edgeState = new Array(plan.edges.length).fill(0)
    this.edgeValue = new Array(plan.edges.length)
    this.remaining = plan.inDegrees.slice()
    this.lastEmitted = new Array(plan.nodes.length)
    this.lastOut = new Array(plan.nodes.length)
    this.eventIdPrefix = `${executionId}:`
    this.variables = Object.assign(Object.create(null) as Record<string, unknown>, options.variables)
  }

  emit(event: FlowEvent) {
    this.events.emit(event)
  }

  eventId(seq: number): string {
    return this.eventIdPrefix + (seq < SEQ_STRINGS.length ? SEQ_STRINGS[seq]! : String(seq))
  }

  /** Marks attempt `n` of `node`, started at `since`, as suspended and in progress. */
  suspended(node: PlanNode, n: number, since: number) {
    if (!this.events.enabled) return
    if (this.activeAttempt === undefined) {
      this.activeAttempt = new Array(this.plan.nodes.length).fill(0)
      this.activeSince = new Array(this.plan.nodes.length)
    }
    this.activeAttempt[node.index] = n
    this.activeSince![node.index] = since
  }

  /** Wall-clock epoch milliseconds of a `performance.now()` reading. */
  at(now: number) {
    return Math.round(this.wallOffset + now)
  }

  nextEvent(now: number) {
    const seq = this.seq++
    return {
      eventId: this.eventId(seq),
      seq,
      executionId: this.executionId,
      flowId: this.plan.flowId,
      flowVersion: this.plan.flowVersion,
      at: this.at(now)
    }
  }

  /** An execution event's common fields, `_tag` first (as the other events have it). */
  executionEvent<Tag extends string>(tag: Tag, now: number) {
    const seq = this.seq++
    return {
      _tag: tag,
      eventId: this.eventId(seq),
      seq,
      executionId: this.executionId,
      flowId: this.plan.flowId,
      flowVersion: this.plan.flowVersion,
      at: this.at(now)
    }
  }

  /** Resolves one edge; in acyclic mode a target whose edges are all resolved becomes ready. */
  resolve(edgeIndex: number, state: 1 | 2, value?: unknown) {
    const edge = this.plan.edges[edgeIndex]!
    if (this.plan.cyclic) {
      if (state === EDGE_VALUE) {
        const node = this.plan.nodes[edge.to]!
        this.ready.push({
          node,
          input: node.definition.inputMode === "join" ? { [edge.toPort]: value } : value,
          skip: false
        })
      }
      return
    }
    this.edgeState[edgeIndex] = state
    if (state === EDGE_VALUE) this.edgeValue[edgeIndex] = value
    if (--this.remaining[edge.to]! === 0) this.becameReady(this.plan.nodes[edge.to]!)
  }

  becameReady(node: PlanNode) {
    if (node.definition.inputMode === "join") {
      const input: Record<string, unknown> = {}
      let active = false
      for (const e of node.inEdges) {
        if (this.edgeState[e] === EDGE_VALUE) {
          input[this.plan.edges[e]!.toPort] = this.edgeValue[e]
          active = true
        }
      }
      this.ready.push({ node, input, skip: !active })
      return
    }
    for (const e of node.inEdges) {
      if (this.edgeState[e] === EDGE_VALUE) {
        this.ready.push({ node, input: this.edgeValue[e], skip: false })
        return
      }
    }
    this.ready.push({ node, input: undefined, skip: true })
  }

  skip(node: PlanNode) {
    if (this.events.enabled) {
      this.lastRead = performance.now()
      this.emit({
        _tag: "NodeSkipped",
        ...this.nextEvent(this.lastRead),
        nodeId: node.id,
        nodeType: node.definition.type
      })
    }
    for (const e of node.outEdges) this.resolve(e, EDGE_DEAD)
  }

  succeeded(node: PlanNode, emitted: ReadonlyArray<Emitted>, value?: unknown) {
    this.lastEmitted[node.index] = emitted
    const ports = node.outPorts
    if (emitted === BARE) {
      this.lastOut[node.index] = value
      for (let p = 0; p < ports.length; p++) {
        const [port, edges] = ports[p]!
        const live = port === "out"
        for (let i = 0; i < edges.length; i++) {
          if (live) this.resolve(edges[i]!, EDGE_VALUE, value)
          else this.resolve(edges[i]!, EDGE_DEAD)
        }
      }
      return
    }
    for (let p = 0; p < ports.length; p++) {
      const [port, edges] = ports[p]!
      let found: Emitted | undefined
      for (let i = 0; i < emitted.length; i++) {
        if (emitted[i]!.port === port) {
          found = emitted[i]
          break
        }
      }
      for (let i = 0; i < edges.length; i++) {
        if (found === undefined) this.resolve(edges[i]!, EDGE_DEAD)
        else this.resolve(edges[i]!, EDGE_VALUE, found.value)
      }
    }
  }

  /** The last value node `index` emitted on `port` (its first port when absent), if any. */
  lastValue(index: number, port: string | undefined): unknown {
    const emitted = this.lastEmitted[index]
    if (emitted === undefined) return undefined
    if (emitted === BARE) return port === undefined || port === "out" ? this.lastOut[index] : undefined
    if (port === undefined) return emitted[0]?.value
    return emitted.find((e) => e.port === port)?.value
  }

  hasEmitted(index: number): boolean {
    const emitted = this.lastEmitted[index]
    return emitted !== undefined && (emitted === BARE || emitted.length > 0)
  }

  outputOf(nodeId: string, port?: string): unknown {
    const node = this.plan.nodes.find((n) => n.id === nodeId)
    return node === undefined ? undefined : this.lastValue(node.index, port)
  }

  result(): unknown {
    const plan = this.plan
    if (plan.output !== undefined) return this.lastValue(plan.output.node, plan.output.port)
    const out: Record<string, unknown> = {}
    for (const index of plan.sinks) {
      if (this.hasEmitted(index)) out[plan.nodes[index]!.id] = this.lastValue(index, undefined)
    }
    return out
  }

  /**
   * Starts and settles ready nodes for as long as they settle synchronously, up to the concurrency bound.
   * Attempts that suspend are left in `pending`. Returns the error that ends the execution, if any.
   */
  drain(clock?: number): FlowErrorValue | undefined {
    const plan = this.plan
    const ready = this.ready
    // A node settled just now: its end is the next node's start, which saves a clock read per node.
    this.clock = clock
    while (ready.length > 0 && this.running + this.pending.length < plan.concurrency) {
      if (this.burst >= SYNC_BURST) {
        this.mustYield = true
        return undefined
      }
      const { node, input, skip } = ready.shift()!
      if (skip) {
        this.skip(node)
        if (this.clock !== undefined) this.clock = this.lastRead
        continue
      }
      if (++this.steps > plan.maxSteps) {
        return new MaxStepsExceeded({
          flowId: plan.flowId,
          executionId: this.executionId,
          maxSteps: plan.maxSteps,
          nodeId: node.id
        })
      }
      const outcome = invoke(this, node, input)
      if (outcome === SETTLED) {
        // Succeeded and applied already: the common case.
        this.burst++
        this.clock = this.lastRead
        continue
      }
      if (!(outcome instanceof Failed || outcome instanceof Succeeded)) {
        this.pending.push(outcome)
        this.clock = undefined
        continue
      }
      this.burst++
      this.clock = this.lastRead
      const error = apply(this, outcome)
      if (error !== undefined) return error
    }
    this.clock = undefined
    return undefined
  }

  /** The current `performance.now()`, or the reading the node settled just before took. */
  now(): number {
    const clock = this.clock
    if (clock !== undefined) {
      this.clock = undefined
      return clock
    }
    this.lastRead = performance.now()
    return this.lastRead
  }

  /**
   * Closes the trace of attempts still in progress when the execution ends without them (flow timeout,
   * interruption, or another node's failure interrupting its siblings): one `NodeFailed` each, not retried.
   */
  closeActive(info: ErrorInfo) {
    const active = this.activeAttempt
    if (!this.events.enabled || active === undefined) return
    const now = performance.now()
    for (const node of this.plan.nodes) {
      const attempt = active[node.index]!
      if (attempt === 0) continue
      active[node.index] = 0
      this.emit({
        _tag: "NodeFailed",
        ...this.nextEvent(now),
        nodeId: node.id,
        nodeType: node.definition.type,
        attempt,
        durationMs: now - this.activeSince![node.index]!,
        error: info,
        willRetry: false,
        handled: false
      })
    }
  }
}

const backoffMillis = (policy: Ir.RetryPolicy, attempt: number) =>
  Math.min(policy.maxDelayMs ?? 30_000, (policy.initialDelayMs ?? 100) * (policy.factor ?? 2) ** (attempt - 1))

const errorOfCause = (cause: Cause.Cause<unknown>, node: PlanNode): unknown => {
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) return reason.error
  }
  for (const reason of cause.reasons) {
    if (Cause.isDieReason(reason)) return defectOf(node, reason.defect)
  }
  return new NodeDefect({ nodeId: node.id, defect: "unknown failure", retryable: false })
}

const defectOf = (node: PlanNode, defect: unknown) =>
  new NodeDefect({
    nodeId: node.id,
    defect: defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect),
    retryable: false
  })

const safeInfo = (error: unknown): ErrorInfo => {
  try {
    return toErrorInfo(error)
  } catch {
    return { _tag: "UnknownError", message: "an error that could not be described", retryable: false }
  }
}

const normalizeEmission = (node: PlanNode, emission: unknown): ReadonlyArray<Emitted> | string => {
  const list = Array.isArray(emission) ? emission : [emission]
  const out: Array<Emitted> = []
  for (const item of list) {
    if (typeof item !== "object" || item === null || typeof (item as { port?: unknown }).port !== "string") {
      return `node "${node.id}" returned something that is not { port, value }`
    }
    const port = (item as Emitted).port
    if (!(port in node.definition.outputs) && !dynamicPortsOf(node).includes(port)) {
      return `node "${node.id}" emitted on unknown port "${port}"`
    }
    out.push({ port, value: (item as Emitted).value })
  }
  return out
}

const dynamicPortsCache = new WeakMap<PlanNode, ReadonlyArray<string>>()
const dynamicPortsOf = (node: PlanNode): ReadonlyArray<string> => {
  let ports = dynamicPortsCache.get(node)
  if (ports === undefined) {
    ports = node.definition.dynamicPorts?.(node.config) ?? []
    dynamicPortsCache.set(node, ports)
  }
  return ports
}

/** What a node sees of its execution; one small object per attempt, methods on the prototype. */
class AttemptContext implements NodeContext {
  readonly #exec: Execution
  readonly #node: PlanNode
  readonly attempt: number

  constructor(exec: Execution, node: PlanNode, attempt: number) {
    this.#exec = exec
    this.#node = node
    this.attempt = attempt
  }
  get executionId() {
    return this.#exec.executionId
  }
  get flowId() {
    return this.#exec.plan.flowId
  }
  get flowVersion() {
    return this.#exec.plan.flowVersion
  }
  get nodeId() {
    return this.#node.id
  }
  get nodeType() {
    return this.#node.definition.type
  }
  get trigger() {
    return this.#exec.trigger
  }
  get variables() {
    return this.#exec.variables
  }
  setVariable(name: string, value: unknown) {
    this.#exec.variables[name] = value
    this.#exec.variablesChanged = true
  }
  outputOf(nodeId: string, port?: string) {
    return this.#exec.outputOf(nodeId, port)
  }
  reply(reply: Reply) {
    if (this.#exec.reply !== undefined) return false
    this.#exec.reply = reply
    return true
  }
  runSubflow(subInput: unknown): Effect.Effect<unknown, unknown> {
    const node = this.#node
    const exec = this.#exec
    if (node.subplan === undefined) return Effect.die(new Error(`node "${node.id}" has no sub-flow`))
    // The sub-flow's nodes come from the same registry: the services they need are the parent's.
    return Effect.map(
      runPlan(node.subplan, subInput, {
        parent: { executionId: exec.executionId, nodeId: node.id },
        trigger: exec.trigger,
        variables: exec.variables
      }),
      (result) => result.output
    ) as Effect.Effect<unknown, unknown>
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * `NodeStarted` and `NodeSucceeded` run for every node: each is one complete object literal (no spread, no
 * fields added afterwards), with and without the snapshot field.
 */
const startedEvent = (exec: Execution, node: PlanNode, attempt: number, now: number, input: unknown): NodeStarted => {
  const seq = exec.seq++
  const snapshots = exec.events.snapshots
  return snapshots === "none"
    ? {
        _tag: "NodeStarted",
        eventId: exec.eventId(seq),
        seq,
        executionId: exec.executionId,
        flowId: exec.plan.flowId,
        flowVersion: exec.plan.flowVersion,
        at: exec.at(now),
        nodeId: node.id,
        nodeType: node.definition.type,
        attempt
      }
    : {
        _tag: "NodeStarted",
        eventId: exec.eventId(seq),
        seq,
        executionId: exec.executionId,
        flowId: exec.plan.flowId,
        flowVersion: exec.plan.flowVersion,
        at: exec.at(now),
        nodeId: node.id,
        nodeType: node.definition.type,
        attempt,
        input: snapshot(snapshots, input)
      }
}

const succeededEvent = (
  exec: Execution,
  node: PlanNode,
  attempt: number,
  now: number,
  durationMs: number,
  ports: ReadonlyArray<string>,
  output: unknown
): NodeSucceeded => {
  const seq = exec.seq++
  const snapshots = exec.events.snapshots
  const event: NodeSucceeded =
    snapshots === "none"
      ? {
          _tag: "NodeSucceeded",
          eventId: exec.eventId(seq),
          seq,
          executionId: exec.executionId,
          flowId: exec.plan.flowId,
          flowVersion: exec.plan.flowVersion,
          at: exec.at(now),
          nodeId: node.id,
          nodeType: node.definition.type,
          attempt,
          durationMs,
          ports
        }
      : {
          _tag: "NodeSucceeded",
          eventId: exec.eventId(seq),
          seq,
          executionId: exec.executionId,
          flowId: exec.plan.flowId,
          flowVersion: exec.plan.flowVersion,
          at: exec.at(now),
          nodeId: node.id,
          nodeType: node.definition.type,
          attempt,
          durationMs,
          ports,
          output: snapshot(snapshots, output)
        }
  if (!exec.variablesChanged || snapshots !== "full") return event
  // Rare (a node set variables): all of them, copied, so that a replay from any later node can restore them.
  exec.variablesChanged = false
  return { ...event, variables: { ...exec.variables } }
}

/** The fields every node event has; the caller adds the fields of its event type (rare events only). */
const nodeEvent = (exec: Execution, tag: "NodeFailed", node: PlanNode, attempt: number, now: number) => {
  const seq = exec.seq++
  return {
    _tag: tag,
    eventId: exec.eventId(seq),
    seq,
    executionId: exec.executionId,
    flowId: exec.plan.flowId,
    flowVersion: exec.plan.flowVersion,
    at: exec.at(now),
    nodeId: node.id,
    nodeType: node.definition.type,
    attempt
  }
}

/**
 * Runs one node: the input check, then its first attempt. Settled synchronously (a {@link Completion}) when
 * the node does not suspend, otherwise the {@link Pending} Effect that settles it. Never fails.
 */
const invoke = (exec: Execution, node: PlanNode, rawInput: unknown): Completion | Pending | Settled => {
  if (!node.checkInput) return attempt(exec, node, rawInput, 1)
  const decoded = Validation.decode(node.definition.input, rawInput)
  if (decoded._tag === "Valid") return attempt(exec, node, decoded.value, 1)
  const issue = decoded.issues[0]!
  return new Failed(
    node,
    new InputInvalid({
      flowId: exec.plan.flowId,
      executionId: exec.executionId,
      nodeId: node.id,
      port: portOfPath(node, issue.path),
      path: issue.path,
      problem: decoded.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
    }),
    undefined
  )
}

// A join-mode node's input is keyed by port: the first path segment names the port.
const portOfPath = (node: PlanNode, path: string): string => {
  if (node.definition.inputMode !== "join") return "in"
  const segment = path.split("/")[1]
  return segment === undefined || segment === "" ? "in" : segment.replace(/~1/g, "/").replace(/~0/g, "~")
}

/** Starts attempt `n`: emits `NodeStarted`, calls `run`, and settles at once if the result is an `Exit`. */
const attempt = (
  exec: Execution,
  node: PlanNode,
  input: unknown,
  n: number,
  inline = true
): Completion | Pending | Settled => {
  const definition = node.definition
  const events = exec.events
  // Without events, time is only needed for a node timeout, which Effect measures itself.
  const startedAt = events.enabled ? exec.now() : 0
  if (events.enabled) exec.emit(startedEvent(exec, node, n, startedAt, input))
  const context = new AttemptContext(exec, node, n)
  if (node.runSync !== undefined) {
    let value: unknown
    try {
      value = node.runSync(input, context)
    } catch (thrown) {
      return failure(
        exec,
        node,
        input,
        n,
        startedAt,
        thrown instanceof SyncFailure ? thrown.error : defectOf(node, thrown)
      )
    }
    return success(exec, node, input, n, startedAt, true, value, inline)
  }
  const bare = definition.runValue !== undefined
  let effect: Effect.Effect<unknown, unknown, unknown>
  try {
    effect = bare ? definition.runValue!(input, node.config, context) : definition.run(input, node.config, context)
  } catch (thrown) {
    return failure(exec, node, input, n, startedAt, defectOf(node, thrown))
  }
  if (Exit.isExit(effect)) {
    if (Exit.isSuccess(effect)) return success(exec, node, input, n, startedAt, bare, effect.value, inline)
    // An interruption is not the node's failure: let the runtime handle it (the execution's end closes the trace).
    if (Cause.hasInterruptsOnly(effect.cause)) {
      exec.suspended(node, n, startedAt)
      return Effect.interrupt
    }
    return failure(exec, node, input, n, startedAt, errorOfCause(effect.cause, node))
  }
  exec.suspended(node, n, startedAt)
  if (node.timeoutMs !== undefined) {
    const timeoutMs = node.timeoutMs
    effect = Effect.timeoutOrElse(effect, {
      duration: timeoutMs,
      orElse: () => Effect.fail(new NodeTimeout({ nodeId: node.id, timeoutMs, retryable: true }))
    })
  }
  return Effect.matchCauseEffect(effect, {
    onSuccess: (value) => toEffect(success(exec, node, input, n, startedAt, bare, value, false)),
    onFailure: (cause) => {
      // Left active: the execution's end closes its trace.
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      return toEffect(failure(exec, node, input, n, startedAt, errorOfCause(cause, node)))
    }
  })
}

const toEffect = (outcome: Completion | Pending | Settled): Pending =>
  outcome instanceof Succeeded || outcome instanceof Failed
    ? Effect.succeed(outcome)
    : outcome === SETTLED
      ? Effect.die(new Error("engine: an attempt settled inline outside the walk")) // unreachable: inline is false there
      : outcome

const success = (
  exec: Execution,
  node: PlanNode,
  input: unknown,
  n: number,
  startedAt: number,
  bare: boolean,
  value: unknown,
  inline: boolean
): Succeeded | Failed | Pending | Settled => {
  const emitted = bare ? BARE : normalizeEmission(node, value)
  if (typeof emitted === "string") {
    return failure(
      exec,
      node,
      input,
      n,
      startedAt,
      new NodeDefect({ nodeId: node.id, defect: emitted, retryable: false })
    )
  }
  if (exec.activeAttempt !== undefined) exec.activeAttempt[node.index] = 0
  const events = exec.events
  if (events.enabled) {
    const now = performance.now()
    exec.lastRead = now
    exec.emit(
      succeededEvent(
        exec,
        node,
        n,
        now,
        now - startedAt,
        emitted === BARE || (emitted.length === 1 && emitted[0]!.port === "out")
          ? OUT_PORTS
          : emitted.map((e) => e.port),
        emitted === BARE ? value : emitted.length === 1 ? emitted[0]!.value : emitted
      )
    )
  }
  if (inline) {
    exec.succeeded(node, emitted, value)
    return SETTLED
  }
  return new Succeeded(node, emitted, value)
}

/** Settles a failed attempt: a final failure, or a `NodeFailed` with `willRetry` and the next attempt after the backoff. */
const failure = (
  exec: Execution,
  node: PlanNode,
  input: unknown,
  n: number,
  startedAt: number,
  error: unknown
): Completion | Pending => {
  let retryable = false
  try {
    retryable = node.definition.isRetryable(error)
  } catch {
    retryable = false
  }
  const willRetry = retryable && n < (node.retry?.maxAttempts ?? 1)
  if (exec.activeAttempt !== undefined) exec.activeAttempt[node.index] = 0
  const info = safeInfo(error)
  if (exec.events.enabled) {
    const now = performance.now()
    exec.lastRead = now
    const event = nodeEvent(exec, "NodeFailed", node, n, now) as Mutable<NodeFailedEvent>
    event.durationMs = now - startedAt
    event.error = info
    event.willRetry = willRetry
    event.handled = !willRetry && node.hasErrorEdges
    exec.emit(event)
  }
  if (willRetry) {
    const policy = node.retry!
    const delay = backoffMillis(policy, n)
    return (
      policy.jitter === false ? Effect.succeed(delay) : Effect.map(Random.next, (r) => Math.round(delay * r))
    ).pipe(
      Effect.flatMap((wait: number) => (wait > 0 ? Effect.sleep(wait) : Effect.void)),
      Effect.flatMap(() => toEffect(attempt(exec, node, input, n + 1, false)))
    )
  }
  return new Failed(
    node,
    new NodeFailed({
      flowId: exec.plan.flowId,
      executionId: exec.executionId,
      nodeId: node.id,
      nodeType: node.definition.type,
      attempts: n,
      error: info,
      cause: error
    }),
    { node: node.id, type: node.definition.type, attempts: n, error: info, input }
  )
}

/** Applies a completion; returns the error that ends the execution, if any. */
const apply = (exec: Execution, completion: Completion): FlowErrorValue | undefined => {
  if (completion instanceof Succeeded) {
    exec.succeeded(completion.node, completion.emitted, completion.value)
    return undefined
  }
  if (completion.failure !== undefined && completion.node.hasErrorEdges) {
    exec.succeeded(completion.node, [{ port: "error", value: completion.failure }])
    return undefined
  }
  return completion.error
}

const settle = (exec: Execution, completion: Completion): Effect.Effect<void, FlowErrorValue, unknown> => {
  const error = apply(exec, completion)
  return error === undefined ? walk(exec) : Effect.fail(error)
}

/**
 * Drives the execution through its suspending nodes until nothing is ready or running. Written as a loop of
 * combinators, not a generator: a generator costs microseconds per step.
 */
const walk = (exec: Execution): Effect.Effect<void, FlowErrorValue, unknown> => {
  const error = exec.drain()
  if (error !== undefined) return Effect.fail(error)
  const pending = exec.pending
  if (pending.length > 0) {
    if (exec.running === 0 && pending.length === 1 && (exec.ready.length === 0 || exec.plan.concurrency === 1)) {
      // Nothing else can run meanwhile: run it inline instead of forking.
      return Effect.flatMap(pending.pop()!, (completion) => settle(exec, completion))
    }
    const toLaunch = pending.splice(0)
    exec.running += toLaunch.length
    const fork = (queue: Queue.Queue<Completion>) =>
      Effect.forEach(
        toLaunch,
        (effect) =>
          Effect.forkChild(
            Effect.flatMap(effect, (c) => Queue.offer(queue, c)),
            { startImmediately: true }
          ),
        { discard: true }
      )
    const launched =
      exec.done === undefined
        ? Effect.flatMap(Queue.unbounded<Completion>(), (queue) => {
            exec.done = queue
            return fork(queue)
          })
        : fork(exec.done)
    return Effect.flatMap(launched, () => walk(exec))
  }
  if (exec.mustYield) {
    exec.mustYield = false
    exec.burst = 0
    return Effect.flatMap(Effect.yieldNow, () => walk(exec))
  }
  if (exec.running === 0) return Effect.void
  return Effect.flatMap(Queue.take(exec.done!), (completion) => {
    exec.running--
    return settle(exec, completion)
  })
}

const INTERRUPTED: ErrorInfo = {
  _tag: "Interrupted",
  message: "the execution was interrupted while the node ran",
  retryable: false
}

const emitFinished = (
  exec: Execution,
  status: "succeeded" | "failed" | "interrupted",
  durationMs: number,
  error?: unknown,
  output?: unknown
) => {
  const events = exec.events
  if (exec.finished) return
  exec.finished = true
  if (!events.enabled) return
  const event = exec.executionEvent("ExecutionFinished", exec.started + durationMs) as Mutable<ExecutionFinished>
  event.durationMs = durationMs
  event.status = status
  event.steps = exec.steps
  if (error !== undefined) event.error = safeInfo(error)
  if (output !== undefined && events.snapshots !== "none") event.output = snapshot(events.snapshots, output)
  exec.emit(event)
}

const succeedExecution = (exec: Execution, now = performance.now()): Effect.Effect<ExecutionResult> => {
  const output = exec.result()
  const durationMs = now - exec.started
  emitFinished(exec, "succeeded", durationMs, undefined, output)
  return Effect.succeed({ executionId: exec.executionId, output, reply: exec.reply, steps: exec.steps, durationMs })
}

const failExecution = (exec: Execution, error: FlowErrorValue): Effect.Effect<never, FlowErrorValue> => {
  exec.closeActive(
    error._tag === "FlowTimeout"
      ? { _tag: "FlowTimeout", message: error.message, retryable: false }
      : {
          _tag: "Interrupted",
          message: `the execution failed${"nodeId" in error ? ` at node "${error.nodeId}"` : ""} while the node ran`,
          retryable: false
        }
  )
  emitFinished(exec, "failed", performance.now() - exec.started, error)
  return Effect.fail(error)
}

/** The rest of an execution once a node suspended: the Effect-driven walk, under the flow's time limit. */
const runSuspended = (exec: Execution): Effect.Effect<ExecutionResult, FlowErrorValue, unknown> => {
  const plan = exec.plan
  const remaining = Math.max(0, Math.ceil(plan.timeoutMs - (performance.now() - exec.started)))
  return walk(exec).pipe(
    Effect.timeoutOrElse({
      duration: remaining,
      orElse: () =>
        Effect.fail(new FlowTimeout({ flowId: plan.flowId, executionId: exec.executionId, timeoutMs: plan.timeoutMs }))
    }),
    Effect.matchCauseEffect({
      onSuccess: () => succeedExecution(exec),
      onFailure: (cause): Effect.Effect<never, FlowErrorValue> => {
        if (Cause.hasInterruptsOnly(cause)) {
          interrupted(exec)
          return Effect.interrupt
        }
        const found = Cause.findError(cause)
        if (found._tag === "Success") return failExecution(exec, found.success)
        exec.closeActive(INTERRUPTED)
        emitFinished(exec, "failed", performance.now() - exec.started, Cause.squash(cause))
        return Effect.failCause(cause)
      }
    }),
    // Interrupted from outside: the handlers above do not run, this does.
    Effect.onInterrupt(() => Effect.sync(() => interrupted(exec)))
  )
}

const interrupted = (exec: Execution) => {
  if (exec.finished) return
  exec.closeActive(INTERRUPTED)
  emitFinished(exec, "interrupted", performance.now() - exec.started)
}

const emitStarted = (exec: Execution, input: unknown, options: RunOptions) => {
  const events = exec.events
  // Built by assignment, not spreads: this runs for every execution.
  const event = exec.executionEvent("ExecutionStarted", exec.started) as Mutable<ExecutionStarted>
  event.trigger = exec.plan.trigger
  if (options.parent) {
    event.parentExecutionId = options.parent.executionId
    event.parentNodeId = options.parent.nodeId
  }
  if (options.replayOf) event.replayOf = options.replayOf
  event.snapshots = events.snapshots
  // What a replay needs besides the input, recorded with the values only. Child executions (for-each items,
  // sub-flows) inherit both from their parent and are replayed through it: not copied into every item.
  if (events.snapshots === "full" && options.parent === undefined) {
    if (options.trigger !== undefined) event.triggerData = options.trigger
    if (options.variables !== undefined && Object.keys(options.variables).length > 0) {
      event.variables = { ...options.variables }
    }
  }
  if (events.snapshots !== "none") event.input = snapshot(events.snapshots, input)
  exec.emit(event)
}

/** Runs a plan for one execution. */
export const runPlan = (
  plan: Plan,
  input: unknown,
  options: RunOptions
): Effect.Effect<ExecutionResult, FlowErrorValue, unknown> =>
  Effect.flatMap(Effect.service(FlowEvents), (events) => {
    const executionId = options.executionId ?? crypto.randomUUID()
    const exec = new Execution(plan, executionId, events, options, options.trigger ?? input)
    if (events.enabled) emitStarted(exec, input, options)
    if (options.startAt !== undefined) {
      const startAt = options.startAt
      const node = plan.nodes.find((n) => n.id === startAt.nodeId)
      if (node === undefined) {
        return failExecution(
          exec,
          new InputInvalid({
            flowId: plan.flowId,
            executionId,
            nodeId: startAt.nodeId,
            port: "in",
            path: "",
            problem: `startAt names node "${startAt.nodeId}", which flow "${plan.flowId}" does not have`
          })
        )
      }
      exec.ready.push({ node, input: startAt.input, skip: false })
    } else {
      for (const e of plan.inputEdges) exec.resolve(e, EDGE_VALUE, input)
    }
    // The synchronous stretch first: most executions of pure nodes end here, with no timer armed. The first
    // node starts as the execution does, and a synchronous end is the last event's time (no extra clock read).
    exec.lastRead = exec.started
    const error = exec.drain(exec.started)
    if (error !== undefined) return failExecution(exec, error)
    if (exec.pending.length === 0 && exec.ready.length === 0 && !exec.mustYield) {
      return succeedExecution(exec, events.enabled ? exec.lastRead : performance.now())
    }
    return runSuspended(exec)
  })
