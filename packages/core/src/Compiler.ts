/**
 * The compiler: validates a flow IR against a registry, reporting **all** problems at once (each with the
 * node id, the port and a JSON Pointer into the IR), and turns it into an executable {@link CompiledFlow}.
 *
 * Checks: the IR's own shape, unknown node types, configs that fail their Schema, dangling edges and ports,
 * cycles (unless `settings.allowCycles`), unreachable nodes (warning), and port compatibility
 * (see {@link Compatibility}).
 *
 * @module Compiler
 */
import { Effect, Schema } from "effect"
import * as Compatibility from "./Compatibility.ts"
import type * as FlowError from "./FlowError.ts"
import * as Ir from "./Ir.ts"
import { runPlan } from "./internal/engine.ts"
import type { Plan, PlanEdge, PlanNode } from "./internal/plan.ts"
import type * as Node from "./Node.ts"
import { NodeFailure } from "./Node.ts"
import * as Registry from "./Registry.ts"
import * as Validation from "./Validation.ts"

/** One finding of the compiler. `path` is a JSON Pointer into the flow IR. */
export interface Problem {
  readonly severity: "error" | "warning"
  readonly code:
    | "invalid-flow"
    | "unknown-node-type"
    | "duplicate-type"
    | "invalid-node-id"
    | "invalid-config"
    | "dangling-edge"
    | "unknown-port"
    | "duplicate-edge"
    | "port-mismatch"
    | "missing-input"
    | "ambiguous-input"
    | "cycle"
    | "unreachable"
    | "unknown-flow"
    | "invalid-output"
  readonly message: string
  readonly path: string
  readonly nodeId?: string
  readonly port?: string
}

/**
 * The flow has errors; `problems` lists all of them (warnings included).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Compiler } from "@jsonflow/core"
 * declare const attempt: Effect.Effect<unknown, Compiler.CompileError>
 * attempt.pipe(Effect.catchTag("CompileError", (e) => Effect.succeed(e.problems.map((p) => `${p.path}: ${p.message}`))))
 * ```
 */
export class CompileError extends Schema.TaggedError<CompileError>()("CompileError", {
  flowId: Schema.String,
  problems: Schema.Array(
    Schema.Struct({
      severity: Schema.Literals(["error", "warning"]),
      code: Schema.String,
      message: Schema.String,
      path: Schema.String,
      nodeId: Schema.optionalKey(Schema.String),
      port: Schema.optionalKey(Schema.String)
    })
  )
}) {
  override get message() {
    const errors = this.problems.filter((p) => p.severity === "error")
    return `flow "${this.flowId}" has ${errors.length} problem(s):\n${errors.map((p) => `  ${p.path || "/"}: ${p.message}`).join("\n")}`
  }
}

/** Options of one execution. */
export interface RunOptions {
  /** Defaults to a random UUID. */
  readonly executionId?: string
  /** Trigger data (the HTTP request, the cron tick); defaults to the input. */
  readonly trigger?: unknown
  /** Initial execution variables. */
  readonly variables?: Readonly<Record<string, unknown>>
  /** Links a child execution (for-each item, sub-flow) to its parent. */
  readonly parent?: { readonly executionId: string; readonly nodeId: string }
  /** Marks the execution as a replay of another one. */
  readonly replayOf?: string
  /** Start at this node with this input instead of at the flow input (replay from a node). */
  readonly startAt?: { readonly nodeId: string; readonly input: unknown }
}

/** What a successful execution returns. */
export interface ExecutionResult<O = unknown> {
  readonly executionId: string
  /** The value on the flow's output port; without a declared output, the outputs of the nodes that ended the flow by node id. */
  readonly output: O
  /** The reply a respond node set, if any. */
  readonly reply: Node.Reply | undefined
  readonly steps: number
  readonly durationMs: number
}

/** A compiled, runnable flow. `R` is the union of the services its nodes need. */
export interface CompiledFlow<R, O = unknown> {
  readonly flow: Ir.Flow
  readonly warnings: ReadonlyArray<Problem>
  /**
   * Runs one execution.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Compiler } from "@jsonflow/core"
   * declare const compiled: Compiler.CompiledFlow<never>
   * const result = await Effect.runPromise(compiled.run({ value: 21 }))
   * ```
   */
  readonly run: (input: unknown, options?: RunOptions) => Effect.Effect<ExecutionResult<O>, FlowError.FlowError, R>
}

/** Where sub-flows called by id come from. */
export interface CompileOptions {
  readonly flows?: Readonly<Record<string, Ir.Flow>>
  /**
   * The caller decodes every input against the flow's declared `input` before `run` (the builder's
   * `Flow.run` and the runner's triggers do). Then edges from the flow input are proven by it and the nodes
   * behind them skip their own input check. Otherwise (the default) those nodes check what they get: a value
   * that does not fit is an `InputInvalid` naming the node and port, never a node run on bad data.
   */
  readonly inputChecked?: boolean
}

interface Context {
  readonly registry: Registry.Registry<unknown>
  readonly options: CompileOptions
  readonly problems: Array<Problem>
  /** Flow ids being compiled (to stop sub-flow recursion). */
  readonly stack: ReadonlyArray<string>
}

const problem = (context: Context, p: Problem) => {
  context.problems.push(p)
}

const nodePath = (base: string, id: string) => `${base}/nodes/${Validation.escapeSegment(id)}`

const declaredPorts = (definition: Node.Any, config: unknown): ReadonlySet<string> => {
  const ports = new Set(Object.keys(definition.outputs))
  ports.add(Ir.ERROR_PORT)
  if (definition.dynamicPorts) {
    try {
      for (const port of definition.dynamicPorts(config)) ports.add(port)
    } catch {
      // A config the definition cannot read was already reported as invalid.
    }
  }
  return ports
}

/**
 * The input ports a join-mode definition declares (the properties of its input Schema), which of them are
 * required, and whether it takes other ports too (a record). Undefined when its input names no ports.
 */
const joinPortsOf = (
  definition: Node.Any
):
  | { readonly names: ReadonlyArray<string>; readonly required: ReadonlyArray<string>; readonly open: boolean }
  | undefined => {
  const schema = Registry.jsonSchemaOf(definition.input)
  if (typeof schema.properties !== "object" || schema.properties === null) return undefined
  return {
    names: Object.keys(schema.properties),
    required: Array.isArray(schema.required) ? (schema.required as ReadonlyArray<string>) : [],
    open: typeof schema.additionalProperties === "object" && schema.additionalProperties !== null
  }
}

const portSchemaOf = (definition: Node.Any, port: string): Registry.JsonSchema => {
  if (port === Ir.ERROR_PORT) return failureSchema()
  const schema = (definition.outputs as Record<string, Schema.Top | undefined>)[port]
  return schema === undefined ? {} : Registry.jsonSchemaOf(schema)
}

let failureSchemaCache: Registry.JsonSchema | undefined
const failureSchema = (): Registry.JsonSchema => {
  failureSchemaCache ??= Registry.jsonSchemaOf(NodeFailure)
  return failureSchemaCache
}

/** Settings of a graph: flows carry them, an inline body inherits its parent's. */
interface GraphHeader {
  /** Whether the value on the flow input was decoded against `input` before the run (see CompileOptions). */
  readonly inputChecked: boolean
  readonly flowId: string
  readonly flowVersion: string
  readonly trigger: string
  readonly input: Registry.JsonSchema | undefined
  readonly settings: ReturnType<typeof Ir.settingsOf>
}

const compileGraph = (graph: Ir.Graph, header: GraphHeader, base: string, context: Context): Plan | undefined => {
  const errorsBefore = context.problems.filter((p) => p.severity === "error").length
  const ids = Object.keys(graph.nodes)
  const indexOf = new Map(ids.map((id, index) => [id, index]))
  const configs: Array<unknown> = []
  // A config may decode to `undefined` (no config): validity is tracked separately.
  const configValid: Array<boolean> = []
  const definitions: Array<Node.Any | undefined> = []
  const subplans: Array<Plan | undefined> = []

  ids.forEach((id) => {
    const spec = graph.nodes[id]!
    const at = nodePath(base, id)
    if (!Schema.is(Ir.NodeId)(id)) {
      problem(context, {
        severity: "error",
        code: "invalid-node-id",
        message: `invalid node id "${id}": a node id starts with a letter or _ and holds only letters, digits, _, - and .`,
        path: at,
        nodeId: id
      })
    }
    const definition = Registry.get(context.registry, spec.type)
    definitions.push(definition)
    const rivals = context.registry.conflicts?.get(spec.type)
    if (rivals !== undefined) {
      problem(context, {
        severity: "error",
        code: "duplicate-type",
        message: `node type "${spec.type}" has ${rivals.length} different definitions in the registry (${rivals.map((d) => JSON.stringify(d.description || "no description")).join(", ")}), so which one runs is not known: give each its own type name, or replace one on purpose with Registry.override`,
        path: `${at}/type`,
        nodeId: id
      })
    }
    if (definition === undefined) {
      problem(context, {
        severity: "error",
        code: "unknown-node-type",
        message: `unknown node type "${spec.type}"`,
        path: `${at}/type`,
        nodeId: id
      })
      configs.push(undefined)
      configValid.push(false)
      subplans.push(undefined)
      return
    }
    const decoded = Validation.decode(definition.config, spec.config, { strict: true })
    if (decoded._tag === "Invalid") {
      for (const issue of decoded.issues) {
        problem(context, {
          severity: "error",
          code: "invalid-config",
          message: issue.message,
          path: `${at}/config${issue.path}`,
          nodeId: id
        })
      }
      configs.push(undefined)
      configValid.push(false)
      subplans.push(undefined)
      return
    }
    configs.push(decoded.value)
    configValid.push(true)
    subplans.push(definition.subflow ? compileSubflow(definition, decoded.value, id, header, at, context) : undefined)
  })

  // Edges
  const edges: Array<PlanEdge> = []
  const seen = new Set<string>()
  const inEdges: Array<Array<number>> = ids.map(() => [])
  const outByPort: Array<Map<string, Array<number>>> = ids.map(() => new Map())
  const inputEdges: Array<number> = []
  const uncheckedInput = new Set<number>()
  // Edges rejected for a type mismatch still count for reachability (no cascade of "unreachable" warnings).
  const rejectedLinks: Array<readonly [number, number]> = []
  graph.edges.forEach((edge, edgeIndex) => {
    const at = `${base}/edges/${edgeIndex}`
    const key = `${edge.from.node}\u0000${edge.from.port}\u0000${edge.to.node}\u0000${edge.to.port}`
    if (seen.has(key)) {
      problem(context, {
        severity: "warning",
        code: "duplicate-edge",
        message: `duplicate edge ${edge.from.node}.${edge.from.port} -> ${edge.to.node}.${edge.to.port}`,
        path: at
      })
      return
    }
    seen.add(key)
    const fromIsInput = edge.from.node === Ir.INPUT_NODE
    const from = fromIsInput ? -1 : indexOf.get(edge.from.node)
    const to = indexOf.get(edge.to.node)
    for (const [end, index] of [["from", from] as const, ["to", to] as const]) {
      if (index !== undefined) continue
      problem(context, {
        severity: "error",
        code: "dangling-edge",
        message: `edge ${end} unknown node "${edge[end].node}"`,
        path: `${at}/${end}/node`,
        nodeId: edge[end].node
      })
    }
    if (from === undefined || to === undefined) return
    // Source port
    if (fromIsInput) {
      if (edge.from.port !== Ir.OUT_PORT) {
        problem(context, {
          severity: "error",
          code: "unknown-port",
          message: `the flow input has one port, "out"; got "${edge.from.port}"`,
          path: `${at}/from/port`,
          nodeId: Ir.INPUT_NODE,
          port: edge.from.port
        })
        return
      }
    } else {
      const definition = definitions[from]
      // A source whose type or config is broken was already reported; its ports cannot be known. The edge
      // still counts for reachability, so its targets are not reported as unreachable on top.
      if (definition === undefined || !configValid[from]) {
        rejectedLinks.push([from, to])
        return
      }
      {
        const ports = declaredPorts(definition, configs[from])
        if (!ports.has(edge.from.port)) {
          problem(context, {
            severity: "error",
            code: "unknown-port",
            message: `node "${edge.from.node}" (${definition.type}) has no output port "${edge.from.port}"; its ports: ${[...ports].join(", ")}`,
            path: `${at}/from/port`,
            nodeId: edge.from.node,
            port: edge.from.port
          })
          return
        }
      }
    }
    // Target port
    const target = definitions[to]
    if (target !== undefined && target.inputMode === "single" && edge.to.port !== Ir.IN_PORT) {
      problem(context, {
        severity: "error",
        code: "unknown-port",
        message: `node "${edge.to.node}" (${target.type}) has one input port, "in"; got "${edge.to.port}"`,
        path: `${at}/to/port`,
        nodeId: edge.to.node,
        port: edge.to.port
      })
      return
    }
    if (target !== undefined && target.inputMode === "join") {
      const ports = joinPortsOf(target)
      if (ports !== undefined && !ports.names.includes(edge.to.port) && !ports.open) {
        problem(context, {
          severity: "error",
          code: "unknown-port",
          message: `node "${edge.to.node}" (${target.type}) has no input port "${edge.to.port}"; its input ports: ${ports.names.join(", ")}`,
          path: `${at}/to/port`,
          nodeId: edge.to.node,
          port: edge.to.port
        })
        return
      }
    }
    // Compatibility
    if (target !== undefined) {
      const fromSchema = fromIsInput
        ? (header.input ?? {})
        : definitions[from] === undefined
          ? {}
          : portSchemaOf(definitions[from]!, edge.from.port)
      let toSchema = Registry.jsonSchemaOf(target.input)
      if (target.inputMode === "join") {
        const props = toSchema.properties as Record<string, Registry.JsonSchema> | undefined
        toSchema =
          props?.[edge.to.port] ??
          (typeof toSchema.additionalProperties === "object"
            ? (toSchema.additionalProperties as Registry.JsonSchema)
            : {})
      }
      const verdict = Compatibility.fits(fromSchema, toSchema)
      if (verdict._tag === "Mismatch") {
        for (const m of verdict.problems) {
          problem(context, {
            severity: "error",
            code: "port-mismatch",
            message: `${edge.from.node}.${edge.from.port} -> ${edge.to.node}.${edge.to.port}: ${m.path ? `at ${m.path}: ` : ""}${m.message}`,
            path: at,
            nodeId: edge.to.node,
            port: edge.to.port
          })
        }
        rejectedLinks.push([from, to])
        return
      }
      if (verdict._tag === "Unchecked" || (fromIsInput && !header.inputChecked)) uncheckedInput.add(to)
    }
    const index = edges.length
    edges.push({ from, fromPort: edge.from.port, to, toPort: edge.to.port })
    inEdges[to]!.push(index)
    if (from === -1) inputEdges.push(index)
    else {
      const list = outByPort[from]!.get(edge.from.port)
      if (list) list.push(index)
      else outByPort[from]!.set(edge.from.port, [index])
    }
  })

  // Output
  let output: Plan["output"]
  if (graph.output !== undefined) {
    const node = indexOf.get(graph.output.node)
    if (node === undefined) {
      problem(context, {
        severity: "error",
        code: "invalid-output",
        message: `the output names unknown node "${graph.output.node}"`,
        path: `${base}/output/node`,
        nodeId: graph.output.node
      })
    } else {
      const definition = definitions[node]
      if (definition && configValid[node] && !declaredPorts(definition, configs[node]).has(graph.output.port)) {
        problem(context, {
          severity: "error",
          code: "invalid-output",
          message: `the output names unknown port "${graph.output.port}" of node "${graph.output.node}"`,
          path: `${base}/output/port`,
          nodeId: graph.output.node,
          port: graph.output.port
        })
      }
      output = { node, port: graph.output.port }
    }
  }

  // Cycles (every one: one per strongly connected component) and reachability
  const successors = ids.map((_, i) => [...outByPort[i]!.values()].flat().map((e) => edges[e]!.to))
  const cycles = findCycles(successors)
  if (!header.settings.allowCycles) {
    for (const cycle of cycles) {
      problem(context, {
        severity: "error",
        code: "cycle",
        message: `cycle ${[...cycle, cycle[0]!].map((i) => ids[i]).join(" -> ")}: use a forEach node for loops, or set settings.allowCycles (bounded by maxSteps)`,
        path: nodePath(base, ids[cycle[0]!]!),
        nodeId: ids[cycle[0]!]!
      })
    }
  }

  // Which edges carry a value in every execution that gets that far: from the flow input, or from the `out`
  // of a single-output node that always runs and whose failure ends the execution (no error edges). Switch
  // cases, error ports and the ports of multi-port nodes may stay silent, and so may everything after them.
  // A cyclic graph runs as a state machine (each value activates its target alone): nothing is "always" there.
  const cyclic = cycles.length > 0
  const alwaysNode = ids.map(() => false)
  const alwaysEdge = (e: number): boolean => {
    if (cyclic) return false
    const edge = edges[e]!
    if (edge.from === -1) return true
    const source = definitions[edge.from]
    return (
      alwaysNode[edge.from]! &&
      edge.fromPort === Ir.OUT_PORT &&
      source?.runValue !== undefined &&
      (outByPort[edge.from]!.get(Ir.ERROR_PORT)?.length ?? 0) === 0
    )
  }
  for (let changed = !cyclic; changed; ) {
    changed = false
    ids.forEach((_, i) => {
      if (!alwaysNode[i] && inEdges[i]!.some(alwaysEdge)) {
        alwaysNode[i] = true
        changed = true
      }
    })
  }
  ids.forEach((id, i) => {
    const definition = definitions[i]
    if (definition === undefined) return
    if (definition.inputMode === "single") {
      const always = inEdges[i]!.filter(alwaysEdge)
      if (always.length > 1) {
        problem(context, {
          severity: "warning",
          code: "ambiguous-input",
          message: `node "${id}" has ${always.length} incoming edges that carry a value in every run (${always
            .map((e) => {
              const from = edges[e]!
              return from.from === -1 ? Ir.INPUT_NODE : `${ids[from.from]}.${from.fromPort}`
            })
            .join(
              ", "
            )}), and a node with one input port takes the first active one only: bring them together with a join node`,
          path: nodePath(base, id),
          nodeId: id,
          port: Ir.IN_PORT
        })
      }
      return
    }
    const ports = joinPortsOf(definition)
    if (ports === undefined) return
    for (const port of ports.required) {
      const into = inEdges[i]!.filter((e) => edges[e]!.toPort === port)
      if (into.length === 0) {
        problem(context, {
          severity: "error",
          code: "missing-input",
          message: `node "${id}" (${definition.type}) requires input port "${port}", and no edge leads to it`,
          path: nodePath(base, id),
          nodeId: id,
          port
        })
      } else if (!into.some(alwaysEdge)) {
        // The port may stay silent at run time: the node's input is checked then (InputInvalid names the port).
        uncheckedInput.add(i)
      }
    }
  })
  const reachable = successors.map((list) => [...list])
  const queue = inputEdges.map((e) => edges[e]!.to)
  for (const [from, to] of rejectedLinks) {
    if (from === -1) queue.push(to)
    else reachable[from]!.push(to)
  }
  const reached = new Set<number>()
  while (queue.length > 0) {
    const next = queue.pop()!
    if (reached.has(next)) continue
    reached.add(next)
    queue.push(...reachable[next]!)
  }
  ids.forEach((id, i) => {
    if (!reached.has(i)) {
      problem(context, {
        severity: "warning",
        code: "unreachable",
        message: `node "${id}" is not reachable from the flow input and never runs`,
        path: nodePath(base, id),
        nodeId: id
      })
    }
  })

  if (context.problems.filter((p) => p.severity === "error").length > errorsBefore) return undefined
  const nodes: Array<PlanNode> = ids.map((id, index) => {
    const spec = graph.nodes[id]!
    const ports = outByPort[index]!
    return {
      id,
      index,
      definition: definitions[index]!,
      config: configs[index],
      retry: spec.retry,
      timeoutMs: spec.timeoutMs,
      inEdges: inEdges[index]!,
      outByPort: ports,
      outEdges: [...ports.values()].flat(),
      outPorts: [...ports.entries()],
      hasErrorEdges: (ports.get(Ir.ERROR_PORT)?.length ?? 0) > 0,
      checkInput: uncheckedInput.has(index),
      runSync: prepareSync(definitions[index]!, configs[index]),
      subplan: subplans[index]
    }
  })
  return {
    flowId: header.flowId,
    flowVersion: header.flowVersion,
    trigger: header.trigger,
    nodes,
    edges,
    inputEdges,
    inDegrees: nodes.map((n) => n.inEdges.length),
    output,
    sinks: nodes.filter((n) => n.outEdges.length === 0).map((n) => n.index),
    maxSteps: header.settings.maxSteps,
    timeoutMs: header.settings.timeoutMs,
    concurrency: header.settings.concurrency,
    cyclic: cycles.length > 0
  }
}

const prepareSync = (definition: Node.Any, config: unknown) => {
  try {
    return definition.prepareSync?.(config)
  } catch {
    return undefined // the node still runs, through `run`
  }
}

const compileSubflow = (
  definition: Node.Any,
  config: unknown,
  nodeId: string,
  header: GraphHeader,
  at: string,
  context: Context
): Plan | undefined => {
  const source = definition.subflow!(config)
  if (source._tag === "Inline") {
    const decoded = Validation.decode(Ir.Graph, source.graph, { strict: true })
    if (decoded._tag === "Invalid") {
      for (const issue of decoded.issues) {
        problem(context, {
          severity: "error",
          code: "invalid-config",
          message: issue.message,
          path: `${at}/config/body${issue.path}`,
          nodeId
        })
      }
      return undefined
    }
    return compileGraph(
      decoded.value,
      {
        ...header,
        flowId: `${header.flowId}/${nodeId}`,
        input: undefined,
        settings: { ...header.settings, allowCycles: false }
      },
      `${at}/config/body`,
      context
    )
  }
  const flow = context.options.flows?.[source.flowId]
  if (flow === undefined || (source.version !== undefined && flow.version !== source.version)) {
    problem(context, {
      severity: "error",
      code: "unknown-flow",
      message: `node "${nodeId}" calls flow "${source.flowId}"${source.version ? ` version ${source.version}` : ""}, which is not among the compiled flows`,
      path: `${at}/config/flow`,
      nodeId
    })
    return undefined
  }
  if (context.stack.includes(flow.id)) {
    problem(context, {
      severity: "error",
      code: "cycle",
      message: `flow "${flow.id}" calls itself through ${[...context.stack, flow.id].join(" -> ")}`,
      path: `${at}/config/flow`,
      nodeId
    })
    return undefined
  }
  // A sub-flow's input is the output of the node that calls it, type-checked at that edge.
  return compileFlowPlan(flow, { ...context, stack: [...context.stack, flow.id] }, `${at}/config/flow:${flow.id}`, true)
}

const compileFlowPlan = (flow: Ir.Flow, context: Context, base: string, inputChecked: boolean): Plan | undefined =>
  compileGraph(
    flow,
    {
      inputChecked,
      flowId: flow.id,
      flowVersion: flow.version,
      trigger: flow.trigger.type,
      input: flow.input,
      settings: Ir.settingsOf(flow)
    },
    base,
    context
  )

/**
 * Every cycle, one per strongly connected component (Tarjan's algorithm, iterative): each as node indices
 * along one loop through the component, starting at its first node.
 */
const findCycles = (successors: ReadonlyArray<ReadonlyArray<number>>): ReadonlyArray<ReadonlyArray<number>> => {
  const n = successors.length
  const index = new Int32Array(n).fill(-1)
  const low = new Int32Array(n)
  const onStack = new Uint8Array(n)
  const stack: Array<number> = []
  const components: Array<Array<number>> = []
  let counter = 0
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue
    const work: Array<[node: number, next: number]> = [[root, 0]]
    index[root] = low[root] = counter++
    stack.push(root)
    onStack[root] = 1
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const [node, i] = frame
      const next = successors[node]![i]
      if (next !== undefined) {
        frame[1] = i + 1
        if (index[next] === -1) {
          index[next] = low[next] = counter++
          stack.push(next)
          onStack[next] = 1
          work.push([next, 0])
        } else if (onStack[next]) low[node] = Math.min(low[node]!, index[next]!)
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent !== undefined) low[parent[0]] = Math.min(low[parent[0]]!, low[node]!)
      if (low[node] === index[node]) {
        const component: Array<number> = []
        let member: number
        do {
          member = stack.pop()!
          onStack[member] = 0
          component.push(member)
        } while (member !== node)
        if (component.length > 1 || successors[node]!.includes(node)) components.push(component)
      }
    }
  }
  return components.map((component) => loopThrough(component, successors)).sort((a, b) => a[0]! - b[0]!)
}

// A shortest loop from the component's first node back to itself, staying inside the component.
const loopThrough = (
  component: ReadonlyArray<number>,
  successors: ReadonlyArray<ReadonlyArray<number>>
): ReadonlyArray<number> => {
  const members = new Set(component)
  const start = Math.min(...component)
  const previous = new Map<number, number>()
  const queue = [start]
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!
    for (const next of successors[node]!) {
      if (!members.has(next)) continue
      if (next === start) {
        const loop = [node]
        for (let at = node; at !== start; ) {
          at = previous.get(at)!
          loop.unshift(at)
        }
        return loop[0] === start ? loop : [start, ...loop]
      }
      if (!previous.has(next)) {
        previous.set(next, node)
        queue.push(next)
      }
    }
  }
  return [start]
}

/**
 * Validates and compiles a flow. Fails with a {@link CompileError} listing every problem.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Builtins, Compiler } from "@jsonflow/core"
 * const program = Effect.gen(function* () {
 *   const compiled = yield* Compiler.compile(flowIr, Builtins.registry)
 *   return yield* compiled.run({ value: 21 })
 * })
 * ```
 */
export const compile = <R>(
  flow: unknown,
  registry: Registry.Registry<R>,
  options: CompileOptions = {}
): Effect.Effect<CompiledFlow<R>, CompileError> =>
  Effect.suspend(() => {
    const outcome = compileSync(flow, registry, options)
    return outcome._tag === "Compiled" ? Effect.succeed(outcome.flow) : Effect.fail(outcome.error)
  })

/**
 * Compiles without Effect: `{ _tag: "Compiled", flow }` or `{ _tag: "Failed", error }`.
 *
 * @example
 * ```ts
 * import { Builtins, Compiler } from "@jsonflow/core"
 * const outcome = Compiler.compileSync(flowIr, Builtins.registry)
 * if (outcome._tag === "Failed") console.error(outcome.error.message)
 * ```
 */
export const compileSync = <R>(
  flow: unknown,
  registry: Registry.Registry<R>,
  options: CompileOptions = {}
):
  | { readonly _tag: "Compiled"; readonly flow: CompiledFlow<R> }
  | { readonly _tag: "Failed"; readonly error: CompileError } => {
  const flowId =
    typeof flow === "object" && flow !== null && typeof (flow as { id?: unknown }).id === "string"
      ? (flow as { id: string }).id
      : "(unnamed)"
  const decoded = Validation.decode(Ir.Flow, flow, { strict: true })
  if (decoded._tag === "Invalid") {
    return {
      _tag: "Failed",
      error: new CompileError({
        flowId,
        problems: decoded.issues.map((issue) => ({
          severity: "error",
          code: "invalid-flow",
          message: issue.message,
          path: issue.path
        }))
      })
    }
  }
  const ir = decoded.value
  const context: Context = { registry, options, problems: [], stack: [ir.id] }
  const plan = compileFlowPlan(ir, context, "", options.inputChecked === true)
  if (plan === undefined)
    return { _tag: "Failed", error: new CompileError({ flowId: ir.id, problems: context.problems }) }
  return {
    _tag: "Compiled",
    flow: {
      flow: ir,
      warnings: context.problems,
      run: (input, runOptions) =>
        runPlan(plan, input, runOptions ?? {}) as Effect.Effect<ExecutionResult, FlowError.FlowError, R>
    }
  }
}
