/**
 * Mermaid text for a flow IR. The json-dsl package's `Mermaid.toMermaid` is used when the build finds it (it
 * is what `jsonflow graph` prints); this renderer is the fallback: the trigger as the entry, a box per node
 * (id and type), edges labelled with their ports, failure edges dashed, for-each bodies as subgraphs.
 *
 * @module mermaid
 */
import type { Ir } from "@jsonflow/core"

interface Graph {
  readonly nodes: Readonly<Record<string, Ir.NodeSpec>>
  readonly edges: ReadonlyArray<Ir.Edge>
}

const text = (value: string) =>
  value.replace(/&/g, "#amp;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")

const entryOf = (trigger: Ir.Trigger): string => {
  switch (trigger.type) {
    case "http":
      return `${trigger.method} ${trigger.path}`
    case "cron":
      return `cron ${trigger.schedule}`
    case "queue":
      return `queue ${trigger.queue}`
    default:
      return "input"
  }
}

const bodyOf = (spec: Ir.NodeSpec): Graph | undefined => {
  const body =
    spec.type === "forEach" ? (spec.config as { readonly body?: Partial<Graph> } | undefined)?.body : undefined
  return body !== undefined && typeof body.nodes === "object" && Array.isArray(body.edges) ? (body as Graph) : undefined
}

/** Renders a flow as a `flowchart LR`. */
export const toMermaid = (flow: Ir.Flow): string => {
  const lines = ["flowchart LR"]
  let counter = 0
  const render = (graph: Graph, entry: string, indent: string) => {
    const names = new Map<string, string>([["$input", `n${counter}`]])
    lines.push(`${indent}n${counter++}(["${text(entry)}"])`)
    for (const [id, spec] of Object.entries(graph.nodes)) {
      const name = `n${counter++}`
      names.set(id, name)
      const title = `${text(spec.label ?? id)}<br/>${text(spec.type)}`
      const body = bodyOf(spec)
      if (body === undefined) {
        lines.push(`${indent}${name}["${title}"]`)
      } else {
        lines.push(`${indent}subgraph ${name}["${title}"]`)
        render(body, "each item", `${indent}  `)
        lines.push(`${indent}end`)
      }
    }
    for (const edge of graph.edges) {
      const from = names.get(edge.from.node)
      const to = names.get(edge.to.node)
      if (from === undefined || to === undefined) continue
      const label = edge.to.port === "in" ? edge.from.port : `${edge.from.port} → ${edge.to.port}`
      lines.push(`${indent}${from} ${edge.from.port === "error" ? "-.->" : "-->"}|"${text(label)}"| ${to}`)
    }
  }
  render(flow, entryOf(flow.trigger), "  ")
  return lines.join("\n")
}
