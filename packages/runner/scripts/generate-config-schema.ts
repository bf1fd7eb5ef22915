// Writes schema/config.schema.json and the configuration table of README.md (between the
// `config-reference` markers) from the Config Schema. Run after changing src/Config.ts:
//   npm run generate:schema -w @jsonflow/runner
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Config } from "../src/index.ts"

const schema = Config.jsonSchema() as { $defs: Record<string, Node> }
writeFileSync(new URL("../schema/config.schema.json", import.meta.url), `${JSON.stringify(schema, null, 2)}\n`)

interface Node {
  readonly type?: string
  readonly $ref?: string
  readonly anyOf?: ReadonlyArray<Node>
  readonly enum?: ReadonlyArray<unknown>
  readonly const?: unknown
  readonly properties?: Record<string, Node>
  readonly items?: Node
  readonly description?: string
  readonly minimum?: number
  readonly maximum?: number
  readonly exclusiveMinimum?: number
}
const deref = (node: Node): Node => (node.$ref ? deref(schema.$defs[node.$ref.replace("#/$defs/", "")] ?? {}) : node)
const typeOf = (node: Node): string => {
  const n = deref(node)
  if (n.anyOf) return n.anyOf.map(typeOf).join(" \\| ")
  if (n.enum) return n.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ")
  if (n.const !== undefined) return `\`${JSON.stringify(n.const)}\``
  if (n.type === "array") return `${typeOf(n.items ?? {})}[]`
  return n.type ?? "any"
}
const defaults = Config.resolve({}) as unknown as Record<string, unknown>
const defaultAt = (path: ReadonlyArray<string>): string => {
  let value: unknown = defaults
  for (const key of path)
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined
  return value === undefined ? "" : `\`${JSON.stringify(value)}\``
}
const env = new Map<string, Array<string>>()
for (const v of Config.environmentVariables()) env.set(v.path, [...(env.get(v.path) ?? []), v.name])
const rows: Array<string> = []
const walk = (node: Node, path: ReadonlyArray<string>) => {
  const n = deref(node)
  if (n.type === "object" && n.properties && path.length < 3) {
    for (const [key, child] of Object.entries(n.properties)) walk(child, [...path, key])
    return
  }
  const key = path.join(".")
  const description = (deref(node).description ?? node.description ?? "").replace(/\|/g, "\\|")
  rows.push(
    `| \`${key}\` | ${typeOf(node)} | ${defaultAt(path)} | ${
      env.has(key)
        ? env
            .get(key)!
            .map((name) => `\`${name}\``)
            .join(", ")
        : "file only"
    } | ${description} |`
  )
}
walk(schema.$defs.RunnerConfig ?? {}, [])
const table = ["| key | type | default | environment | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join(
  "\n"
)
const readme = new URL("../README.md", import.meta.url)
const text = readFileSync(readme, "utf8")
const updated = text.replace(
  /<!-- config-reference:start -->[\s\S]*<!-- config-reference:end -->/,
  `<!-- config-reference:start -->\n${table}\n<!-- config-reference:end -->`
)
writeFileSync(readme, updated)
// Written plain; Biome formats both files the way `npm run lint` expects.
execFileSync(
  fileURLToPath(new URL("../../../node_modules/.bin/biome", import.meta.url)),
  ["format", "--write", fileURLToPath(readme), fileURLToPath(new URL("../schema/config.schema.json", import.meta.url))],
  {
    stdio: "ignore"
  }
)
