/**
 * Ejecting a JSON flow to TypeScript: the builder code (`Flow.make(...).node(...)...build()`) that makes the
 * same IR, for teams that start in a designer and move to code review, types and refactoring.
 *
 * Nodes are emitted in dependency order (the builder only wires to nodes it already has), with the typed
 * built-in helpers (`map`, `filter`, `switch`, `join`, `merge`, `forEach`, `respond`); other node types
 * become parameters of a `build(definitions)` function. What the builder cannot say is kept as data on the
 * result: the flow's JSON Schema `input` and the absence of a declared `output`. Edges come out grouped by
 * target node ({@link normalize} gives that order); everything else is identical to the loaded IR.
 * Cyclic flows (nFlow loops) have no builder form and are refused.
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

/** Node ids in an order where every node comes after its sources (stable: file order among equals). */
const dependencyOrder = (graph: Graph): ReadonlyArray<string> => {
  const ids = Object.keys(graph.nodes)
  const pending = new Map(ids.map((id) => [id, new Set<string>()]))
  for (const edge of graph.edges) {
    if (edge.from.node !== "$input" && pending.has(edge.from.node)) pending.get(edge.to.node)?.add(edge.from.node)
  }
  const order: Array<string> = []
  while (order.length < ids.length) {
    const next = ids.find((id) => !order.includes(id) && [...pending.get(id)!].every((s) => order.includes(s)))
    if (next === undefined) {
      throw new EjectError("the flow has a cycle: the builder makes acyclic flows (loops are forEach nodes)")
    }
    order.push(next)
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
const outputPort = (graph: Graph, ref: Ir.PortRef) =>
  `${portExpression(ref)}${BUILTIN[graph.nodes[ref.node]?.type ?? ""] === undefined ? "!" : ""}`

const chain = (graph: Graph, indent: string, custom: Set<string>): Array<string> => {
  const lines: Array<string> = []
  // Ports of node types given as plain definitions are an index signature: possibly undefined to TypeScript.
  const untyped = new Set(
    Object.entries(graph.nodes)
      .filter(([, spec]) => BUILTIN[spec.type] === undefined)
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
    if (builtin === undefined) {
      custom.add(spec.type)
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
        lines.push(...chain(body, `${inner}    `, custom))
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
 * `build(definitions)` when the flow uses node types that are not built in.
 *
 * @example
 * ```ts
 * import { Eject } from "@jsonflow/json-dsl"
 * console.log(Eject.toTypeScript(loaded.flow))
 * ```
 */
export const toTypeScript = (flow: Ir.Flow): string => {
  const custom = new Set<string>()
  const make = {
    id: flow.id,
    version: flow.version,
    ...(flow.description === undefined ? {} : { description: flow.description }),
    trigger: flow.trigger,
    ...(flow.settings === undefined ? {} : { settings: flow.settings })
  }
  const steps = chain(flow, "    ", custom)
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
      ...(custom.size > 0 ? ["type Node"] : [])
    ].join(", ")} } from "@jsonflow/core"`,
    "",
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
