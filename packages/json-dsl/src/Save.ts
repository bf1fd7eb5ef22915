/**
 * Writing a flow IR as a canonical file (`"dsl": 1`): fixed key order, nodes in the IR's order (a designer
 * appends, so a new node is a small diff), one edge per line, multi-line code as line arrays, designer
 * positions when a layout is given. `load(save(flow))` gives back an equal IR for every valid flow.
 *
 * @module Save
 */
import { Ir } from "@jsonflow/core"
import * as CanonicalJson from "./CanonicalJson.ts"
import * as Dsl from "./Dsl.ts"

/** Options of {@link save}. */
export interface SaveOptions {
  /** Designer positions by node id. */
  readonly layout?: Dsl.Layout
  /** Writes `$schema`: `true` for {@link Dsl.SCHEMA_ID}, or a URL/path of your choice. */
  readonly schema?: boolean | string
}

const splitCode = (type: string, config: unknown): unknown => {
  const field = Dsl.CODE_FIELDS[type]
  if (field === undefined || typeof config !== "object" || config === null || Array.isArray(config)) return config
  const source = (config as Record<string, unknown>)[field]
  if (typeof source !== "string" || !source.includes("\n")) return config
  return { ...config, [field]: source.split("\n") }
}

/** Keys in the order of their Schema, so equal values print equally however they were built. */
const inOrder = <A extends object>(value: A, keys: ReadonlyArray<string>): A => {
  const record = value as Record<string, unknown>
  const known = keys.filter((k) => record[k] !== undefined).map((k) => [k, record[k]] as const)
  const rest = Object.entries(record).filter(([k, v]) => v !== undefined && !keys.includes(k))
  return Object.fromEntries([...known, ...rest]) as A
}
const SETTINGS_KEYS = Object.keys(Ir.Settings.fields)
const RETRY_KEYS = Object.keys(Ir.RetryPolicy.fields)
const TRIGGER_KEYS = [...new Set(Ir.Trigger.members.flatMap((member) => Object.keys(member.fields)))]

const nodeDocument = (spec: Ir.NodeSpec, position: Dsl.Position | undefined): Record<string, unknown> => ({
  type: spec.type,
  ...(spec.label === undefined ? {} : { label: spec.label }),
  ...(position === undefined ? {} : { position: { x: position.x, y: position.y } }),
  ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
  ...(spec.retry === undefined ? {} : { retry: inOrder(spec.retry, RETRY_KEYS) }),
  ...(spec.config === undefined ? {} : { config: splitCode(spec.type, spec.config) })
})

/**
 * The canonical document of a flow as a plain object (what {@link save} prints).
 *
 * @example
 * ```ts
 * import { Save } from "@jsonflow/json-dsl"
 * Save.toDocument(flowIr, { layout: { a: { x: 0, y: 80 } } }).dsl // 1
 * ```
 */
export const toDocument = (flow: Ir.Flow, options: SaveOptions = {}): Record<string, unknown> => {
  const schema = options.schema === true ? Dsl.SCHEMA_ID : options.schema === false ? undefined : options.schema
  return {
    ...(schema === undefined ? {} : { $schema: schema }),
    dsl: Dsl.CURRENT_VERSION,
    id: flow.id,
    version: flow.version,
    ...(flow.description === undefined ? {} : { description: flow.description }),
    trigger: inOrder(flow.trigger, TRIGGER_KEYS),
    ...(flow.input === undefined ? {} : { input: flow.input }),
    ...(flow.settings === undefined ? {} : { settings: inOrder(flow.settings, SETTINGS_KEYS) }),
    nodes: Object.fromEntries(
      Object.entries(flow.nodes).map(([id, spec]) => [id, nodeDocument(spec, options.layout?.[id])])
    ),
    edges: flow.edges.map((edge) => ({
      from: { node: edge.from.node, port: edge.from.port },
      to: { node: edge.to.node, port: edge.to.port }
    })),
    ...(flow.output === undefined ? {} : { output: { node: flow.output.node, port: flow.output.port } })
  }
}

const isCodePath = (path: ReadonlyArray<string>) => path.length === 4 && path[0] === "nodes" && path[2] === "config"

/**
 * Writes a flow as canonical JSON text (with a final newline).
 *
 * @example
 * ```ts
 * import { Builtins } from "@jsonflow/core"
 * import { Load, Save } from "@jsonflow/json-dsl"
 * const text = Save.save(flowIr, { schema: true })
 * const again = Load.load(text, Builtins.registry) // Loaded, with an IR equal to flowIr
 * ```
 */
export const save = (flow: Ir.Flow, options: SaveOptions = {}): string => {
  const codeFields = new Set(Object.values(Dsl.CODE_FIELDS))
  return `${CanonicalJson.stringify(toDocument(flow, options), {
    width: 100,
    expand: (path) =>
      path.length === 0 ||
      (path.length <= 2 && path[0] === "nodes") ||
      (path.length === 1 && path[0] === "edges") ||
      (isCodePath(path) && codeFields.has(path[3]!)),
    inline: (path) =>
      (path.length === 2 && path[0] === "edges") || (path.length === 3 && path[0] === "nodes" && path[2] === "position")
  })}\n`
}
