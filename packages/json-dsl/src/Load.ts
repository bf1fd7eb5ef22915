/**
 * Loading a canonical flow file: text (or a parsed value) in, the IR out, or **every** problem, each with a
 * JSON Pointer into the file, the node it concerns and a sentence.
 *
 * The steps: read guardedly ({@link Input}), pick the version and migrate ({@link Migrations}), check the
 * document's shape part by part (header, each node, each edge) so one bad node does not hide another, build
 * the IR from the parts that are sound, and let the core compiler find the rest (unknown types, bad configs,
 * dangling edges, ports, cycles). The compiler's pointers are pointers into the IR; the format keeps nodes
 * at `/nodes/<id>` and edges at `/edges/<i>`, so they are pointers into the file too.
 *
 * @module Load
 */
import { Compiler, type Ir, type Registry, Validation } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import * as Dsl from "./Dsl.ts"
import * as Input from "./Input.ts"
import type * as JsonText from "./JsonText.ts"
import * as Migrations from "./Migrations.ts"
import * as Problem from "./Problem.ts"

/** Options of {@link load}. */
export interface LoadOptions {
  /** Flows that `subflow` nodes may call, by id. */
  readonly flows?: Readonly<Record<string, Ir.Flow>>
  readonly limits?: Partial<JsonText.Limits>
  /** At most this many problems are listed, then one line counts the rest (default 1,000). */
  readonly maxProblems?: number
}

/** A loaded flow. */
export interface Loaded {
  readonly _tag: "Loaded"
  readonly flow: Ir.Flow
  /** Designer positions (not part of the IR). */
  readonly layout: Dsl.Layout
  /** The version the file was written in (older ones were migrated). */
  readonly version: number
  readonly warnings: ReadonlyArray<Problem.Problem>
}

/** What {@link load} returns. */
export type LoadResult = Loaded | { readonly _tag: "Failed"; readonly problems: ReadonlyArray<Problem.Problem> }

/**
 * The flow file has errors (Effect API).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Load } from "@jsonflow/json-dsl"
 * declare const attempt: Effect.Effect<Load.Loaded, Load.LoadError>
 * attempt.pipe(Effect.catchTag("LoadError", (e) => Effect.succeed(e.problems.length)))
 * ```
 */
export class LoadError extends Schema.TaggedError<LoadError>()("LoadError", {
  problems: Schema.Array(
    Schema.Struct({
      severity: Schema.Literals(["error", "warning"]),
      code: Schema.String,
      message: Schema.String,
      path: Schema.String,
      nodeId: Schema.optionalKey(Schema.String),
      line: Schema.optionalKey(Schema.Number),
      column: Schema.optionalKey(Schema.Number)
    })
  )
}) {
  override get message() {
    const errors = this.problems.filter((p) => p.severity === "error")
    return `the flow has ${errors.length} problem(s):\n${errors.map((p) => `  ${Problem.where(p.path)}: ${p.message}`).join("\n")}`
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Which version a document is written in, or the problem with its `dsl` field. */
const versionOf = (document: Record<string, unknown>): number | Problem.Problem => {
  const dsl = document.dsl
  if (dsl === undefined) {
    // Pre-release files had no version field and nodes as an array.
    if (Array.isArray(document.nodes)) return 0
    return Problem.error(
      "missing-dsl-version",
      "/dsl",
      `is required: add "dsl": ${Dsl.CURRENT_VERSION} (the format version)`
    )
  }
  if (typeof dsl !== "number" || !Number.isInteger(dsl)) {
    return Problem.error(
      "unsupported-dsl-version",
      "/dsl",
      `expected a format version number such as ${Dsl.CURRENT_VERSION}, got ${Validation.show(dsl)}`
    )
  }
  if (dsl < Migrations.OLDEST_VERSION || dsl > Dsl.CURRENT_VERSION) {
    return Problem.error(
      "unsupported-dsl-version",
      "/dsl",
      `unsupported DSL version ${dsl}: this version of @jsonflow/json-dsl reads versions ${Migrations.OLDEST_VERSION} to ${Dsl.CURRENT_VERSION}`
    )
  }
  return dsl
}

const CREDENTIAL_KEY =
  /^(password|passwd|secret|client_?secret|api_?key|access_?token|refresh_?token|private_?key|connection_?string)$/i

/** Credential values written into a config: the format holds names only. */
const credentialWarnings = (nodeId: string, config: unknown): ReadonlyArray<Problem.Problem> => {
  const found: Array<Problem.Problem> = []
  const pending: Array<readonly [unknown, string]> = [[config, Problem.pointer("nodes", nodeId, "config")]]
  while (pending.length > 0) {
    const [value, at] = pending.pop()!
    if (!isObject(value)) continue
    for (const [key, child] of Object.entries(value)) {
      const path = `${at}/${Problem.segment(key)}`
      const constant = isObject(child) && typeof child.value === "string" ? child.value : child
      if (CREDENTIAL_KEY.test(key) && typeof constant === "string" && constant !== "") {
        found.push(
          Problem.warning(
            "credential-value",
            path,
            `"${key}" looks like a credential value: reference a credential by name ("credential": "<name>") and keep the value in the environment`,
            nodeId
          )
        )
      } else pending.push([child, path])
    }
  }
  return found
}

const prefixed = (issues: ReadonlyArray<Validation.Issue>, prefix: string, nodeId?: string) =>
  issues.map((issue) => Problem.error("invalid-document", `${prefix}${issue.path}`, issue.message, nodeId))

const TRIGGER_TYPES = ["manual", "http", "cron", "queue"]

/** A trigger of no known type gets one sentence instead of the union's four shapes. */
const triggerProblem = (trigger: unknown): Problem.Problem | undefined => {
  const type = isObject(trigger) ? trigger.type : undefined
  if (typeof type === "string" && TRIGGER_TYPES.includes(type)) return undefined
  return Problem.error(
    "invalid-document",
    isObject(trigger) ? "/trigger/type" : "/trigger",
    isObject(trigger)
      ? `unknown trigger type ${JSON.stringify(type)}: expected one of ${TRIGGER_TYPES.join(", ")}`
      : `expected a trigger object such as { "type": "manual" }, got ${Validation.show(trigger)}`
  )
}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/"))
const lastSegment = (path: string) => Problem.segmentsOf(path).at(-1) ?? ""
const isShapeNoise = (p: Problem.Problem) => p.message === "is required" || p.message === "is not a known property"

/**
 * A value that fits none of a union's shapes (a condition, a value) makes the decoder report every branch:
 * "op: expected ...", "all: is required", "path: is not a known property", ... Keep the real mismatch when
 * there is one; otherwise say once which shapes are accepted. Linear: problems are grouped once by parent.
 */
const collapseUnions = (problems: ReadonlyArray<Problem.Problem>): ReadonlyArray<Problem.Problem> => {
  const byParent = new Map<string, Array<Problem.Problem>>()
  for (const p of problems) {
    const parent = parentOf(p.path)
    const group = byParent.get(parent)
    if (group === undefined) byParent.set(parent, [p])
    else group.push(p)
  }
  // Only a parent with two or more missing keys is a union that matched no branch.
  const unions = new Map<string, ReadonlySet<string>>()
  for (const [parent, group] of byParent) {
    const required = new Set<string>()
    for (const q of group) if (q.message === "is required") required.add(lastSegment(q.path))
    if (required.size >= 2) unions.set(parent, required)
  }
  if (unions.size === 0) return problems
  const out: Array<Problem.Problem> = []
  const done = new Set<string>()
  for (const p of problems) {
    const parent = parentOf(p.path)
    const required = unions.get(parent)
    if (required === undefined) {
      out.push(p)
      continue
    }
    if (done.has(parent)) continue
    done.add(parent)
    const seen = new Set<string>()
    const real = byParent.get(parent)!.filter((q) => {
      const key = `${q.path}\u0000${q.message}`
      if (isShapeNoise(q) || seen.has(key)) return false
      seen.add(key)
      return true
    })
    if (real.length > 0) out.push(...real)
    else {
      out.push({
        ...p,
        path: parent,
        message: `matches none of the accepted shapes (one of the keys ${[...required].map((k) => `"${k}"`).join(", ")} is expected)`
      })
    }
  }
  return out
}

/** Joins code written as line arrays. */
const joinCode = (type: string, config: unknown): unknown => {
  const field = Dsl.CODE_FIELDS[type]
  if (field === undefined || !isObject(config)) return config
  const source = config[field]
  if (!Array.isArray(source) || !source.every((line) => typeof line === "string")) return config
  return { ...config, [field]: source.join("\n") }
}

interface Assembled {
  readonly ir: Record<string, unknown>
  readonly layout: Record<string, Dsl.Position>
  readonly problems: ReadonlyArray<Problem.Problem>
  /** Nodes left out for structural problems: compiler findings about them are consequences. */
  readonly dropped: ReadonlySet<string>
  /** IR edge index -> file edge index. */
  readonly edgeIndex: ReadonlyArray<number>
  readonly headerBroken: ReadonlySet<string>
}

/** Checks a v1 document part by part and assembles an IR from the sound parts. */
const assemble = (document: Record<string, unknown>): Assembled => {
  const problems: Array<Problem.Problem> = []
  const { nodes: rawNodes, edges: rawEdges, $schema: _schema, dsl: _dsl, ...header } = document
  // Nodes and edges are checked one by one below; a missing key stays missing ("is required").
  const shell: Record<string, unknown> = { ...document }
  if (isObject(rawNodes)) shell.nodes = {}
  if (Array.isArray(rawEdges)) shell.edges = []
  const headerCheck = Validation.decode(Dsl.FlowDocument, shell, { strict: true })
  const headerBroken = new Set<string>()
  if (headerCheck._tag === "Invalid") {
    const trigger = headerCheck.issues.some((i) => i.path.startsWith("/trigger"))
      ? triggerProblem(document.trigger)
      : undefined
    problems.push(
      ...prefixed(
        trigger === undefined ? headerCheck.issues : headerCheck.issues.filter((i) => !i.path.startsWith("/trigger")),
        ""
      )
    )
    if (trigger !== undefined) problems.push(trigger)
    for (const issue of headerCheck.issues) headerBroken.add(Problem.segmentsOf(issue.path)[0] ?? "")
  }
  const nodes: Record<string, unknown> = {}
  const layout: Record<string, Dsl.Position> = {}
  const dropped = new Set<string>()
  if (isObject(rawNodes)) {
    for (const [id, raw] of Object.entries(rawNodes)) {
      const at = Problem.pointer("nodes", id)
      const decoded = Validation.decode(Dsl.NodeDocument, raw, { strict: true })
      if (decoded._tag === "Invalid") {
        problems.push(...prefixed(decoded.issues, at, id))
        dropped.add(id)
        continue
      }
      const { position, config, ...spec } = decoded.value
      if (position !== undefined) layout[id] = position
      const joined = joinCode(spec.type, config)
      nodes[id] = { ...spec, ...(joined === undefined ? {} : { config: joined }) }
      problems.push(...credentialWarnings(id, config))
    }
  }
  const edges: Array<unknown> = []
  const edgeIndex: Array<number> = []
  if (Array.isArray(rawEdges)) {
    rawEdges.forEach((raw, index) => {
      const decoded = Validation.decode(Dsl.EdgeDocument, raw, { strict: true })
      if (decoded._tag === "Invalid") {
        problems.push(...prefixed(decoded.issues, `/edges/${index}`))
        return
      }
      edgeIndex.push(index)
      edges.push(decoded.value)
    })
  }
  // Broken header fields are replaced by neutral ones so the compiler can still check nodes and edges.
  const ir: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(header)) {
    if (!headerBroken.has(key)) ir[key] = value
  }
  ir.id = headerBroken.has("id") || typeof ir.id !== "string" ? "unnamed" : ir.id
  ir.version = headerBroken.has("version") || typeof ir.version !== "string" ? "0" : ir.version
  if (headerBroken.has("trigger") || ir.trigger === undefined) ir.trigger = { type: "manual" }
  ir.nodes = nodes
  ir.edges = edges
  return { ir, layout, problems, dropped, edgeIndex, headerBroken }
}

/** Maps a compiler pointer (into the assembled IR) to a pointer into the v1 document. */
const toDocumentPointer = (path: string, edgeIndex: ReadonlyArray<number>): string => {
  const match = /^\/edges\/(\d+)(.*)$/.exec(path)
  if (match === null) return path
  return `/edges/${edgeIndex[Number(match[1])] ?? match[1]}${match[2]}`
}

/**
 * Loads a canonical flow: `string`/`Uint8Array` input is parsed guardedly, any other value is taken as
 * parsed JSON. Returns the IR and designer layout, or the problems: every one up to `maxProblems`
 * (default {@link Problem.DEFAULT_MAX_PROBLEMS}), errors first, then one line counting the rest.
 *
 * @example
 * ```ts
 * import { Builtins } from "@jsonflow/core"
 * import { Load } from "@jsonflow/json-dsl"
 * const result = Load.load('{"dsl":1,"id":"hi","version":"1","trigger":{"type":"manual"},"nodes":{"a":{"type":"noop"}},' +
 *   '"edges":[{"from":{"node":"$input","port":"out"},"to":{"node":"a","port":"in"}}]}', Builtins.registry)
 * if (result._tag === "Loaded") console.log(result.flow.nodes.a?.type) // "noop"
 * else for (const p of result.problems) console.log(`${p.path}: ${p.message}`)
 * ```
 */
export const load = <R>(input: unknown, registry: Registry.Registry<R>, options: LoadOptions = {}): LoadResult => {
  const read = Input.read(input, options.limits)
  if (read._tag === "Unreadable") return { _tag: "Failed", problems: read.problems }
  return loadRead(read, registry, options)
}

/**
 * {@link load} for a document already read with {@link Input.read}, so a caller that looked at it first
 * (to tell a canonical flow from an nFlow export) does not parse it twice.
 *
 * @example
 * ```ts
 * import { Builtins } from "@jsonflow/core"
 * import { Input, Load } from "@jsonflow/json-dsl"
 * const read = Input.read(text)
 * if (read._tag === "Read" && !("drawflow" in read.value)) Load.loadRead(read, Builtins.registry)
 * ```
 */
export const loadRead = <R>(
  read: Input.Read,
  registry: Registry.Registry<R>,
  options: LoadOptions = {}
): LoadResult => {
  const raw = read.value
  const finish = (found: ReadonlyArray<Problem.Problem>, hidden = 0) =>
    Input.withLocations(Problem.capped(found, options.maxProblems ?? Problem.DEFAULT_MAX_PROBLEMS, hidden), read.locate)
  if ("drawflow" in raw) {
    return {
      _tag: "Failed",
      problems: [
        Problem.error(
          "nflow-export",
          "/drawflow",
          "this is an nFlow designer export, not a JSON-Flow flow: convert it with `jsonflow import-nflow` (or Nflow.importExport)"
        )
      ]
    }
  }
  const duplicateProblems = read.duplicates.map((d) => {
    const segments = Problem.segmentsOf(d.path)
    const isNode = segments.length === 2 && segments[0] === "nodes"
    return {
      ...Problem.error(
        isNode ? "duplicate-node-id" : "duplicate-key",
        d.path,
        isNode
          ? `duplicate node id "${d.key}" (first defined at line ${d.first.line}); node ids must be unique`
          : `duplicate key "${d.key}" (first at line ${d.first.line}); only one may stay`,
        isNode ? d.key : undefined
      ),
      line: d.at.line,
      column: d.at.column
    }
  })
  // Repeated keys past JsonText's cap are counted, not described.
  const hiddenDuplicates = read.duplicateCount - read.duplicates.length
  const version = versionOf(raw)
  if (typeof version !== "number")
    return { _tag: "Failed", problems: finish([...duplicateProblems, version], hiddenDuplicates) }
  const migrated = Migrations.migrate(raw, version, Dsl.CURRENT_VERSION)
  const assembled = assemble(migrated.document)
  const compiled = Compiler.compileSync(assembled.ir, registry, options.flows ? { flows: options.flows } : {})
  const compilerProblems = compiled._tag === "Compiled" ? compiled.flow.warnings : compiled.error.problems
  const relevant = compilerProblems.filter(
    (p) =>
      !(p.nodeId !== undefined && assembled.dropped.has(p.nodeId)) &&
      !(p.code === "cycle" && assembled.headerBroken.has("settings")) &&
      !(assembled.headerBroken.has("nodes") && p.path.startsWith("/edges/")) &&
      p.code !== "invalid-flow"
  )
  const fromCompiler = relevant.map((p) => ({
    severity: p.severity,
    code: p.code,
    message: p.message,
    path: toDocumentPointer(p.path, assembled.edgeIndex),
    ...(p.nodeId === undefined ? {} : { nodeId: p.nodeId })
  }))
  // A node behind a broken one is "unreachable" only as a consequence: say so once, at the cause.
  const broken = new Set(assembled.dropped)
  for (const p of fromCompiler) if (p.severity === "error" && p.nodeId !== undefined) broken.add(p.nodeId)
  const behindBroken = new Set<string>()
  for (const e of Array.isArray(migrated.document.edges) ? (migrated.document.edges as ReadonlyArray<unknown>) : []) {
    const edge = e as { readonly from?: { readonly node?: unknown }; readonly to?: { readonly node?: unknown } }
    const [from, to] = [edge?.from?.node, edge?.to?.node]
    if (typeof from === "string" && typeof to === "string" && broken.has(from)) behindBroken.add(to)
  }
  const consequences = fromCompiler.filter(
    (p) => !(p.code === "unreachable" && p.nodeId !== undefined && behindBroken.has(p.nodeId))
  )
  const inDocument = collapseUnions([...assembled.problems, ...consequences]).map((p) => ({
    ...p,
    path: migrated.toSource(p.path)
  }))
  const all = [...duplicateProblems, ...migrated.problems, ...inDocument]
  // Errors first, each group in the order found (documents order, mostly).
  const ordered = [...all.filter((p) => p.severity === "error"), ...all.filter((p) => p.severity !== "error")]
  const problems = finish(ordered, hiddenDuplicates)
  if (Problem.hasErrors(ordered) || compiled._tag === "Failed") {
    // A failed compile always has an error; if all were filtered as consequences, the document errors explain it.
    return { _tag: "Failed", problems }
  }
  return {
    _tag: "Loaded",
    flow: compiled.flow.flow,
    layout: assembled.layout,
    version,
    warnings: problems
  }
}

/**
 * {@link load} as an Effect: fails with {@link LoadError}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Builtins } from "@jsonflow/core"
 * import { Load } from "@jsonflow/json-dsl"
 * const flow = Load.loadEffect(text, Builtins.registry).pipe(Effect.map((loaded) => loaded.flow))
 * ```
 */
export const loadEffect = <R>(
  input: unknown,
  registry: Registry.Registry<R>,
  options: LoadOptions = {}
): Effect.Effect<Loaded, LoadError> =>
  Effect.suspend(() => {
    const result = load(input, registry, options)
    return result._tag === "Loaded" ? Effect.succeed(result) : Effect.fail(new LoadError({ problems: result.problems }))
  })
