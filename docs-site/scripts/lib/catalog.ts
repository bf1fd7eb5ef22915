/**
 * The node catalog as Markdown: for each node type found at build time, its description, input, output
 * ports and config, from `Registry.catalog` (the same JSON Schemas a visual designer receives).
 *
 * @module catalog
 */
import type { Registry } from "@jsonflow/core"
import { type Defs, defsOf, type JsonSchema, table, typeOf } from "./jsonSchema.ts"
import { code, escapeMarkdown, fence, slug } from "./markdown.ts"

export interface Origin {
  /** `@jsonflow/connectors` */
  readonly pkg: string
  /** The subpath that exports it: `.`, `./http`. */
  readonly subpath: string
}

export interface Entry {
  readonly entry: Registry.CatalogEntry
  readonly origin: Origin
}

export const nodeAnchor = (type: string): string => `node-${slug(type)}`

const short = (schema: JsonSchema, defs: Defs): string => {
  const type = typeOf(schema, defs)
  return type.length > 120 ? "object (see the JSON Schema)" : type
}

/** One node type. `level` is the heading level of its title. */
export const renderEntry = ({ entry }: Entry, level: number): string => {
  const hashes = "#".repeat(level)
  const configDefs = defsOf(entry.config)
  const lines: Array<string> = [`${hashes} ${entry.type} {#${nodeAnchor(entry.type)}}`, ""]
  if (entry.description) lines.push(escapeMarkdown(entry.description), "")
  const input =
    entry.inputMode === "join"
      ? "named input ports (one per incoming edge's target port); receives `{ port: value }`"
      : `${code("in")}: ${code(short(entry.input, defsOf(entry.input)))}`
  const outputs = [
    ...Object.entries(entry.outputs).map(([port, schema]) => `${code(port)}: ${code(short(schema, defsOf(schema)))}`),
    ...(entry.dynamicPorts ? ["one port per case named in the config"] : []),
    `${code("error")}: ${code("NodeFailure")} (when wired)`
  ]
  lines.push(`- **Input:** ${input}`, `- **Outputs:** ${outputs.join(", ")}`, "")
  const hasConfig = Object.keys(entry.config).length > 0 && typeOf(entry.config, configDefs) !== "{} | null | never"
  if (hasConfig) {
    lines.push(`**Config**`, "", table(entry.config, configDefs), "")
    lines.push("::: details Config JSON Schema", fence("json", JSON.stringify(entry.config, null, 2)), ":::", "")
  } else {
    lines.push("**Config:** none.", "")
  }
  return lines.join("\n")
}
