/**
 * The nFlow importer: a Drawflow export of the nFlow designer in, one canonical flow per HTTP starter out.
 *
 * Every module (designer tab, any name) is read; node ids may be UUIDs or integers. For each `starter`
 * whose `output_1` is wired, the nodes reachable from it become a flow with an HTTP trigger (`method`, incl.
 * `ANY`, and `urlpattern` with `:params`). `js` boxes become `nflow.js` code nodes that keep the nFlow script
 * contract, standard boxes become the native `nflow.*` types, `gorutine` a fork, and custom boxes
 * (`script: <name>`) take their code from the modules you supply. Only `outputs` are followed (Drawflow's
 * `inputs` mirror is checked for consistency), only the first connection of an output (as nflow-runtime
 * does); cycles are legal and bounded by `maxSteps`.
 *
 * What nflow-runtime finds only while serving (an unknown type, a missing module, a non-string type) is
 * reported here with a JSON Pointer into the export.
 *
 * @module nflow/Import
 */
import type { Ir } from "@jsonflow/core"
import { Compiler, Registry } from "@jsonflow/core"
import type * as Dsl from "../Dsl.ts"
import * as Input from "../Input.ts"
import type * as JsonText from "../JsonText.ts"
import * as Problem from "../Problem.ts"
import * as GoTemplate from "./GoTemplate.ts"
import * as JsNode from "./JsNode.ts"
import * as Nodes from "./nodes.ts"

/** Options of {@link importExport}. */
export interface ImportOptions {
  /** Code of custom boxes by module name (the `<name>.js` files of a modules directory). */
  readonly modules?: Readonly<Record<string, string>>
  readonly limits?: Partial<JsonText.Limits>
  /** At most this many problems are listed per report, then one line counts the rest (default 1,000). */
  readonly maxProblems?: number
}

/** One flow made from one starter. */
export interface ImportedFlow {
  readonly flow: Ir.Flow
  readonly layout: Dsl.Layout
  /** A file name for it: `<flow id>.flow.json`. */
  readonly file: string
  readonly starter: {
    readonly module: string
    readonly nodeId: string
    readonly method: string
    readonly urlpattern: string
  }
  /** Problems of this flow (errors mean it should not be run). */
  readonly problems: ReadonlyArray<Problem.Problem>
}

/** What {@link importExport} returns: the flows and every problem (of the flows and of the export). */
export interface ImportResult {
  readonly flows: ReadonlyArray<ImportedFlow>
  readonly problems: ReadonlyArray<Problem.Problem>
}

interface Connection {
  readonly target: string
  readonly path: string
}

interface ExportNode {
  readonly module: string
  readonly id: string
  readonly path: string
  readonly data: Record<string, unknown>
  readonly name: string | undefined
  readonly outputs: ReadonlyArray<readonly [string, Connection | undefined]>
  readonly position: Dsl.Position | undefined
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const NODE_ID = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"])

/** Standard boxes, by the `script` name their data carries. */
const STANDARD_BOXES = new Set([
  "_end",
  "json",
  "if_equals",
  "if_major",
  "_js_foreach",
  "js_foreach",
  "js_set_var",
  "parser_query_param",
  "template",
  "mustache"
])

const stringField = (data: Record<string, unknown>, key: string, fallback = ""): string => {
  const value = data[key]
  return typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : fallback
}

const portOrder = (a: string, b: string) => {
  const na = Number(a.replace(/^output_/, ""))
  const nb = Number(b.replace(/^output_/, ""))
  return Number.isNaN(na) || Number.isNaN(nb) ? a.localeCompare(b) : na - nb
}

/** The nodes of the export by module, and per module the ids of nodes left out as malformed. */
interface ReadExport {
  readonly modules: ReadonlyMap<string, ReadonlyMap<string, ExportNode>>
  readonly malformed: ReadonlyMap<string, ReadonlySet<string>>
}

/** Reads every module and node, reporting malformed parts. */
const readNodes = (drawflow: Record<string, unknown>, problems: Array<Problem.Problem>): ReadExport => {
  const modules = new Map<string, Map<string, ExportNode>>()
  const malformed = new Map<string, Set<string>>()
  for (const [moduleName, module] of Object.entries(drawflow)) {
    const modulePath = Problem.pointer("drawflow", moduleName)
    if (!isObject(module)) {
      problems.push(Problem.error("invalid-export", modulePath, "expected a module object { data: { ... } }"))
      continue
    }
    if (module.data === undefined) continue
    if (!isObject(module.data)) {
      problems.push(Problem.error("invalid-export", `${modulePath}/data`, "expected an object of nodes by id"))
      continue
    }
    const nodes = new Map<string, ExportNode>()
    const raws = new Map<string, Record<string, unknown>>()
    const left = new Set<string>()
    modules.set(moduleName, nodes)
    malformed.set(moduleName, left)
    for (const [key, raw] of Object.entries(module.data)) {
      const path = Problem.pointer("drawflow", moduleName, "data", key)
      if (!isObject(raw)) {
        problems.push(Problem.error("invalid-export", path, "expected a node object"))
        left.add(key)
        continue
      }
      if (raw.id !== undefined && String(raw.id) !== key) {
        problems.push(
          Problem.warning(
            "id-mismatch",
            `${path}/id`,
            `the node's id ${JSON.stringify(raw.id)} differs from its key "${key}"; the key is used`
          )
        )
      }
      const data = isObject(raw.data) ? raw.data : undefined
      if (data === undefined || typeof data.type !== "string") {
        problems.push(
          Problem.error(
            "invalid-type",
            data === undefined ? `${path}/data` : `${path}/data/type`,
            data === undefined
              ? "the node has no data object: nflow-runtime fails every request that scans it"
              : data.type === undefined
                ? "the node has no type (data.type is missing): nflow-runtime fails every request that scans it"
                : `the node type must be a string, got ${JSON.stringify(data.type)}: nflow-runtime fails every request that scans it`,
            key
          )
        )
        left.add(key)
        continue
      }
      const outputs: Array<readonly [string, Connection | undefined]> = []
      if (raw.outputs !== undefined && !isObject(raw.outputs)) {
        problems.push(Problem.error("invalid-export", `${path}/outputs`, "expected an object of output ports", key))
      }
      for (const [port, output] of Object.entries(isObject(raw.outputs) ? raw.outputs : {}).sort(([a], [b]) =>
        portOrder(a, b)
      )) {
        const portPath = `${path}/outputs/${Problem.segment(port)}`
        const connections = isObject(output) ? output.connections : undefined
        if (!Array.isArray(connections)) {
          problems.push(
            Problem.error("invalid-export", `${portPath}/connections`, "expected an array of connections", key)
          )
          continue
        }
        const first: unknown = connections[0]
        if (connections.length > 1) {
          problems.push(
            Problem.warning(
              "extra-connection",
              `${portPath}/connections/1`,
              `only the first connection of "${port}" is followed (as nflow-runtime does); ${connections.length - 1} more ignored`,
              key
            )
          )
        }
        if (first === undefined) {
          outputs.push([port, undefined])
          continue
        }
        const target = isObject(first) ? first.node : undefined
        if (typeof target !== "string" && typeof target !== "number") {
          problems.push(
            Problem.error("invalid-export", `${portPath}/connections/0/node`, "expected the target node id", key)
          )
          outputs.push([port, undefined])
          continue
        }
        outputs.push([port, { target: String(target), path: `${portPath}/connections/0/node` }])
      }
      const x = raw.pos_x
      const y = raw.pos_y
      nodes.set(key, {
        module: moduleName,
        id: key,
        path,
        data,
        name:
          typeof raw.name === "string" && raw.name !== ""
            ? raw.name
            : typeof raw.class === "string"
              ? raw.class
              : undefined,
        outputs,
        position:
          typeof x === "number" && typeof y === "number" && Number.isFinite(x) && Number.isFinite(y)
            ? { x, y }
            : undefined
      })
      raws.set(key, raw)
    }
    checkInputsMirror(nodes, raws, problems)
  }
  return { modules, malformed }
}

// Drawflow's `inputs` mirror `outputs`; nflow-runtime ignores them. A mismatch hints at a hand-edited export.
const checkInputsMirror = (
  nodes: ReadonlyMap<string, ExportNode>,
  raws: ReadonlyMap<string, Record<string, unknown>>,
  problems: Array<Problem.Problem>
) => {
  for (const [key, raw] of raws) {
    if (!isObject(raw.inputs)) continue
    const path = nodes.get(key)?.path
    if (path === undefined) continue
    for (const [port, input] of Object.entries(raw.inputs)) {
      const connections = isObject(input) && Array.isArray(input.connections) ? input.connections : []
      connections.forEach((connection: unknown, index) => {
        if (!isObject(connection)) return
        const source = nodes.get(String(connection.node))
        const sourcePort = String(connection.input)
        const mirrored = source?.outputs.some(([p, c]) => p === sourcePort && c?.target === key)
        const listed = source !== undefined && isObject(raws.get(source.id)?.outputs)
        if (!mirrored && listed) {
          problems.push(
            Problem.warning(
              "inputs-mismatch",
              `${path}/inputs/${Problem.segment(port)}/connections/${index}`,
              `inputs lists a connection from "${String(connection.node)}".${sourcePort} that its outputs do not have (outputs are what runs)`,
              key
            )
          )
        }
      })
    }
  }
}

/** A node id the IR accepts: kept when valid, else prefixed `n_` with other characters as `_`. */
const idMapper = () => {
  const used = new Map<string, string>()
  const taken = new Set<string>()
  return (original: string): string => {
    const known = used.get(original)
    if (known !== undefined) return known
    let id = NODE_ID.test(original) ? original : `n_${original.replace(/[^A-Za-z0-9_.-]/g, "_")}`.slice(0, 128)
    for (let i = 2; taken.has(id); i++) id = `${id}_${i}`
    used.set(original, id)
    taken.add(id)
    return id
  }
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/:([A-Za-z0-9_]+)/g, "$1")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")

const DEFINES_MAIN = /\bfunction\s+main\s*\(|\bmain\s*=/

interface Mapped {
  readonly spec: Ir.NodeSpec
  readonly ports: ReadonlyArray<string>
}

/** Maps one export node to a node spec, or reports why it cannot be. */
const mapNode = (
  node: ExportNode,
  modules: Readonly<Record<string, string>>,
  problems: Array<Problem.Problem>
): Mapped | undefined => {
  const data = node.data
  const type = data.type as string
  const id = node.id
  const label = stringField(data, "name_box") || node.name || type
  const outputPorts = node.outputs.map(([port]) => port)
  const base = { id }
  const spec = (nodeType: string, config: Record<string, unknown>, ports: ReadonlyArray<string>): Mapped => ({
    spec: { type: nodeType, label, config },
    ports
  })
  switch (type) {
    case "starter":
      return spec(
        "nflow.starter",
        {
          ...base,
          method: stringField(data, "method"),
          urlpattern: stringField(data, "urlpattern"),
          flowName: node.module
        },
        ["output_1"]
      )
    case "gorutine":
      return spec("nflow.fork", base, ["output_1", "output_2"])
    case "js":
      break
    case "dromedary":
    case "dromedary_callback":
      problems.push(
        Problem.error(
          "unsupported-type",
          `${node.path}/data/type`,
          `"${type}" (Go plugin) boxes are not supported: every shipped plugin is a stub that returns a null payload`,
          id
        )
      )
      return undefined
    default:
      problems.push(
        Problem.error(
          "unknown-node-type",
          `${node.path}/data/type`,
          `unknown nFlow node type "${type}" (nflow-runtime answers 500 "Type node not found")`,
          id
        )
      )
      return undefined
  }
  const code = data.code
  const script = typeof data.script === "string" ? data.script : undefined
  if (typeof code === "string") return jsNode(node, code, undefined, label, outputPorts, problems)
  if (script !== undefined && STANDARD_BOXES.has(script)) {
    switch (script) {
      case "_end":
        return spec("nflow.end", base, [])
      case "json": {
        const httpCode = stringField(data, "http_code")
        if (httpCode !== "" && !/^\s*[1-5]\d\d/.test(httpCode)) {
          problems.push(
            Problem.error(
              "invalid-config",
              `${node.path}/data/http_code`,
              `expected an HTTP status code, got ${JSON.stringify(httpCode)}`,
              id
            )
          )
          return undefined
        }
        return spec("nflow.json", { ...base, field: stringField(data, "field"), httpCode }, [])
      }
      case "if_equals":
        return spec(
          "nflow.ifEquals",
          { ...base, field: stringField(data, "field"), value: stringField(data, "value") },
          ["output_1", "output_2"]
        )
      case "if_major":
        return spec(
          "nflow.ifMajor",
          { ...base, field: stringField(data, "field"), limit: stringField(data, "limit", "0") },
          ["output_1", "output_2"]
        )
      case "_js_foreach":
      case "js_foreach":
        return spec(
          "nflow.forEach",
          { ...base, field: stringField(data, "field"), itemName: stringField(data, "item_name", "current_element") },
          ["output_1", "output_2"]
        )
      case "js_set_var":
        return spec(
          "nflow.setVar",
          { ...base, name: stringField(data, "var_name", "name1"), value: stringField(data, "var_value") },
          ["output_1"]
        )
      case "parser_query_param":
        return spec("nflow.queryParams", base, ["output_1"])
      default: {
        const template = stringField(data, "template")
        const engine = script === "mustache" ? "mustache" : "go-template"
        if (engine === "go-template") {
          try {
            GoTemplate.parse(template)
          } catch (error) {
            problems.push(
              Problem.error(
                "unsupported-template",
                `${node.path}/data/template`,
                `${error instanceof Error ? error.message : String(error)}: this template uses Go template syntax the importer does not render`,
                id
              )
            )
            return undefined
          }
        }
        return spec("nflow.render", { ...base, engine, template }, [])
      }
    }
  }
  if (script !== undefined) {
    const source = Object.hasOwn(modules, script) ? modules[script] : undefined
    if (source === undefined) {
      problems.push(
        Problem.error(
          "unresolved-module",
          `${node.path}/data/script`,
          `custom box "${script}" has no module: put its code in ${script}.js in the modules directory (--modules)`,
          id
        )
      )
      return undefined
    }
    return jsNode(node, source, script, label, outputPorts, problems)
  }
  problems.push(
    Problem.warning("empty-code", `${node.path}/data`, "a js box without code or script: it passes the payload on", id)
  )
  return jsNode(node, "function main(){}", undefined, label, outputPorts, problems)
}

const jsNode = (
  node: ExportNode,
  code: string,
  module: string | undefined,
  label: string,
  ports: ReadonlyArray<string>,
  problems: Array<Problem.Problem>
): Mapped => {
  if (!DEFINES_MAIN.test(code)) {
    problems.push(
      Problem.warning(
        "missing-main",
        module === undefined ? `${node.path}/data/code` : `${node.path}/data/script`,
        `the script defines no function main(): every request through this box answers 500 (ReferenceError)`,
        node.id
      )
    )
  }
  const { code: _code, compile: _compile, ...data } = node.data
  const config: JsNode.NflowJsConfig = {
    id: node.id,
    code,
    ports,
    data,
    outputs: Object.fromEntries(node.outputs.flatMap(([port, c]) => (c === undefined ? [] : [[port, c.target]]))),
    flowName: node.module,
    ...(module === undefined ? {} : { module })
  }
  return { spec: { type: JsNode.TYPE, label, config }, ports }
}

/** Finds a cycle among `successors` (any), for `allowCycles`. */
const hasCycle = (ids: ReadonlyArray<string>, successors: ReadonlyMap<string, ReadonlyArray<string>>) => {
  const state = new Map<string, number>()
  for (const root of ids) {
    if (state.has(root)) continue
    const stack: Array<[string, number]> = [[root, 0]]
    state.set(root, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const next = successors.get(top[0])?.[top[1]++]
      if (next === undefined) {
        state.set(top[0], 2)
        stack.pop()
      } else if (state.get(next) === 1) return true
      else if (!state.has(next)) {
        state.set(next, 1)
        stack.push([next, 0])
      }
    }
  }
  return false
}

const registry = Registry.merge(Nodes.nativeRegistry, Registry.make(JsNode.definitionForValidation))

/**
 * Imports an nFlow designer export (text, bytes or parsed JSON).
 *
 * @example
 * ```ts
 * import { Nflow } from "@jsonflow/json-dsl"
 * const result = Nflow.importExport(exportText, { modules: { greet: "function main(){ payload.hi = 1 }" } })
 * for (const imported of result.flows) console.log(imported.file, imported.flow.trigger)
 * for (const p of result.problems) console.log(`${p.path}: ${p.message}`)
 * ```
 */
export const importExport = (input: unknown, options: ImportOptions = {}): ImportResult => {
  const read = Input.read(input, options.limits)
  if (read._tag === "Unreadable") return { flows: [], problems: read.problems }
  return importRead(read, options)
}

/**
 * {@link importExport} for an export already read with {@link Input.read} (so it is parsed once).
 *
 * @example
 * ```ts
 * import { Input, Nflow } from "@jsonflow/json-dsl"
 * const read = Input.read(exportText)
 * if (read._tag === "Read" && Nflow.isExport(read.value)) Nflow.importRead(read)
 * ```
 */
export const importRead = (read: Input.Read, options: ImportOptions = {}): ImportResult => {
  const maxProblems = options.maxProblems ?? Problem.DEFAULT_MAX_PROBLEMS
  const drawflow = read.value.drawflow
  if (!isObject(drawflow)) {
    return {
      flows: [],
      problems: Input.withLocations(
        [
          Problem.error(
            "not-an-nflow-export",
            "/drawflow",
            drawflow === undefined
              ? 'is required: an nFlow export is { "drawflow": { "<module>": { "data": { ... } } } }'
              : "expected an object of modules"
          )
        ],
        read.locate
      )
    }
  }
  const globalProblems: Array<Problem.Problem> = []
  const { modules, malformed } = readNodes(drawflow, globalProblems)
  const flows: Array<ImportedFlow> = []
  const routes = new Map<string, string>()
  const usedIds = new Set<string>()
  const mappedProblems = new Map<string, ReadonlyArray<Problem.Problem>>()
  const mappedCache = new Map<string, Mapped | undefined>()
  const mapOnce = (node: ExportNode) => {
    const key = `${node.module}\u0000${node.id}`
    if (!mappedCache.has(key)) {
      const found: Array<Problem.Problem> = []
      mappedCache.set(key, mapNode(node, options.modules ?? {}, found))
      mappedProblems.set(key, found)
    }
    return { mapped: mappedCache.get(key), problems: mappedProblems.get(key) ?? [] }
  }
  for (const [moduleName, nodes] of modules) {
    for (const starter of nodes.values()) {
      if (starter.data.type !== "starter") continue
      const problems: Array<Problem.Problem> = []
      const method = stringField(starter.data, "method")
      const urlpattern = stringField(starter.data, "urlpattern")
      const first = starter.outputs.find(([port]) => port === "output_1")?.[1]
      if (first === undefined) {
        globalProblems.push(
          Problem.warning(
            "unwired-starter",
            `${starter.path}/outputs`,
            "the starter's output_1 is not connected: nflow-runtime ignores it, no flow is made",
            starter.id
          )
        )
        continue
      }
      if (!METHODS.has(method)) {
        problems.push(
          Problem.error(
            "invalid-method",
            `${starter.path}/data/method`,
            `expected GET, POST, PUT, PATCH, DELETE or ANY, got ${JSON.stringify(method)}`,
            starter.id
          )
        )
      }
      if (!urlpattern.startsWith("/")) {
        problems.push(
          Problem.error(
            "invalid-urlpattern",
            `${starter.path}/data/urlpattern`,
            urlpattern === ""
              ? "an empty urlpattern never matches a request"
              : `a urlpattern starts with "/", got ${JSON.stringify(urlpattern)}`,
            starter.id
          )
        )
      }
      const auth = stringField(starter.data, "nflow_auth", "false")
      if (auth !== "false" && auth !== "") {
        problems.push(
          Problem.error(
            "unsupported-auth",
            `${starter.path}/data/nflow_auth`,
            "nflow_auth runs the runtime's triggers/auth.js, which has no equivalent here: authenticate in front of the flow (or in a js box) and set nflow_auth to false",
            starter.id
          )
        )
      }
      const routeKey = `${method} ${urlpattern}`
      const earlier = routes.get(routeKey)
      if (earlier !== undefined) {
        problems.push(
          Problem.warning(
            "duplicate-route",
            `${starter.path}/data/urlpattern`,
            `${routeKey} is also served by ${earlier}: nflow-runtime picks one at random, JSON-Flow the first`,
            starter.id
          )
        )
      } else routes.set(routeKey, starter.path)

      // Walk what the starter reaches (first connection of each output, within the module).
      const toId = idMapper()
      const specs: Record<string, Ir.NodeSpec> = {}
      const edges: Array<Ir.Edge> = []
      const layout: Record<string, Dsl.Position> = {}
      const successors = new Map<string, Array<string>>()
      const exportPaths = new Map<string, string>()
      const queue: Array<ExportNode> = [starter]
      const seen = new Set<string>([starter.id])
      edges.push({ from: { node: "$input", port: "out" }, to: { node: toId(starter.id), port: "in" } })
      for (let next = 0; next < queue.length; next++) {
        const node = queue[next]!
        const { mapped, problems: nodeProblems } = mapOnce(node)
        problems.push(...nodeProblems)
        const id = toId(node.id)
        exportPaths.set(id, node.path)
        if (mapped !== undefined) {
          specs[id] = mapped.spec
          if (node.position !== undefined) layout[id] = node.position
        }
        // A node that cannot be mapped is still walked, so everything wrong behind it is reported too.
        for (const [port, connection] of node.outputs) {
          if (connection === undefined) continue
          const target = nodes.get(connection.target)
          // A target left out as malformed was reported at the target: "does not exist" would be a consequence.
          if (target === undefined && malformed.get(moduleName)?.has(connection.target)) continue
          if (target === undefined) {
            problems.push(
              Problem.warning(
                "dangling-connection",
                connection.path,
                `node "${connection.target}" does not exist in module "${moduleName}": the flow ends here (nflow-runtime: 200, empty body)`,
                node.id
              )
            )
            continue
          }
          if (mapped !== undefined && !mapped.ports.includes(port)) {
            problems.push(
              Problem.warning(
                "unused-output",
                connection.path.replace(/\/connections\/0\/node$/, ""),
                `this box never continues on "${port}"; the connection is ignored`,
                node.id
              )
            )
            continue
          }
          if (mapped !== undefined) edges.push({ from: { node: id, port }, to: { node: toId(target.id), port: "in" } })
          const targets = successors.get(id)
          if (targets === undefined) successors.set(id, [toId(target.id)])
          else targets.push(toId(target.id))
          if (!seen.has(target.id)) {
            seen.add(target.id)
            queue.push(target)
          }
        }
      }
      // Edges to nodes that could not be mapped were already reported with the node.
      const liveEdges = edges.filter((e) => e.to.node in specs && (e.from.node === "$input" || e.from.node in specs))
      let flowId = slug(`${moduleName}-${method}-${urlpattern}`) || "nflow"
      flowId = flowId.slice(0, 120)
      for (let i = 2; usedIds.has(flowId); i++) flowId = `${flowId.replace(/-\d+$/, "")}-${i}`
      usedIds.add(flowId)
      const cyclic = hasCycle(Object.keys(specs), successors)
      const flow: Ir.Flow = {
        id: flowId,
        version: "1",
        description: `Imported from nFlow module "${moduleName}", starter ${starter.id} (${method} ${urlpattern})`,
        trigger: {
          type: "http",
          method: (METHODS.has(method) ? method : "ANY") as Ir.HttpMethod,
          path: urlpattern
        },
        nodes: specs,
        edges: liveEdges,
        ...(cyclic ? { settings: { allowCycles: true } } : {})
      }
      const compiled = Compiler.compileSync(flow, registry)
      const compileProblems = compiled._tag === "Compiled" ? compiled.flow.warnings : compiled.error.problems
      // The compiler's findings about a node already reported here are consequences of that report.
      const reported = new Set(problems.flatMap((q) => (q.nodeId === undefined ? [] : [q.nodeId])))
      for (const p of compileProblems) {
        if (p.code === "unreachable" || (p.nodeId !== undefined && reported.has(p.nodeId))) continue
        problems.push(
          (p.severity === "error" ? Problem.error : Problem.warning)(
            p.code,
            (p.nodeId === undefined ? undefined : exportPaths.get(p.nodeId)) ?? starter.path,
            p.message,
            p.nodeId
          )
        )
      }
      flows.push({
        flow,
        layout,
        file: `${flowId}.flow.json`,
        starter: { module: moduleName, nodeId: starter.id, method, urlpattern },
        problems: dedupe(problems)
      })
    }
  }
  const all = dedupe([...globalProblems, ...flows.flatMap((f) => f.problems)])
  if (flows.length === 0 && !all.some((p) => p.severity === "error")) {
    all.push(Problem.warning("no-starters", "/drawflow", "the export has no wired HTTP starter: nothing to import"))
  }
  // Locations are found in one pass over the text for every listed problem; the per-flow lists reuse them.
  const listed = Input.withLocations(Problem.capped(all, maxProblems), read.locate)
  return {
    flows: flows.map((f) => ({
      ...f,
      problems: Input.withLocations(Problem.capped(f.problems, maxProblems), read.locate)
    })),
    problems: listed
  }
}

/**
 * What to tell a person about the flows that cannot be written (they have errors): a count, then one line
 * per flow with its file, its route and the first error, so the list names each one. Empty when every flow
 * can be written.
 *
 * @example
 * ```ts
 * import { Nflow } from "@jsonflow/json-dsl"
 * for (const line of Nflow.notWritten(Nflow.importExport(exportText))) console.log(line)
 * // 1 flow not written because of errors:
 * //   admin-get-report.flow.json (GET /report, module "Admin", starter s1): /drawflow/Admin/data/a/data/type: unknown nFlow node type "sql" (...)
 * ```
 */
export const notWritten = (result: ImportResult): ReadonlyArray<string> => {
  const skipped = result.flows.filter((f) => f.problems.some((p) => p.severity === "error"))
  if (skipped.length === 0) return []
  return [
    `${skipped.length} flow${skipped.length === 1 ? "" : "s"} not written because of errors:`,
    ...skipped.map((f) => {
      const errors = f.problems.filter((p) => p.severity === "error")
      const first = errors[0]!
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""
      const route = `${f.starter.method} ${f.starter.urlpattern === "" ? '""' : f.starter.urlpattern}`
      return `  ${f.file} (${route}, module ${JSON.stringify(f.starter.module)}, starter ${f.starter.nodeId}): ${Problem.where(first.path)}: ${first.message}${more}`
    })
  ]
}

const dedupe = (problems: ReadonlyArray<Problem.Problem>): Array<Problem.Problem> => {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${p.severity}\u0000${p.path}\u0000${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** Whether a parsed value looks like an nFlow export (`{ "drawflow": ... }`). */
export const isExport = (value: unknown): boolean => isObject(value) && "drawflow" in value
