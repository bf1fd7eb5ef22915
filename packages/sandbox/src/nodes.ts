/**
 * The `js` and `ts` node types: a transform written as an ES module whose default export is
 * `(input, ctx) => output` (or an async function), run in the {@link Sandbox}.
 *
 * Ports: with the default `ports` (`["out"]`, or any single port) the script's return value is emitted on
 * that port. With two or more `ports`, the script chooses: it returns `{ port: "name", value }`, or an
 * array of those to emit on several ports at once; anything else fails with `ScriptPortInvalid`. Ports
 * not emitted on are inactive, so the nodes behind them are skipped (branching).
 *
 * Console output goes to the Effect logger (annotated with the node and execution ids).
 *
 * @module nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Result, Schema } from "effect"
import { type SandboxError, ScriptPortInvalid } from "./errors.ts"
import * as Limits from "./Limits.ts"
import { Sandbox, type ScriptResult } from "./Sandbox.ts"
import * as Script from "./Script.ts"
import type { StaticCheckPolicy } from "./staticCheck.ts"

const PortName = Schema.String.check(
  Schema.isPattern(/^(?!error$)[A-Za-z_][A-Za-z0-9_-]*$/, {
    message: "a port is a name like valid_orders, and not error"
  })
)

/**
 * What the node definitions must know of the sandbox that will run them, so that a flow is checked when it
 * is loaded exactly as its calls will be: pass the same options as to `Sandbox.layer` (extra fields are
 * ignored).
 */
export interface NodeOptions {
  /** The sandbox's static-check policy (default `"block"`, as `Sandbox.layer`'s). */
  readonly staticChecks?: StaticCheckPolicy
  /** The sandbox's ceilings (default {@link Limits.ceilings}, as `Sandbox.layer`'s). */
  readonly maxLimits?: Partial<Limits.Limits>
}

/**
 * Scripts are compiled when the flow is loaded (config decoding) with the policy the sandbox applies: a
 * syntax error or a construct the policy blocks is reported then, with its position. The compiled script
 * is cached, so the node's first call does not compile it again.
 */
const compiles = (language: Script.Language, policy: StaticCheckPolicy) =>
  Schema.makeFilter((source: string) => {
    const outcome = Script.compile(source, { language, staticChecks: policy })
    if (Result.isSuccess(outcome)) return undefined
    const error = outcome.failure
    const what = error.reason === "forbidden" ? "the script is refused" : "the script does not compile"
    return `${what}: line ${error.line}, column ${error.column}: ${error.detail}`
  })

const UNITS: Readonly<Record<keyof Limits.Limits, string>> = {
  timeoutMs: "ms",
  memoryMb: "MB",
  maxInputBytes: "bytes",
  maxOutputBytes: "bytes",
  maxLogBytes: "bytes"
}

/** A limit between the sandbox's minimum and the runner's ceiling: over it is an error, not a silent cap. */
const limit = (key: keyof Limits.Limits, ceilings: Limits.Limits) =>
  Schema.optionalKey(
    Schema.Int.check(
      Schema.isGreaterThanOrEqualTo(Limits.minimums[key]),
      Schema.isLessThanOrEqualTo(ceilings[key], {
        message: `${key} is over the sandbox's ceiling of ${ceilings[key]} ${UNITS[key]} (raise maxLimits.${key} of the runner's sandbox to allow it)`
      })
    )
  )

const configOf = (language: Script.Language, options: NodeOptions) => {
  const ceilings = Limits.ceilingsOf(options.maxLimits)
  return Schema.Struct({
    /** The module: `export default (input, ctx) => output`. */
    source: Schema.String.check(compiles(language, options.staticChecks ?? "block")),
    /** Output ports (default `["out"]`); with more than one, the script returns `{ port, value }`. */
    ports: Schema.optionalKey(Schema.Array(PortName).check(Schema.isMinLength(1))),
    timeoutMs: limit("timeoutMs", ceilings),
    memoryMb: limit("memoryMb", ceilings),
    maxInputBytes: limit("maxInputBytes", ceilings),
    maxOutputBytes: limit("maxOutputBytes", ceilings),
    maxLogBytes: limit("maxLogBytes", ceilings)
  })
}

/** Config of a `js` node (checked with the default policy and ceilings; see {@link make}). */
export const JsConfig = configOf("js", {})
export type JsConfig = typeof JsConfig.Type
/** Config of a `ts` node (checked with the default policy and ceilings; see {@link make}). */
export const TsConfig = configOf("ts", {})
export type ScriptConfig = typeof JsConfig.Type

const DEFAULT_PORTS: ReadonlyArray<string> = ["out"]

const limitsOf = (config: ScriptConfig): Partial<Limits.Limits> | undefined => {
  if (
    config.timeoutMs === undefined &&
    config.memoryMb === undefined &&
    config.maxInputBytes === undefined &&
    config.maxOutputBytes === undefined &&
    config.maxLogBytes === undefined
  ) {
    return undefined
  }
  const limits: { -readonly [K in keyof Limits.Limits]?: number } = {}
  if (config.timeoutMs !== undefined) limits.timeoutMs = config.timeoutMs
  if (config.memoryMb !== undefined) limits.memoryMb = config.memoryMb
  if (config.maxInputBytes !== undefined) limits.maxInputBytes = config.maxInputBytes
  if (config.maxOutputBytes !== undefined) limits.maxOutputBytes = config.maxOutputBytes
  if (config.maxLogBytes !== undefined) limits.maxLogBytes = config.maxLogBytes
  return limits
}

const LEVELS = { log: "Info", info: "Info", warn: "Warn", error: "Error", debug: "Debug" } as const

const forwardLogs = (result: ScriptResult, context: Node.NodeContext): Effect.Effect<void> => {
  if (result.logs.length === 0 && result.droppedLogs === 0) return Effect.void
  const lines = result.logs.map((line) => Effect.logWithLevel(LEVELS[line.level])(line.message))
  if (result.droppedLogs > 0) lines.push(Effect.logWarning(`${result.droppedLogs} console line(s) over the log cap`))
  return Effect.all(lines, { discard: true }).pipe(
    Effect.annotateLogs({ nodeId: context.nodeId, executionId: context.executionId, source: "script" })
  )
}

type Emission = { readonly port: "out"; readonly value: unknown }

const isChoice = (value: unknown, ports: ReadonlyArray<string>): value is { port: string; value: unknown } =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  typeof (value as { port?: unknown }).port === "string" &&
  ports.includes((value as { port: string }).port) &&
  "value" in value

/** Turns a script's result into the node's emission(s), following the port rule of this module. */
const route = (
  output: unknown,
  ports: ReadonlyArray<string>,
  context: Node.NodeContext
): Effect.Effect<Emission | ReadonlyArray<Emission>, ScriptPortInvalid> => {
  if (ports.length === 1) return Effect.succeed({ port: ports[0] as "out", value: output })
  const invalid = (detail: string) =>
    Effect.fail(
      new ScriptPortInvalid({ nodeId: context.nodeId, executionId: context.executionId, ports: [...ports], detail })
    )
  if (Array.isArray(output)) {
    if (output.length === 0) return invalid("it returned an empty array")
    const bad = output.find((item) => !isChoice(item, ports))
    if (bad !== undefined) return invalid(`it returned an array with ${JSON.stringify(bad)?.slice(0, 200)}`)
    return Effect.succeed(
      output.map((item: { port: string; value: unknown }) => ({ port: item.port as "out", value: item.value }))
    )
  }
  if (isChoice(output, ports)) return Effect.succeed({ port: output.port as "out", value: output.value })
  return invalid(`it returned ${JSON.stringify(output)?.slice(0, 200) ?? String(output)}`)
}

const runScript =
  (language: Script.Language) =>
  (
    input: unknown,
    config: ScriptConfig,
    context: Node.NodeContext
  ): Effect.Effect<Emission | ReadonlyArray<Emission>, SandboxError | ScriptPortInvalid, Sandbox> =>
    Sandbox.use((sandbox) => {
      const where = { nodeId: context.nodeId, executionId: context.executionId }
      const limits = limitsOf(config)
      return sandbox.compile(config.source, { language, ...where }).pipe(
        Effect.flatMap((script) =>
          sandbox.run(script, input, {
            ...where,
            variables: context.variables,
            attempt: context.attempt,
            ...(limits === undefined ? {} : { limits })
          })
        ),
        Effect.flatMap((result) =>
          Effect.andThen(forwardLogs(result, context), route(result.output, config.ports ?? DEFAULT_PORTS, context))
        )
      )
    })

const defineJs = (config: typeof JsConfig) =>
  Node.define({
    type: "js",
    description: "Runs a JavaScript transform `export default (input, ctx) => output` in the sandbox.",
    config,
    input: Schema.Unknown,
    outputs: { out: Schema.Unknown },
    dynamicPorts: (config) => config.ports ?? DEFAULT_PORTS,
    run: runScript("js")
  })

const defineTs = (config: typeof TsConfig) =>
  Node.define({
    type: "ts",
    description: "Runs a TypeScript transform `export default (input, ctx) => output` in the sandbox (types stripped).",
    config,
    input: Schema.Unknown,
    outputs: { out: Schema.Unknown },
    dynamicPorts: (config) => config.ports ?? DEFAULT_PORTS,
    run: runScript("ts")
  })

/**
 * The `js` node: a JavaScript transform. Its config is checked with the default static-check policy and
 * ceilings; a runner whose sandbox has other ones uses {@link make}.
 *
 * @example
 * ```json
 * { "id": "total", "type": "js", "config": { "source": "export default (order) => order.items.reduce((s, i) => s + i.price, 0)" } }
 * ```
 * Branching: `{ "ports": ["big", "small"], "source": "export default (o) => ({ port: o.total > 100 ? 'big' : 'small', value: o })" }`
 */
export const jsNode = defineJs(JsConfig)

/**
 * The `ts` node: a TypeScript transform (types are stripped; enums and namespaces are refused).
 *
 * @example
 * ```json
 * { "id": "total", "type": "ts", "config": { "source": "export default (o: { total: number }): number => o.total * 1.2" } }
 * ```
 */
export const tsNode = defineTs(TsConfig)

/** Both script node types, for a sandbox with the default options, ready for `Registry.make(...definitions)`. */
export const definitions = [jsNode, tsNode] as const

/**
 * The `js` and `ts` definitions for a sandbox built with `options`: a flow is then refused when it is
 * loaded if a script is one the sandbox's static-check policy blocks, or a node asks for a limit over the
 * sandbox's ceilings (naming the node, the field, the value and the ceiling), rather than failing at every
 * call or being silently capped.
 *
 * @example
 * ```ts
 * import { Registry } from "@jsonflow/core"
 * import { Nodes, Sandbox } from "@jsonflow/sandbox"
 * const sandboxOptions = { staticChecks: "report", maxLimits: { timeoutMs: 300_000 } } as const
 * const registry = Registry.make(...Nodes.make(sandboxOptions))
 * const live = Sandbox.layer(sandboxOptions)
 * ```
 */
export const make = (options: NodeOptions = {}): readonly [typeof jsNode, typeof tsNode] => {
  if ((options.staticChecks ?? "block") === "block" && options.maxLimits === undefined) return definitions
  return [defineJs(configOf("js", options)), defineTs(configOf("ts", options))] as const
}
