/**
 * The flow table: every loaded flow compiled once, with its route, queue or schedule, as one immutable
 * value. A reload builds a new table and swaps the reference; an execution holds the entry it started with,
 * so it finishes on that version whatever is swapped in meanwhile.
 *
 * @module flowTable
 */
import { Compiler, type Flow, FlowError, type Ir, type Registry, Validation } from "@jsonflow/core"
import { Effect, JsonSchema, Schema, SchemaRepresentation } from "effect"
import type * as Config from "../Config.ts"
import * as Router from "../http/router.ts"
import type { SourcedFlow } from "../sources/FlowSource.ts"

/** Which services an entry runs with: the JSON environment (sandbox, guarded HTTP) or only the user's layers. */
export type Environment = "json" | "builder"

/** Validates a flow input; `undefined` means anything goes. */
export type InputCheck = (
  value: unknown
) =>
  | { readonly _tag: "Valid"; readonly value: unknown }
  | { readonly _tag: "Invalid"; readonly issues: ReadonlyArray<Validation.Issue> }

/** One runnable flow version. */
export interface FlowEntry {
  readonly id: string
  readonly version: string
  readonly kind: SourcedFlow["kind"]
  readonly source: string
  readonly ir: Ir.Flow
  readonly environment: Environment
  readonly checkInput: InputCheck | undefined
  readonly limits: ReturnType<typeof Config.limitsOf>
  /** The queue this flow consumes: a queue trigger's name, or `flow.<id>` for HTTP flows that enqueue. */
  readonly queue: string | undefined
  readonly run: (
    input: unknown,
    options: Compiler.RunOptions
  ) => Effect.Effect<Compiler.ExecutionResult, FlowError.FlowError, unknown>
}

/** The whole table. */
export interface FlowTable {
  readonly flows: ReadonlyMap<string, FlowEntry>
  readonly router: Router.Router<FlowEntry>
  readonly queues: ReadonlyMap<string, FlowEntry>
  readonly crons: ReadonlyArray<FlowEntry>
  /** Flows that did not compile or clash, with why. */
  readonly failures: ReadonlyArray<{ readonly source: string; readonly flowId?: string; readonly message: string }>
}

/** An empty table (before the first load). */
export const empty: FlowTable = {
  flows: new Map(),
  router: Router.make<FlowEntry>([]).router,
  queues: new Map(),
  crons: [],
  failures: []
}

/** The queue name an HTTP flow enqueues on. */
export const enqueueQueueOf = (flowId: string) => `flow.${flowId}`

// JSON flows carry their input contract as JSON Schema; turn it into an Effect Schema once per version.
/**
 * The check a JSON flow's declared `input` (JSON Schema) makes, shared by the HTTP trigger and `jsonflow run`.
 *
 * @example
 * ```ts
 * const { check } = inputCheckOf(ir)
 * check?.({ value: "x" }) // { _tag: "Invalid", issues: [...] }
 * ```
 */
export const inputCheckOf = (flow: Ir.Flow): { readonly check: InputCheck | undefined; readonly warning?: string } => {
  if (flow.input === undefined || Object.keys(flow.input).length === 0) return { check: undefined }
  try {
    const schema = SchemaRepresentation.fromJsonSchemaDocument(JsonSchema.fromSchemaDraft2020_12(flow.input), {
      patterns: "apply"
    }) as Schema.Codec<unknown, unknown>
    return { check: (value) => Validation.decode(schema, value) }
  } catch (error) {
    return {
      check: undefined,
      warning: `the input schema cannot be enforced (${error instanceof Error ? error.message : String(error)}); inputs are not checked`
    }
  }
}

/** What building a table needs. */
export interface BuildOptions {
  readonly config: Config.Resolved
  readonly jsonRegistry: Registry.Registry<unknown>
  readonly limitsOf: (flowId: string) => ReturnType<typeof Config.limitsOf>
  /** The previous table: a flow that fails to compile now keeps its previous version. */
  readonly previous?: FlowTable
  /** Sources (files, rows) that failed to load this time: their previous flows stay in service. */
  readonly failedSources?: ReadonlyArray<string>
  readonly warn?: (message: string, fields: Record<string, unknown>) => void
}

/**
 * Compiles sourced flows into a table. Nothing throws: problems are collected in `failures`.
 *
 * @example
 * ```ts
 * const table = build(sourced, { config, jsonRegistry, limitsOf: (id) => Config.limitsOf(config, id) })
 * table.router.lookup("POST", "/double")
 * ```
 */
export const build = (sourced: ReadonlyArray<SourcedFlow>, options: BuildOptions): FlowTable => {
  const failures: Array<{ source: string; flowId?: string; message: string }> = []
  const irs: Record<string, Ir.Flow> = {}
  for (const s of sourced) {
    const ir = s.kind === "builder" ? s.definition.ir : s.ir
    irs[ir.id] ??= ir
  }
  const entries = new Map<string, FlowEntry>()
  const sources = new Map<string, string>()
  const only = options.config.flows.only
  for (const s of sourced) {
    const ir = s.kind === "builder" ? s.definition.ir : s.ir
    if (only !== undefined && ir.id !== only) continue
    const earlier = sources.get(ir.id)
    if (earlier !== undefined) {
      failures.push({ source: s.source, flowId: ir.id, message: `flow id "${ir.id}" is already defined by ${earlier}` })
      continue
    }
    const limits = options.limitsOf(ir.id)
    const queue =
      ir.trigger.type === "queue"
        ? ir.trigger.queue
        : ir.trigger.type === "http" && limits.enqueue
          ? enqueueQueueOf(ir.id)
          : undefined
    let entry: FlowEntry | undefined
    if (s.kind === "builder") {
      const compiled = compileBuilder(s.definition)
      if (compiled._tag === "Failed") failures.push({ source: s.source, flowId: ir.id, message: compiled.message })
      else {
        entry = {
          id: ir.id,
          version: ir.version,
          kind: s.kind,
          source: s.source,
          ir,
          environment: "builder",
          checkInput: undefined,
          limits,
          queue,
          run: compiled.run
        }
      }
    } else {
      const outcome = Compiler.compileSync(ir, options.jsonRegistry, { flows: irs })
      if (outcome._tag === "Failed") {
        failures.push({ source: s.source, flowId: ir.id, message: outcome.error.message })
      } else {
        const input = inputCheckOf(ir)
        if (input.warning) options.warn?.(input.warning, { flowId: ir.id, source: s.source })
        const compiled = outcome.flow
        entry = {
          id: ir.id,
          version: ir.version,
          kind: s.kind,
          source: s.source,
          ir,
          environment: "json",
          checkInput: input.check,
          limits,
          queue,
          run: (value, runOptions) => compiled.run(value, runOptions)
        }
      }
    }
    if (entry === undefined) {
      const kept = options.previous?.flows.get(ir.id)
      if (kept) entries.set(ir.id, { ...kept, limits })
      continue
    }
    sources.set(ir.id, s.source)
    entries.set(ir.id, entry)
  }
  // A file that no longer loads (a broken edit) keeps serving what it served before.
  const failed = new Set(options.failedSources ?? [])
  for (const kept of options.previous?.flows.values() ?? []) {
    const file = kept.source.split("#")[0]!
    if ((failed.has(file) || failed.has(kept.source)) && !entries.has(kept.id)) {
      entries.set(kept.id, { ...kept, limits: options.limitsOf(kept.id) })
    }
  }
  if (only !== undefined && !entries.has(only)) {
    failures.push({ source: "flows.only", flowId: only, message: `single-flow mode: no flow "${only}" was loaded` })
  }
  const routes: Array<Router.Route<FlowEntry>> = []
  const queues = new Map<string, FlowEntry>()
  const crons: Array<FlowEntry> = []
  for (const entry of entries.values()) {
    const trigger = entry.ir.trigger
    if (trigger.type === "http") {
      if (!trigger.path.startsWith("/")) {
        failures.push({
          source: entry.source,
          flowId: entry.id,
          message: `trigger path "${trigger.path}" must start with /`
        })
        continue
      }
      routes.push({ method: trigger.method, path: trigger.path, target: entry })
    }
    if (trigger.type === "cron") crons.push(entry)
    if (entry.queue !== undefined) {
      const other = queues.get(entry.queue)
      if (other) {
        failures.push({
          source: entry.source,
          flowId: entry.id,
          message: `queue "${entry.queue}" is already consumed by flow "${other.id}"`
        })
      } else queues.set(entry.queue, entry)
    }
  }
  const { router, conflicts } = Router.make(routes)
  for (const c of conflicts) {
    failures.push({
      source: c.route.target.source,
      flowId: c.route.target.id,
      message: `route ${c.route.method} ${c.route.path} is already served by flow "${c.existing.target.id}"`
    })
  }
  return { flows: entries, router, queues, crons, failures }
}

type BuilderRun = FlowEntry["run"]

/**
 * Compiles a builder flow with its own registry; its `run` decodes the input with the flow's Schema.
 *
 * @example
 * ```ts
 * const compiled = compileBuilder(greet)
 * if (compiled._tag === "Compiled") compiled.run({ name: "Ada" }, {})
 * ```
 */
export const compileBuilder = (
  definition: Flow.FlowDefinition<unknown, unknown, unknown>
): { readonly _tag: "Compiled"; readonly run: BuilderRun } | { readonly _tag: "Failed"; readonly message: string } => {
  // Its `run` below decodes the input with the flow's Schema first (or the flow takes anything).
  const outcome = Compiler.compileSync(definition.ir, definition.registry, {
    flows: definition.flows,
    inputChecked: true
  })
  if (outcome._tag === "Failed") return { _tag: "Failed", message: outcome.error.message }
  const compiled = outcome.flow
  const inputSchema = definition.input
  const isUnknown = inputSchema === (Schema.Unknown as unknown)
  return {
    _tag: "Compiled",
    // Builder flows decode their input with the flow's own Schema (the same as Flow.compile does).
    run: isUnknown
      ? (input, options) => compiled.run(input, options)
      : (input, options) => {
          const decoded = Validation.decode(inputSchema, input)
          return decoded._tag === "Valid"
            ? compiled.run(decoded.value, options)
            : (invalidInput(definition.ir.id, options, decoded.issues) as ReturnType<BuilderRun>)
        }
  }
}

/**
 * The error a bad flow input gets: `InputInvalid` at `$input`, naming the first problem's path.
 *
 * @example
 * ```ts
 * const checked = entry.checkInput?.(input)
 * if (checked?._tag === "Invalid") return { _tag: "Failed", error: inputInvalidError(entry.id, "", checked.issues) }
 * ```
 */
export const inputInvalidError = (
  flowId: string,
  executionId: string,
  issues: ReadonlyArray<Validation.Issue>
): FlowError.InputInvalid =>
  new FlowError.InputInvalid({
    flowId,
    executionId,
    nodeId: "$input",
    port: "out",
    path: issues[0]?.path ?? "",
    problem: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
  })

/** {@link inputInvalidError} as the failure of a run. */
export const invalidInput = (
  flowId: string,
  options: Compiler.RunOptions,
  issues: ReadonlyArray<Validation.Issue>
): Effect.Effect<never, FlowError.InputInvalid> =>
  Effect.fail(inputInvalidError(flowId, options.executionId ?? "", issues))
