/**
 * A Mermaid flowchart of a flow: the trigger as the entry, every node with its label, id and type, every
 * edge labelled with its ports (`output_2`, `out → left`), failure edges dashed, `forEach` bodies as
 * subgraphs. Paste it into any Markdown that renders Mermaid.
 *
 * @module Mermaid
 */
import type { Ir } from "@jsonflow/core"

const escapeLabel = (text: string) =>
  text.replace(/&/g, "#amp;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")

const triggerText = (trigger: Ir.Trigger): string => {
  switch (trigger.type) {
    case "http":
      return `${trigger.method} ${trigger.path}`
    case "cron":
      return `cron ${trigger.schedule}${trigger.timezone ? ` ${trigger.timezone}` : ""}`
    case "queue":
      return `queue ${trigger.queue}`
    default:
      return "manual"
  }
}

interface Graph {
  readonly nodes: Readonly<Record<string, Ir.NodeSpec>>
  readonly edges: ReadonlyArray<Ir.Edge>
  readonly output?: Ir.PortRef
}

const bodyOf = (spec: Ir.NodeSpec): Graph | undefined => {
  if (spec.type !== "forEach" || typeof spec.config !== "object" || spec.config === null) return undefined
  const body = (spec.config as { readonly body?: unknown }).body
  if (typeof body !== "object" || body === null) return undefined
  const graph = body as Partial<Graph>
  return typeof graph.nodes === "object" && graph.nodes !== null && Array.isArray(graph.edges)
    ? (graph as Graph)
    : undefined
}

/**
 * Renders a flow as a Mermaid `flowchart LR`.
 *
 * @example
 * ```ts
 * import { Mermaid } from "@jsonflow/json-dsl"
 * console.log(Mermaid.toMermaid(flowIr))
 * // flowchart LR
 * //   n0(["GET /users/:id"])
 * //   n1["find user<br/>a7d0 · nflow.js"]
 * //   n0 -->|"out"| n1
 * ```
 */
export const toMermaid = (flow: Ir.Flow): string => {
  const lines = ["flowchart LR"]
  let counter = 0
  const render = (graph: Graph, entryText: string, indent: string, scope: string) => {
    const names = new Map<string, string>()
    const entry = `n${counter++}`
    names.set("$input", entry)
    lines.push(`${indent}${entry}(["${escapeLabel(entryText)}"])`)
    for (const [id, spec] of Object.entries(graph.nodes)) {
      const name = `n${counter++}`
      names.set(id, name)
      const title =
        spec.label !== undefined && spec.label !== id
          ? `${spec.label}<br/>${id} · ${spec.type}`
          : `${id}<br/>${spec.type}`
      const body = bodyOf(spec)
      if (body === undefined) {
        lines.push(`${indent}${name}["${escapeLabel(title).replace(/#lt;br\/#gt;/g, "<br/>")}"]`)
        continue
      }
      lines.push(`${indent}subgraph ${name}["${escapeLabel(title).replace(/#lt;br\/#gt;/g, "<br/>")}"]`)
      render(body, "each item", `${indent}  `, `${scope}${id}/`)
      lines.push(`${indent}end`)
    }
    for (const edge of graph.edges) {
      const from = names.get(edge.from.node)
      const to = names.get(edge.to.node)
      if (from === undefined || to === undefined) continue
      const label = edge.to.port === "in" ? edge.from.port : `${edge.from.port} → ${edge.to.port}`
      const arrow = edge.from.port === "error" ? "-.->" : "-->"
      lines.push(`${indent}${from} ${arrow}|"${escapeLabel(label)}"| ${to}`)
    }
    if (graph.output !== undefined) {
      const from = names.get(graph.output.node)
      if (from !== undefined) {
        const result = `n${counter++}`
        lines.push(`${indent}${result}(["${scope === "" ? "result" : "item result"}"])`)
        lines.push(`${indent}${from} -->|"${escapeLabel(graph.output.port)}"| ${result}`)
      }
    }
  }
  render(flow, triggerText(flow.trigger), "  ", "")
  return `${lines.join("\n")}\n`
}
