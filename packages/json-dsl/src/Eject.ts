/**
 * Ejecting a JSON flow to TypeScript: the builder code (`Flow.make(...).node(...)...build()`) that makes the
 * same IR, for teams that start in a designer and move to code review, types and refactoring.
 *
 * Nodes are emitted in dependency order (the builder only wires to nodes it already has), with the typed
 * built-in helpers (`map`, `filter`, `switch`, `join`, `merge`, `forEach`, `respond`); `js`/`ts` code nodes
 * use the sandbox's definitions (`import { jsNode, tsNode } from "@jsonflow/sandbox"`); other node types
 * become parameters of a `build(definitions)` function. What the builder cannot say is kept as data on the
 * result: the flow's JSON Schema `input` and the absence of a declared `output`. Edges come out grouped by
 * target node ({@link normalize} gives that order); everything else is identical to the loaded IR.
 * Cyclic flows (nFlow loops) have no builder form and are refused with the cycle named.
 *
 * @module Eject
 */
import type { Ir } from "@jsonflow/core"

/** The flow cannot be written with the builder. */
export class EjectError extends Error {}

const BUILTIN: Readonly<Record<string, string>> = {
  noop: "noop",
  map: "map",
  filter: "filter",
  switch: "switchNode",
  join: "join",
  merge: "merge",
  setVariables: "setVariables",
  delay: "delay",
  forEach: "forEach",
  subflow: "subflow",
  respond: "respond",
  fail: "fail"
}

/** The sandbox's code node definitions, by type: `@jsonflow/sandbox` exports them. */
const SANDBOX: Readonly<Record<string, string>> = { js: "jsNode", ts: "tsNode" }

/** A code node that names its own ports: the definition's typed `out` does not describe them. */
const hasOwnPorts = (spec: Ir.NodeSpec) => {
  const ports = (spec.config as { readonly ports?: ReadonlyArray<string> } | undefined)?.ports
  return ports !== undefined && !(ports.length === 1 && ports[0] === "out")
}

/** Whether the builder knows the node's output ports as types (else they are an index signature). */
const typedPorts = (spec: Ir.NodeSpec) =>
  BUILTIN[spec.type] !== undefined || (SANDBOX[spec.type] !== undefined && !hasOwnPorts(spec))

/** What a module uses beyond `Flow`: filled while the chain is written. */
interface Uses {
  readonly custom: Set<string>
  readonly sandbox: Set<string>
  /** Sandbox definitions used with their own ports (a loosely typed alias). */
  readonly loose: Set<string>
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const access = (name: string) => (IDENTIFIER.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`)
const key = (name: string) => (IDENTIFIER.test(name) ? name : JSON.stringify(name))
const portExpression = (ref: Ir.PortRef) =>
  ref.node === "$input" ? "p.$input" : `p${access(ref.node)}${access(ref.port)}`

/** A JSON value as a TypeScript literal, indented for its place in the code. */
const literal = (value: unknown, indent: string): string => {
  const text = JSON.stringify(value, null, 2)
  return text.replace(/\n/g, `\n${indent}`)
}

interface Graph {
  readonly nodes: Readonly<Record<string, Ir.NodeSpec>>
  readonly edges: ReadonlyArray<Ir.Edge>
  readonly output?: Ir.PortRef
}

/** One cycle among `left` (nodes that are all waiting on each other), as `a -> b -> a`. */
const cycleAmong = (left: ReadonlyArray<string>, sources: ReadonlyMap<string, ReadonlySet<string>>): string => {
  const waiting = new Set(left)
  const path: Array<string> = []
  const at = new Map<string, number>()
  let current = left[0]!
  while (!at.has(current)) {
    at.set(current, path.length)
    path.push(current)
    current = [...sources.get(current)!].find((source) => waiting.has(source))!
  }
  // Walked against the edges: reverse to read in flow direction.
  const cycle = [...path.slice(at.get(current)!), current].reverse()
  return cycle.join(" -> ")
}

/** Node ids in an order where every node comes after its sources (stable: file order among equals). */
const dependencyOrder = (graph: Graph): ReadonlyArray<string> => {
  const ids = Object.keys(graph.nodes)
  const pending = new Map(ids.map((id) => [id, new Set<string>()]))
  for (const edge of graph.edges) {
    if (edge.from.node !== "$input" && pending.has(edge.from.node)) pending.get(edge.to.node)?.add(edge.from.node)
  }
  const order: Array<string> = []
  const placed = new Set<string>()
  while (order.length < ids.length) {
    const next = ids.find((id) => !placed.has(id) && [...pending.get(id)!].every((s) => placed.has(s)))
    if (next === undefined) {
      const cycle = cycleAmong(
        ids.filter((id) => !placed.has(id) && [...pending.get(id)!].some((s) => !placed.has(s))),
        pending
      )
      throw new EjectError(
        `the flow has a cycle (${cycle}): the builder only makes acyclic flows, so it has no code for this one. ` +
          "Keep the flow as JSON (jsonflow run and the runner load it as it is, loops bounded by maxSteps), " +
          "or rewrite the loop as a forEach node over a list, then eject"
      )
    }
    order.push(next)
    placed.add(next)
  }
  return order
}

/**
 * The IR with edges in the order the builder writes them: grouped by target node in dependency order.
 *
 * @example
 * ```ts
 * import { Ir } from "@jsonflow/core"
 * import { Eject } from "@jsonflow/json-dsl"
 * Ir.equals(ejectedFlow.ir, Eject.normalize(loadedIr)) // true
 * ```
 */
export const normalize = <G extends Graph>(graph: G): G => {
  const order = dependencyOrder(graph)
  const nodes = graph.nodes as Record<string, Ir.NodeSpec>
  const edges = order.flatMap((id) => graph.edges.filter((e) => e.to.node === id))
  const normalizedNodes = Object.fromEntries(
    Object.entries(nodes).map(([id, spec]) => {
      if (spec.type !== "forEach" || typeof spec.config !== "object" || spec.config === null) return [id, spec]
      const config = spec.config as { readonly body?: Graph }
      return config.body === undefined
        ? [id, spec]
        : [id, { ...spec, config: { ...config, body: normalize(config.body) } }]
    })
  )
  return { ...graph, nodes: normalizedNodes, edges }
}

const optionsOf = (spec: Ir.NodeSpec, extra: Record<string, unknown> = {}): Record<string, unknown> | undefined => {
  const options = {
    ...(spec.label === undefined ? {} : { label: spec.label }),
    ...(spec.retry === undefined ? {} : { retry: spec.retry }),
    ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    ...extra
  }
  return Object.keys(options).length === 0 ? undefined : options
}

/** A graph's output port as a selector expression. */
const outputPort = (graph: Graph, ref: Ir.PortRef) => {
  const spec = graph.nodes[ref.node]
  return `${portExpression(ref)}${spec === undefined || typedPorts(spec) ? "" : "!"}`
}

const chain = (graph: Graph, indent: string, uses: Uses): Array<string> => {
  const lines: Array<string> = []
  // Ports of node types given as plain definitions are an index signature: possibly undefined to TypeScript.
  const untyped = new Set(
    Object.entries(graph.nodes)
      .filter(([, spec]) => !typedPorts(spec))
      .map(([id]) => id)
  )
  const portOf = (ref: Ir.PortRef) => `${portExpression(ref)}${untyped.has(ref.node) ? "!" : ""}`
  const inner = `${indent}  `
  for (const id of dependencyOrder(graph)) {
    const spec = graph.nodes[id]!
    const incoming = graph.edges.filter((e) => e.to.node === id)
    const single = incoming.every((e) => e.to.port === "in")
    const sources = incoming.map((e) => portOf(e.from))
    const from = sources.length === 1 ? `(p) => ${sources[0]}` : `(p) => [${sources.join(", ")}]`
    const config = spec.config as Record<string, unknown> | undefined
    const tail = (options: Record<string, unknown> | undefined) =>
      options === undefined ? "" : `, ${literal(options, indent)}`
    if (incoming.length === 0) throw new EjectError(`node "${id}" has no incoming edge: the builder wires every node`)
    const builtin = BUILTIN[spec.type]
    const script = SANDBOX[spec.type]
    if (builtin === undefined && script !== undefined) {
      if (!single) throw new EjectError(`node "${id}" (${spec.type}) has named input ports`)
      uses.sandbox.add(script)
      const loose = hasOwnPorts(spec)
      if (loose) uses.loose.add(script)
      lines.push(
        `${indent}.node(${JSON.stringify(id)}, ${loose ? `${script}WithPorts` : script}, ${literal(spec.config, indent)}, ${from}${tail(optionsOf(spec))})`
      )
      continue
    }
    if (builtin === undefined) {
      uses.custom.add(spec.type)
      if (!single) throw new EjectError(`node "${id}" (${spec.type}) has named input ports`)
      lines.push(
        `${indent}.node(${JSON.stringify(id)}, definitions${access(spec.type)}, ${literal(spec.config, indent)}, ${from}${tail(optionsOf(spec))})`
      )
      continue
    }
    switch (spec.type) {
      case "map":
        lines.push(
          `${indent}.map(${JSON.stringify(id)}, ${from}, ${literal(config, indent)}, undefined${tail(optionsOf(spec))})`
        )
        break
      case "filter":
        lines.push(
          `${indent}.filter(${JSON.stringify(id)}, ${from}, ${literal(config?.where, indent)}${tail(optionsOf(spec))})`
        )
        break
      case "switch": {
        const switchConfig = config as {
          readonly cases: ReadonlyArray<{ port: string; when: unknown }>
          readonly mode?: string
        }
        const cases = Object.fromEntries(switchConfig.cases.map((c) => [c.port, c.when]))
        const extra = switchConfig.mode === undefined ? {} : { mode: switchConfig.mode }
        lines.push(
          `${indent}.switch(${JSON.stringify(id)}, ${from}, ${literal(cases, indent)}${tail(optionsOf(spec, extra))})`
        )
        break
      }
      case "respond":
        lines.push(
          `${indent}.respond(${JSON.stringify(id)}, ${from}, ${literal(config ?? {}, indent)}${tail(optionsOf(spec))})`
        )
        break
      case "join": {
        const ports = incoming.map((e) => e.to.port)
        if (new Set(ports).size !== ports.length) throw new EjectError(`join "${id}" has two edges into one port`)
        const record = incoming.map((e) => `${key(e.to.port)}: ${portOf(e.from)}`).join(", ")
        lines.push(`${indent}.join(${JSON.stringify(id)}, (p) => ({ ${record} })${tail(optionsOf(spec))})`)
        break
      }
      case "merge": {
        if (incoming.some((e, i) => e.to.port !== `in${i + 1}`)) {
          throw new EjectError(`merge "${id}": the builder names merge inputs in1, in2, ... in edge order`)
        }
        lines.push(`${indent}.merge(${JSON.stringify(id)}, (p) => [${sources.join(", ")}]${tail(optionsOf(spec))})`)
        break
      }
      case "forEach": {
        const forEachConfig = config as { readonly body: Graph; readonly concurrency?: number }
        const body = forEachConfig.body
        if (body.output === undefined) throw new EjectError(`forEach "${id}": the body needs an output`)
        const extra = forEachConfig.concurrency === undefined ? {} : { concurrency: forEachConfig.concurrency }
        const source = sources.length === 1 ? sources[0]! : `[${sources.join(", ")}]`
        lines.push(`${indent}.forEach(`)
        lines.push(`${inner}${JSON.stringify(id)},`)
        lines.push(`${inner}(p) => ${source} as Flow.Source<ReadonlyArray<unknown>>,`)
        lines.push(`${inner}(item) =>`)
        lines.push(`${inner}  item`)
        lines.push(...chain(body, `${inner}    `, uses))
        lines.push(
          `${inner}    .output((p) => ${outputPort(body, body.output)})${optionsOf(spec, extra) === undefined ? "" : ","}`
        )
        const options = optionsOf(spec, extra)
        if (options !== undefined) lines.push(`${inner}${literal(options, inner)}`)
        lines.push(`${indent})`)
        break
      }
      default:
        if (!single) throw new EjectError(`node "${id}" (${spec.type}) has named input ports`)
        lines.push(
          `${indent}.node(${JSON.stringify(id)}, Builtins.${builtin}, ${spec.config === undefined ? "undefined" : literal(spec.config, indent)}, ${from}${tail(optionsOf(spec))})`
        )
    }
  }
  return lines
}

/**
 * TypeScript source of a module that builds `flow` with the typed builder. The module exports `flow`, or
 * `build(definitions)` when the flow uses node types that are neither built in nor the sandbox's `js`/`ts`.
 *
 * @example
 * ```ts
 * import { Eject } from "@jsonflow/json-dsl"
 * console.log(Eject.toTypeScript(loaded.flow))
 * ```
 */
export const toTypeScript = (flow: Ir.Flow): string => {
  const uses: Uses = { custom: new Set(), sandbox: new Set(), loose: new Set() }
  const { custom } = uses
  const make = {
    id: flow.id,
    version: flow.version,
    ...(flow.description === undefined ? {} : { description: flow.description }),
    trigger: flow.trigger,
    ...(flow.settings === undefined ? {} : { settings: flow.settings })
  }
  const steps = chain(flow, "    ", uses)
  const outputLine = flow.output === undefined ? [] : [`    .output((p) => ${outputPort(flow, flow.output)})`]
  const kept = [
    ...(flow.input === undefined ? [] : [`input: ${literal(flow.input, "    ")}`]),
    ...(flow.output === undefined ? [] : ["output: built.ir.output"])
  ]
  const lines = [
    `// Generated by \`jsonflow eject\` from flow "${flow.id}" version ${flow.version}.`,
    `import { ${[
      ...(steps.some((line) => line.includes("Builtins.")) ? ["Builtins"] : []),
      "Flow",
      ...(custom.size > 0 || uses.loose.size > 0 ? ["type Node"] : [])
    ].join(", ")} } from "@jsonflow/core"`,
    ...(uses.sandbox.size > 0 ? [`import { ${[...uses.sandbox].sort().join(", ")} } from "@jsonflow/sandbox"`] : []),
    "",
    ...[...uses.loose]
      .sort()
      .flatMap((script) => [
        `/** \`${script}\` for nodes that name their own ports (config.ports): the builder knows those only by name. */`,
        `const ${script}WithPorts: Node.AnyWith<Node.ServicesOf<typeof ${script}>> = ${script}`,
        ""
      ]),
    ...(custom.size > 0
      ? [
          "/** Definitions of the node types this flow uses that are not built in. */",
          `export interface Definitions {\n${[...custom].map((t) => `  readonly ${key(t)}: Node.AnyWith<never>`).join("\n")}\n}`,
          "",
          "export const build = (definitions: Definitions) => {"
        ]
      : ["const make = () => {"]),
    `  const built = Flow.make(${literal(make, "  ")})`,
    ...steps,
    ...outputLine,
    "    .build()",
    "  // The builder derives `input` from a Schema and always declares an output: keep the JSON flow's own.",
    "  const { input: _input, output: _output, ...ir } = built.ir",
    `  return { ...built, ir: { ...ir${kept.length > 0 ? `, ${kept.join(", ")}` : ""} } }`,
    "}",
    ...(custom.size > 0 ? [] : ["", "export const flow = make()"]),
    ""
  ]
  return lines.join("\n")
}
