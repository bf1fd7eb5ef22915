/**
 * The engine: walks a compiled plan for one execution.
 *
 * Acyclic flows are walked by readiness: a node runs once every incoming edge is resolved (carrying a value,
 * or dead because its source port did not emit or its source was skipped); with no active input it is
 * skipped and its outputs die, which is how branches not taken are skipped and how joins wait for all
 * active inputs. Flows with `allowCycles` run as a state machine instead: every value arriving on an edge
 * activates its target (nFlow semantics), bounded by `maxSteps`. Independent ready nodes run concurrently up
 * to `concurrency`; a lone ready node runs inline without forking a fiber.
 *
 * @module engine
 */
import { Cause, Effect, Queue, Random } from "effect"
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
  type FlowEvent,
  FlowEvents,
  type FlowEventsShape,
  type NodeStarted,
  type NodeSucceeded
} from "../FlowEvents.ts"
import type * as Ir from "../Ir.ts"
import type { NodeContext, NodeFailure, Reply } from "../Node.ts"
import * as Validation from "../Validation.ts"
import type { Plan, PlanNode } from "./plan.ts"

type FlowErrorValue = NodeFailed | FlowTimeout | MaxStepsExceeded | InputInvalid

interface Emitted {
  readonly port: string
  readonly value: unknown
}

type Completion =
  | { readonly _tag: "Succeeded"; readonly node: PlanNode; readonly emitted: ReadonlyArray<Emitted> }
  | {
      readonly _tag: "Failed"
      readonly node: PlanNode
      readonly error: FlowErrorValue
      readonly failure: NodeFailure | undefined
    }

const OUT_PORTS: ReadonlyArray<string> = Object.freeze(["out"])

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

class Execution {
  readonly edgeState: Uint8Array
  readonly edgeValue: Array<unknown>
  readonly remaining: Int32Array
  readonly lastEmitted: Array<ReadonlyArray<Emitted> | undefined>
  readonly variables: Record<string, unknown>
  reply: Reply | undefined = undefined
  steps = 0
  seq = 0
  readonly started = Date.now()
  readonly ready: Array<{ readonly node: PlanNode; readonly input: unknown; readonly skip: boolean }> = []

  readonly plan: Plan
  readonly executionId: string
  readonly events: FlowEventsShape
  readonly trigger: unknown

  constructor(plan: Plan, executionId: string, events: FlowEventsShape, options: RunOptions, trigger: unknown) {
    this.plan = plan
    this.executionId = executionId
    this.events = events
    this.trigger = trigger
    this.edgeState = new Uint8Array(plan.edges.length)
    this.edgeValue = new Array(plan.edges.length)
    this.remaining = new Int32Array(plan.nodes.length)
    for (const node of plan.nodes) this.remaining[node.index] = node.inEdges.length
    this.lastEmitted = new Array(plan.nodes.length)
    this.variables = Object.assign(Object.create(null) as Record<string, unknown>, options.variables)
  }

  emit(event: FlowEvent) {
    this.events.emit(event)
  }

  nextEvent() {
    const seq = this.seq++
    return {
      eventId: `${this.executionId}:${seq}`,
      seq,
      executionId: this.executionId,
      flowId: this.plan.flowId,
      flowVersion: this.plan.flowVersion,
      at: Date.now()
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
      this.emit({ _tag: "NodeSkipped", ...this.nextEvent(), nodeId: node.id, nodeType: node.definition.type })
    }
    for (const e of node.outEdges) this.resolve(e, EDGE_DEAD)
  }

  succeeded(node: PlanNode, emitted: ReadonlyArray<Emitted>) {
    this.lastEmitted[node.index] = emitted
    for (const [port, edges] of node.outByPort) {
      let found: Emitted | undefined
      for (const e of emitted) {
        if (e.port === port) {
          found = e
          break
        }
      }
      for (const edge of edges) {
        if (found === undefined) this.resolve(edge, EDGE_DEAD)
        else this.resolve(edge, EDGE_VALUE, found.value)
      }
    }
  }

  outputOf(nodeId: string, port?: string): unknown {
    const node = this.plan.nodes.find((n) => n.id === nodeId)
    const emitted = node === undefined ? undefined : this.lastEmitted[node.index]
    if (emitted === undefined) return undefined
    if (port === undefined) return emitted[0]?.value
    return emitted.find((e) => e.port === port)?.value
  }

  result(): unknown {
    const plan = this.plan
    if (plan.output !== undefined) {
      return this.lastEmitted[plan.output.node]?.find((e) => e.port === plan.output!.port)?.value
    }
    const out: Record<string, unknown> = {}
    for (const index of plan.sinks) {
      const emitted = this.lastEmitted[index]
      if (emitted !== undefined && emitted.length > 0) out[plan.nodes[index]!.id] = emitted[0]!.value
    }
    return out
  }
}

const backoffMillis = (policy: Ir.RetryPolicy, attempt: number) =>
  Math.min(policy.maxDelayMs ?? 30_000, (policy.initialDelayMs ?? 100) * (policy.factor ?? 2) ** (attempt - 1))

const errorOfCause = (cause: Cause.Cause<unknown>, node: PlanNode): unknown => {
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) return reason.error
  }
  for (const reason of cause.reasons) {
    if (Cause.isDieReason(reason)) {
      const defect = reason.defect
      return new NodeDefect({
        nodeId: node.id,
        defect: defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect),
        retryable: false
      })
    }
  }
  return new NodeDefect({ nodeId: node.id, defect: "unknown failure", retryable: false })
}

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
 * The fields every node event has, in one object literal (no spread, which is slow on this path: it runs
 * twice per node); the caller adds the fields of its event type.
 */
const nodeEvent = (exec: Execution, tag: "NodeStarted" | "NodeSucceeded", node: PlanNode, attempt: number) => {
  const seq = exec.seq++
  return {
    _tag: tag,
    eventId: `${exec.executionId}:${seq}`,
    seq,
    executionId: exec.executionId,
    flowId: exec.plan.flowId,
    flowVersion: exec.plan.flowVersion,
    at: Date.now(),
    nodeId: node.id,
    nodeType: node.definition.type,
    attempt
  }
}

/** Runs one node to completion: input check, attempts with retry and timeout, events. Never fails. */
const invoke = (exec: Execution, node: PlanNode, rawInput: unknown): Effect.Effect<Completion, never, unknown> => {
  if (!node.checkInput) return attempt(exec, node, rawInput, 1)
  const decoded = Validation.decode(node.definition.input, rawInput)
  if (decoded._tag === "Valid") return attempt(exec, node, decoded.value, 1)
  const issue = decoded.issues[0]!
  return Effect.succeed({
    _tag: "Failed",
    node,
    failure: undefined,
    error: new InputInvalid({
      flowId: exec.plan.flowId,
      executionId: exec.executionId,
      nodeId: node.id,
      port: "in",
      path: issue.path,
      problem: decoded.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
    })
  })
}

// Written with combinators, not Effect.gen: this runs once per node and a generator costs microseconds.
const attempt = (
  exec: Execution,
  node: PlanNode,
  input: unknown,
  n: number
): Effect.Effect<Completion, never, unknown> => {
  const definition = node.definition
  const events = exec.events
  const startedAt = performance.now()
  if (events.enabled) {
    const event = nodeEvent(exec, "NodeStarted", node, n) as Mutable<NodeStarted>
    if (events.snapshots !== "none") event.input = snapshot(events.snapshots, input)
    exec.emit(event)
  }
  const context = new AttemptContext(exec, node, n)
  const bare = definition.runValue !== undefined
  let effect: Effect.Effect<unknown, unknown, unknown>
  try {
    effect = bare ? definition.runValue!(input, node.config, context) : definition.run(input, node.config, context)
  } catch (thrown) {
    effect = Effect.die(thrown)
  }
  if (node.timeoutMs !== undefined) {
    const timeoutMs = node.timeoutMs
    effect = Effect.timeoutOrElse(effect, {
      duration: timeoutMs,
      orElse: () => Effect.fail(new NodeTimeout({ nodeId: node.id, timeoutMs, retryable: true }))
    })
  }
  return Effect.matchCauseEffect(effect, {
    onSuccess: (value): Effect.Effect<Completion> => {
      const durationMs = performance.now() - startedAt
      const emitted = bare ? [{ port: "out", value }] : normalizeEmission(node, value)
      if (typeof emitted === "string") {
        return failed(
          exec,
          node,
          input,
          n,
          durationMs,
          new NodeDefect({ nodeId: node.id, defect: emitted, retryable: false }),
          false
        )
      }
      if (events.enabled) {
        const event = nodeEvent(exec, "NodeSucceeded", node, n) as Mutable<NodeSucceeded>
        event.durationMs = durationMs
        event.ports = emitted.length === 1 && emitted[0]!.port === "out" ? OUT_PORTS : emitted.map((e) => e.port)
        if (events.snapshots !== "none") {
          event.output = snapshot(events.snapshots, emitted.length === 1 ? emitted[0]!.value : emitted)
        }
        exec.emit(event)
      }
      return Effect.succeed({ _tag: "Succeeded", node, emitted })
    },
    onFailure: (cause): Effect.Effect<Completion, never, unknown> => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      const durationMs = performance.now() - startedAt
      const error = errorOfCause(cause, node)
      let retryable = false
      try {
        retryable = definition.isRetryable(error)
      } catch {
        retryable = false
      }
      if (!retryable || n >= (node.retry?.maxAttempts ?? 1))
        return failed(exec, node, input, n, durationMs, error, false)
      const delay = backoffMillis(node.retry!, n)
      return failed(exec, node, input, n, durationMs, error, true).pipe(
        Effect.andThen(
          node.retry!.jitter === false ? Effect.succeed(delay) : Effect.map(Random.next, (r) => Math.round(delay * r))
        ),
        Effect.flatMap((wait: number) => (wait > 0 ? Effect.sleep(wait) : Effect.void)),
        Effect.andThen(Effect.suspend(() => attempt(exec, node, input, n + 1)))
      )
    }
  })
}

const failed = (
  exec: Execution,
  node: PlanNode,
  input: unknown,
  attempt: number,
  durationMs: number,
  error: unknown,
  willRetry: boolean
): Effect.Effect<Completion> =>
  Effect.sync(() => {
    const info = safeInfo(error)
    if (exec.events.enabled) {
      exec.emit({
        _tag: "NodeFailed",
        ...exec.nextEvent(),
        nodeId: node.id,
        nodeType: node.definition.type,
        attempt,
        durationMs,
        error: info,
        willRetry,
        handled: !willRetry && node.hasErrorEdges
      })
    }
    return {
      _tag: "Failed",
      node,
      failure: { node: node.id, type: node.definition.type, attempts: attempt, error: info, input },
      error: new NodeFailed({
        flowId: exec.plan.flowId,
        executionId: exec.executionId,
        nodeId: node.id,
        nodeType: node.definition.type,
        attempts: attempt,
        error: info,
        cause: error
      })
    } satisfies Completion
  })

/** Applies a completion; returns the error that ends the execution, if any. */
const apply = (exec: Execution, completion: Completion): FlowErrorValue | undefined => {
  if (completion._tag === "Succeeded") {
    exec.succeeded(completion.node, completion.emitted)
    return undefined
  }
  if (completion.failure !== undefined && completion.node.hasErrorEdges) {
    exec.succeeded(completion.node, [{ port: "error", value: completion.failure }])
    return undefined
  }
  return completion.error
}

interface WalkState {
  running: number
  done: Queue.Queue<Completion> | undefined
}

/**
 * Drives the execution until nothing is ready or running. Written as a loop of combinators, not a
 * generator: it runs once per node. A lone ready node runs inline; several are forked as children of this
 * fiber, so failing here interrupts the ones still running.
 */
const walk = (exec: Execution, state: WalkState): Effect.Effect<void, FlowErrorValue, unknown> => {
  const plan = exec.plan
  let launch: Array<{ readonly node: PlanNode; readonly input: unknown }> | undefined
  while (exec.ready.length > 0 && state.running + (launch?.length ?? 0) < plan.concurrency) {
    const { node, input, skip } = exec.ready.shift()!
    if (skip) {
      exec.skip(node)
      continue
    }
    if (++exec.steps > plan.maxSteps) {
      return Effect.fail(
        new MaxStepsExceeded({
          flowId: plan.flowId,
          executionId: exec.executionId,
          maxSteps: plan.maxSteps,
          nodeId: node.id
        })
      )
    }
    if (state.running === 0 && launch === undefined && exec.ready.length === 0) {
      // The common linear case: nothing else can run, so run inline instead of forking.
      return Effect.flatMap(invoke(exec, node, input), (completion) => {
        const error = apply(exec, completion)
        return error === undefined ? walk(exec, state) : Effect.fail(error)
      })
    }
    launch ??= []
    launch.push({ node, input })
  }
  if (launch !== undefined) {
    const toLaunch = launch
    state.running += toLaunch.length
    const fork = (queue: Queue.Queue<Completion>) =>
      Effect.forEach(
        toLaunch,
        ({ node, input }) =>
          Effect.forkChild(
            Effect.flatMap(invoke(exec, node, input), (c) => Queue.offer(queue, c)),
            {
              startImmediately: true
            }
          ),
        { discard: true }
      )
    const queued =
      state.done === undefined
        ? Effect.flatMap(Queue.unbounded<Completion>(), (queue) => {
            state.done = queue
            return fork(queue)
          })
        : fork(state.done)
    return Effect.flatMap(queued, () => walk(exec, state))
  }
  if (state.running === 0) return Effect.void
  return Effect.flatMap(Queue.take(state.done!), (completion) => {
    state.running--
    const error = apply(exec, completion)
    return error === undefined ? walk(exec, state) : Effect.fail(error)
  })
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
    if (events.enabled) {
      exec.emit({
        _tag: "ExecutionStarted",
        ...exec.nextEvent(),
        trigger: plan.trigger,
        ...(options.parent
          ? { parentExecutionId: options.parent.executionId, parentNodeId: options.parent.nodeId }
          : {}),
        ...(options.replayOf ? { replayOf: options.replayOf } : {}),
        ...(events.snapshots === "none" ? {} : { input: snapshot(events.snapshots, input) })
      })
    }
    if (options.startAt !== undefined) {
      const node = plan.nodes.find((n) => n.id === options.startAt!.nodeId)
      if (node === undefined) return Effect.die(new Error(`startAt: unknown node "${options.startAt.nodeId}"`))
      exec.ready.push({ node, input: options.startAt.input, skip: false })
    } else {
      for (const e of plan.inputEdges) exec.resolve(e, EDGE_VALUE, input)
    }
    const finish = (status: "succeeded" | "failed" | "interrupted", error?: unknown, output?: unknown) => {
      if (!events.enabled) return
      exec.emit({
        _tag: "ExecutionFinished",
        ...exec.nextEvent(),
        durationMs: Date.now() - exec.started,
        status,
        steps: exec.steps,
        ...(error === undefined ? {} : { error: safeInfo(error) }),
        ...(output === undefined || events.snapshots === "none" ? {} : { output: snapshot(events.snapshots, output) })
      })
    }
    return walk(exec, { running: 0, done: undefined }).pipe(
      Effect.timeoutOrElse({
        duration: plan.timeoutMs,
        orElse: () => Effect.fail(new FlowTimeout({ flowId: plan.flowId, executionId, timeoutMs: plan.timeoutMs }))
      }),
      Effect.matchCauseEffect({
        onSuccess: (): Effect.Effect<ExecutionResult> => {
          const output = exec.result()
          finish("succeeded", undefined, output)
          return Effect.succeed({
            executionId,
            output,
            reply: exec.reply,
            steps: exec.steps,
            durationMs: Date.now() - exec.started
          })
        },
        onFailure: (cause): Effect.Effect<never, FlowErrorValue> => {
          if (Cause.hasInterruptsOnly(cause)) {
            finish("interrupted")
            return Effect.interrupt
          }
          const error = Cause.findError(cause)
          finish("failed", error._tag === "Success" ? error.success : Cause.squash(cause))
          return Effect.failCause(cause)
        }
      })
    )
  })
