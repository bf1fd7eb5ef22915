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
import { type FlowEvent, FlowEvents, type FlowEventsShape } from "../FlowEvents.ts"
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

// Edge states: 0 pending (the initial value of the array), 1 carries a value, 2 dead.
const EDGE_VALUE = 1
const EDGE_DEAD = 2

const snapshot = (policy: FlowEventsShape["snapshots"], value: unknown): unknown => {
  if (policy === "full") return value
  if (value === null) return { type: "null" }
  if (Array.isArray(value)) return { type: "array", length: value.length }
  if (typeof value === "object") return { type: "object", keys: Object.keys(value as object).length }
  if (typeof value === "string") return { type: "string", length: value.length }
  return { type: typeof value }
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

/** Runs one node to completion: input check, attempts with retry and timeout, events. Never fails. */
const invoke = (exec: Execution, node: PlanNode, rawInput: unknown): Effect.Effect<Completion, never, unknown> =>
  Effect.gen(function* () {
    const plan = exec.plan
    const definition = node.definition
    let input = rawInput
    if (node.checkInput) {
      const decoded = Validation.decode(definition.input, rawInput)
      if (decoded._tag === "Invalid") {
        const issue = decoded.issues[0]!
        return {
          _tag: "Failed",
          node,
          failure: undefined,
          error: new InputInvalid({
            flowId: plan.flowId,
            executionId: exec.executionId,
            nodeId: node.id,
            port: "in",
            path: issue.path,
            problem: decoded.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
          })
        } satisfies Completion
      }
      input = decoded.value
    }
    const maxAttempts = node.retry?.maxAttempts ?? 1
    const events = exec.events
    for (let attempt = 1; ; attempt++) {
      const startedAt = performance.now()
      if (events.enabled) {
        exec.emit({
          _tag: "NodeStarted",
          ...exec.nextEvent(),
          nodeId: node.id,
          nodeType: definition.type,
          attempt,
          ...(events.snapshots === "none" ? {} : { input: snapshot(events.snapshots, input) })
        })
      }
      const context: NodeContext = {
        executionId: exec.executionId,
        flowId: plan.flowId,
        flowVersion: plan.flowVersion,
        nodeId: node.id,
        nodeType: definition.type,
        attempt,
        trigger: exec.trigger,
        variables: exec.variables,
        setVariable: (name, value) => {
          exec.variables[name] = value
        },
        outputOf: (nodeId, port) => exec.outputOf(nodeId, port),
        reply: (reply) => {
          if (exec.reply !== undefined) return false
          exec.reply = reply
          return true
        },
        runSubflow: (subInput) =>
          node.subplan === undefined
            ? Effect.die(new Error(`node "${node.id}" has no sub-flow`))
            : // The sub-flow's nodes come from the same registry: the services they need are the parent's.
              (Effect.map(
                runPlan(node.subplan, subInput, {
                  parent: { executionId: exec.executionId, nodeId: node.id },
                  trigger: exec.trigger,
                  variables: exec.variables
                }),
                (result) => result.output
              ) as Effect.Effect<unknown, unknown>)
      }
      let effect: Effect.Effect<unknown, unknown, unknown>
      try {
        effect = definition.run(input, node.config, context)
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
      const exit = yield* Effect.exit(effect)
      const durationMs = performance.now() - startedAt
      if (Exit.isSuccess(exit)) {
        const emitted = normalizeEmission(node, exit.value)
        if (typeof emitted !== "string") {
          if (events.enabled) {
            exec.emit({
              _tag: "NodeSucceeded",
              ...exec.nextEvent(),
              nodeId: node.id,
              nodeType: definition.type,
              attempt,
              durationMs,
              ports: emitted.map((e) => e.port),
              ...(events.snapshots === "none"
                ? {}
                : { output: snapshot(events.snapshots, emitted.length === 1 ? emitted[0]!.value : emitted) })
            })
          }
          return { _tag: "Succeeded", node, emitted } satisfies Completion
        }
        return yield* failed(
          exec,
          node,
          input,
          attempt,
          durationMs,
          new NodeDefect({ nodeId: node.id, defect: emitted, retryable: false }),
          false
        )
      }
      if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
      const error = errorOfCause(exit.cause, node)
      let retryable = false
      try {
        retryable = definition.isRetryable(error)
      } catch {
        retryable = false
      }
      const willRetry = retryable && attempt < maxAttempts
      if (!willRetry) return yield* failed(exec, node, input, attempt, durationMs, error, false)
      yield* failed(exec, node, input, attempt, durationMs, error, true)
      let delay = backoffMillis(node.retry!, attempt)
      if (node.retry!.jitter !== false) delay = Math.round(delay * (yield* Random.next))
      if (delay > 0) yield* Effect.sleep(delay)
    }
  })

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

const walk = (exec: Execution): Effect.Effect<void, FlowErrorValue, unknown> =>
  Effect.gen(function* () {
    const plan = exec.plan
    let running = 0
    let done: Queue.Queue<Completion> | undefined
    while (true) {
      while (exec.ready.length > 0 && running < plan.concurrency) {
        const { node, input, skip } = exec.ready.shift()!
        if (skip) {
          exec.skip(node)
          continue
        }
        if (++exec.steps > plan.maxSteps) {
          return yield* new MaxStepsExceeded({
            flowId: plan.flowId,
            executionId: exec.executionId,
            maxSteps: plan.maxSteps,
            nodeId: node.id
          })
        }
        if (running === 0 && exec.ready.length === 0) {
          // The common linear case: nothing else can run, so run inline instead of forking.
          const error = apply(exec, yield* invoke(exec, node, input))
          if (error !== undefined) return yield* Effect.fail(error)
          continue
        }
        done ??= yield* Queue.unbounded<Completion>()
        const queue = done
        running++
        yield* Effect.forkChild(
          Effect.flatMap(invoke(exec, node, input), (c) => Queue.offer(queue, c)),
          {
            startImmediately: true
          }
        )
      }
      if (running === 0) return
      const completion = yield* Queue.take(done!)
      running--
      const error = apply(exec, completion)
      // Returning fails this fiber; its forked children (other running nodes) are interrupted with it.
      if (error !== undefined) return yield* Effect.fail(error)
    }
  })

/** Runs a plan for one execution. */
export const runPlan = (
  plan: Plan,
  input: unknown,
  options: RunOptions
): Effect.Effect<ExecutionResult, FlowErrorValue, unknown> =>
  Effect.gen(function* () {
    const events = yield* FlowEvents
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
      if (node === undefined) return yield* Effect.die(new Error(`startAt: unknown node "${options.startAt.nodeId}"`))
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
    const outcome = yield* walk(exec).pipe(
      Effect.timeoutOrElse({
        duration: plan.timeoutMs,
        orElse: () => Effect.fail(new FlowTimeout({ flowId: plan.flowId, executionId, timeoutMs: plan.timeoutMs }))
      }),
      Effect.exit
    )
    if (Exit.isSuccess(outcome)) {
      const output = exec.result()
      finish("succeeded", undefined, output)
      return {
        executionId,
        output,
        reply: exec.reply,
        steps: exec.steps,
        durationMs: Date.now() - exec.started
      }
    }
    if (Cause.hasInterruptsOnly(outcome.cause)) {
      finish("interrupted")
      return yield* Effect.interrupt
    }
    const error = Cause.findError(outcome.cause)
    finish("failed", error._tag === "Success" ? error.success : Cause.squash(outcome.cause))
    return yield* Effect.failCause(outcome.cause as Cause.Cause<FlowErrorValue>)
  })
