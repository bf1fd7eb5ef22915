/**
 * Node definitions: the behaviour behind a node `type`.
 *
 * A definition declares a config Schema, an input Schema and named output ports (each with a Schema), and
 * a `run` function returning an `Effect` whose requirements are the services the node needs (a SQL client,
 * the sandbox, ...). Flows stay plain data; definitions are resolved by type name through a registry.
 *
 * @module Node
 */
import { Effect, Schema } from "effect"
import { ERROR_PORT, OUT_PORT } from "./Ir.ts"

/** A Schema a port or config can use: decodes from and encodes to JSON-compatible data, needs no services. */
export type PortSchema<A> = Schema.Codec<A, unknown>

/** Output ports of a definition: port name -> value type. */
export type Ports = { readonly [port: string]: unknown }

/**
 * What `run` returns for a node with several output ports: the port to emit on and its value, or an array of
 * them to emit on several ports at once (a fork). Ports not emitted on are inactive: nodes that only depend
 * on them are skipped.
 */
export type Emission<O extends Ports> =
  | { readonly [K in keyof O & string]: { readonly port: K; readonly value: O[K] } }[keyof O & string]
  | ReadonlyArray<{ readonly [K in keyof O & string]: { readonly port: K; readonly value: O[K] } }[keyof O & string]>

/** An HTTP-style reply set by a respond node (the runner's HTTP trigger writes it back). */
export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

/** What a node sees of the execution it runs in. */
export interface NodeContext {
  readonly executionId: string
  readonly flowId: string
  readonly flowVersion: string
  readonly nodeId: string
  readonly nodeType: string
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number
  /** The data the execution was triggered with. */
  readonly trigger: unknown
  /** The execution's variables (set by `setVariables` nodes). */
  readonly variables: Readonly<Record<string, unknown>>
  /** Sets an execution variable, visible to nodes that start after this one. */
  readonly setVariable: (name: string, value: unknown) => void
  /** The last value an earlier node emitted on a port, if any. */
  readonly outputOf: (nodeId: string, port?: string) => unknown
  /** Sets the execution's reply; the first reply wins, later ones are ignored (returns false). */
  readonly reply: (reply: Reply) => boolean
  /**
   * Runs the sub-flow attached to this node (a for-each body or a called flow) as a child execution.
   * Only nodes whose definition declares `subflow` get one; for others it fails with a defect.
   */
  readonly runSubflow: (input: unknown) => Effect.Effect<unknown, unknown>
}

/** The data carried on a node's `error` port when its failure is routed there (try/catch). */
export const NodeFailure = Schema.Struct({
  node: Schema.String,
  type: Schema.String,
  attempts: Schema.Number,
  error: Schema.Struct({ _tag: Schema.String, message: Schema.String, retryable: Schema.Boolean }),
  input: Schema.Unknown
})
export type NodeFailure = typeof NodeFailure.Type

/**
 * Thrown by a {@link Definition.prepareSync} function to fail the node with `error`, a typed failure (retried
 * and routed like one `run` fails with), rather than a defect.
 *
 * @example
 * ```ts
 * import { Node } from "@jsonflow/core"
 * const prepareSync = () => (input: unknown) => {
 *   if (!Array.isArray(input)) throw new Node.SyncFailure({ _tag: "NotArray", retryable: false })
 *   return input.length
 * }
 * ```
 */
export class SyncFailure {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

/** Where a node's sub-flow comes from: an inline graph in its config, or another flow by id. */
export type SubflowSource =
  | { readonly _tag: "Inline"; readonly graph: unknown }
  | { readonly _tag: "Ref"; readonly flowId: string; readonly version?: string }

/** What {@link Definition.prepareSync} returns (declared as a method so definitions stay assignable to `Any`). */
export type SyncRun<I, A> = { run(input: I, context: NodeContext): A }["run"]

/**
 * A node type. Build one with {@link define}; `run` is declared as a method so definitions of different
 * types can sit in one registry.
 */
export interface Definition<Type extends string, C, I, O extends Ports, E, R> {
  readonly type: Type
  readonly description: string
  readonly config: PortSchema<C>
  readonly input: PortSchema<I>
  /**
   * The Schema of each output port. A promise, not a check: outputs are not re-validated at run time, and an
   * edge the compiler proves compatible from these Schemas is not checked either (see the `Compatibility` module).
   */
  readonly outputs: { readonly [K in keyof O]: PortSchema<O[K]> }
  /** `single` (default): one input port `in`. `join`: input is a record keyed by the edges' target port names. */
  readonly inputMode: "single" | "join"
  /** Whether a failure may be retried under the node's retry policy (default: the error's `retryable` field). */
  isRetryable(error: E): boolean
  run(input: I, config: C, context: NodeContext): Effect.Effect<Emission<O>, E, R>
  /**
   * For definitions with the single port `out` (made with `output`): `run` without the wrapping into
   * `{ port: "out", value }`. The engine calls it to save an allocation and a map per node.
   */
  runValue?(input: I, config: C, context: NodeContext): Effect.Effect<O[keyof O], E, R>
  /**
   * For single-output nodes whose work, for some configs, needs no Effect at all (a map of paths and
   * constants, a pass-through): called once per node when a flow is compiled, it returns a synchronous
   * function that computes the `out` value, or `undefined` when this config needs `run`. The engine then
   * calls that function instead of `run`, with no Effect step. To fail with a typed error it throws a
   * {@link SyncFailure}; any other throw is a defect, like a throw in `run`. The built-ins use it; a
   * definition made with {@link define} does not need it.
   */
  prepareSync?(config: C): SyncRun<I, O[keyof O]> | undefined
  /** For nodes that run another graph (for-each, sub-flow call): where it comes from. */
  subflow?(config: C): SubflowSource
  /** Output port names chosen by the config (a switch's cases, a script's ports); their values are `unknown`. */
  dynamicPorts?(config: C): ReadonlyArray<string>
}

/** A definition of any type, as stored in a registry. */
export type Any = Definition<string, unknown, unknown, Ports, unknown, unknown>
/** A definition requiring services `R`. */
export type AnyWith<R> = Definition<string, unknown, unknown, Ports, unknown, R>

/** Type-level accessors. */
export type ConfigOf<D> = D extends Definition<string, infer C, infer _I, infer _O, infer _E, infer _R> ? C : never
export type InputOf<D> = D extends Definition<string, infer _C, infer I, infer _O, infer _E, infer _R> ? I : never
export type OutputsOf<D> = D extends Definition<string, infer _C, infer _I, infer O, infer _E, infer _R> ? O : never
export type ErrorOf<D> = D extends Definition<string, infer _C, infer _I, infer _O, infer E, infer _R> ? E : never
export type ServicesOf<D> = D extends Definition<string, infer _C, infer _I, infer _O, infer _E, infer R> ? R : never

const defaultRetryable = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { readonly retryable?: unknown }).retryable === true

interface CommonOptions<Type extends string, C, I, E> {
  readonly type: Type
  readonly description?: string
  readonly config?: PortSchema<C>
  readonly input: PortSchema<I>
  readonly inputMode?: "single" | "join"
  readonly isRetryable?: (error: E) => boolean
  readonly subflow?: (config: C) => SubflowSource
}

/**
 * Defines a node type with one output port, `out`: `run` returns the value.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Node } from "@jsonflow/core"
 *
 * const double = Node.define({
 *   type: "double",
 *   config: Schema.Struct({ by: Schema.Number }),
 *   input: Schema.Number,
 *   output: Schema.Number,
 *   run: (n, config) => Effect.succeed(n * config.by)
 * })
 * ```
 */
export function define<const Type extends string, C, I, A, E = never, R = never>(
  options: CommonOptions<Type, C, I, E> & {
    readonly output: PortSchema<A>
    readonly run: (input: I, config: C, context: NodeContext) => Effect.Effect<A, E, R>
  }
): Definition<Type, C, I, { readonly out: A }, E, R>
/**
 * Defines a node type with named output ports: `run` returns `{ port, value }` (or an array of them).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Node } from "@jsonflow/core"
 *
 * const sign = Node.define({
 *   type: "sign",
 *   input: Schema.Number,
 *   outputs: { positive: Schema.Number, negative: Schema.Number },
 *   run: (n) => Effect.succeed(n >= 0 ? { port: "positive", value: n } : { port: "negative", value: n })
 * })
 * ```
 */
export function define<const Type extends string, C, I, O extends Ports, E = never, R = never>(
  options: CommonOptions<Type, C, I, E> & {
    readonly outputs: { readonly [K in keyof O]: PortSchema<O[K]> }
    readonly dynamicPorts?: (config: C) => ReadonlyArray<string>
    readonly run: (input: I, config: C, context: NodeContext) => Effect.Effect<Emission<O>, E, R>
  }
): Definition<Type, C, I, O, E, R>
export function define(options: {
  readonly type: string
  readonly description?: string
  readonly config?: PortSchema<unknown>
  readonly input: PortSchema<unknown>
  readonly inputMode?: "single" | "join"
  readonly isRetryable?: (error: unknown) => boolean
  readonly subflow?: (config: unknown) => SubflowSource
  readonly output?: PortSchema<unknown>
  readonly outputs?: { readonly [port: string]: PortSchema<unknown> }
  readonly dynamicPorts?: (config: unknown) => ReadonlyArray<string>
  readonly run: (input: unknown, config: unknown, context: NodeContext) => Effect.Effect<unknown, unknown, unknown>
}): Any {
  if (ERROR_PORT in (options.outputs ?? {})) {
    throw new Error(`node type ${options.type}: the port name "${ERROR_PORT}" is reserved for failures`)
  }
  const single = options.outputs === undefined
  const userRun = options.run
  return {
    type: options.type,
    description: options.description ?? "",
    config: options.config ?? (EmptyConfig as PortSchema<unknown>),
    input: options.input,
    outputs: single ? { [OUT_PORT]: options.output ?? Schema.Unknown } : options.outputs!,
    inputMode: options.inputMode ?? "single",
    isRetryable: options.isRetryable ?? defaultRetryable,
    run: single
      ? (input, config, context) => Effect.map(userRun(input, config, context), (value) => ({ port: OUT_PORT, value }))
      : (userRun as Any["run"]),
    ...(single ? { runValue: userRun as NonNullable<Any["runValue"]> } : {}),
    ...(options.subflow ? { subflow: options.subflow } : {}),
    ...(options.dynamicPorts ? { dynamicPorts: options.dynamicPorts } : {})
  }
}

/** Config of a node type that takes none: absent, `null` or `{}`. */
export const EmptyConfig = Schema.Union([Schema.Struct({}), Schema.Null, Schema.Undefined])
