/**
 * The typed builder: flows in TypeScript whose port types flow from node to node.
 *
 * Each step adds a named node and says where its input comes from. Selectors receive typed ports:
 * `p.$input` (the flow input) and `p.<nodeId>.<port>` for every node added so far, including the implicit
 * `error` port. Wiring an output whose type does not fit the node's input is a compile error, and the
 * services the nodes need accumulate in the flow's type, so running it without them is a compile error too.
 * The builder produces the same plain IR as the JSON loader.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Flow, Node } from "@jsonflow/core"
 *
 * const double = Node.define({
 *   type: "double", input: Schema.Number, output: Schema.Number,
 *   run: (n) => Effect.succeed(n * 2)
 * })
 * const flow = Flow.make({ id: "doubler", input: Schema.Number })
 *   .node("twice", double, {}, (p) => p.$input)
 *   .andThen("again", double, {})
 *   .build()
 * const result = await Effect.runPromise(Flow.run(flow, 5)) // result.output === 20
 * ```
 *
 * @module Flow
 */
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import * as Builtins from "./Builtins.ts"
import * as Compiler from "./Compiler.ts"
import type * as Expr from "./Expr.ts"
import { type FlowError, InputInvalid } from "./FlowError.ts"
import * as Ir from "./Ir.ts"
import type * as Node from "./Node.ts"
import * as Registry from "./Registry.ts"
import * as Validation from "./Validation.ts"

declare const PortType: unique symbol
declare const PortSkippable: unique symbol

/**
 * A typed reference to an output port; `A` is the type of the values it emits. `Skippable` says whether the
 * port can stay silent in an execution that succeeds: `false` for a port that emits whenever the flow gets
 * that far (the flow input, the `out` of a node on an unconditional path), `true` for a switch case, an
 * `error` port, a multi-port node's ports, and every port downstream of those. A join makes the fields of
 * skippable branches optional and the others required.
 */
export interface Port<out A, out Skippable extends boolean = boolean> {
  readonly node: string
  readonly port: string
  readonly [PortType]: (_: never) => A
  readonly [PortSkippable]: Skippable
}

const port = <A, S extends boolean = false>(node: string, name: string): Port<A, S> =>
  ({ node, port: name }) as Port<A, S>

declare const MaySkip: unique symbol

/**
 * Marks, in the builder's record of node outputs, a node that may be skipped in an execution that
 * succeeds (its ports are then `Port<_, true>`).
 */
export type Skippable = { readonly [MaySkip]: true }

type SkipOf<O> = O extends Skippable ? true : false

/** The ports of a node with outputs `O`, plus its `error` port (which only emits when the node fails). */
export type NodePorts<O> = { readonly [K in keyof O & string]: Port<O[K], SkipOf<O>> } & {
  readonly error: Port<Node.NodeFailure, true>
}

/** What selectors receive: the flow input and every node added so far. */
export type Ports<I, H> = { readonly $input: Port<I, false> } & { readonly [K in keyof H]: NodePorts<H[K]> }

/** Where a node's input comes from: one port, or several (the first active one is used). */
export type Source<A> = Port<A> | ReadonlyArray<Port<A>>

/** A join-mode node's input ports, each with its source: `{ left: p.a.out, right: p.b.out }`. */
export type NamedSources = { readonly [port: string]: Source<unknown> }

/** The type of the values a source carries. */
export type SourceValue<S> = S extends ReadonlyArray<infer P> ? PortValue<P> : PortValue<S>
type PortValue<P> = P extends Port<infer A, boolean> ? A : never
type PortSkip<P> = P extends Port<unknown, infer F> ? F : never

/** Whether a source can stay silent: a single port as it says, several ports only if all of them can. */
export type SourceSkips<S> =
  S extends ReadonlyArray<infer P>
    ? false extends PortSkip<P>
      ? false
      : true
    : [PortSkip<S>] extends [false]
      ? false
      : true

type Or<A extends boolean, B extends boolean> = [A] extends [false] ? ([B] extends [false] ? false : true) : true

/** A node with other ports than `out` may emit on some of them only. */
type MultiPort<O> = [Exclude<keyof O, "out">] extends [never] ? false : true

/** A join-mode node is skipped only when every input is silent. */
type JoinSkips<S> = [keyof S] extends [never]
  ? true
  : false extends { readonly [P in keyof S]: SourceSkips<S[P]> }[keyof S]
    ? false
    : true

type Simplify<T> = { [K in keyof T]: T[K] } & {}

/**
 * What a join-mode node receives from `{ port: source }`: the sources that always emit give required fields,
 * those that can stay silent (after a switch, from an error port) optional ones.
 */
export type JoinValue<S> = Simplify<
  { readonly [P in keyof S as SourceSkips<S[P]> extends false ? P : never]: SourceValue<S[P]> } & {
    readonly [P in keyof S as SourceSkips<S[P]> extends false ? never : P]?: SourceValue<S[P]>
  }
>

/** Outputs `O`, marked {@link Skippable} when `Skip` is (or may be) true. */
export type Mark<O, Skip extends boolean> = [Skip] extends [false] ? O : O & Skippable

/** Whether a node fed by `S`, with outputs `O`, may be skipped. */
type NodeSkips<S, O> = S extends Port<unknown, boolean> | ReadonlyArray<Port<unknown, boolean>>
  ? Or<SourceSkips<S>, MultiPort<O>>
  : Or<JoinSkips<S>, MultiPort<O>>

/** Shown in the compile error when a wiring does not fit: what the port emits and what the node takes. */
export interface PortMismatch<Upstream, Input> {
  readonly "the upstream port's type does not fit this node's input": {
    readonly upstream: Upstream
    readonly input: Input
  }
}

/** `.node`'s check: one source must fit the input; named sources (join-mode nodes) must fit it as a record. */
export type WiringCheck<S, In> = S extends Port<unknown, boolean> | ReadonlyArray<Port<unknown, boolean>>
  ? [SourceValue<S>] extends [In]
    ? unknown
    : PortMismatch<SourceValue<S>, In>
  : [JoinValue<S>] extends [In]
    ? unknown
    : PortMismatch<JoinValue<S>, In>

/** `andThen`'s check: the flow input (first node) or the last node's `out` must fit the new node's input. */
export type AndThenCheck<I, Last, In> = [Last] extends [undefined]
  ? [I] extends [In]
    ? unknown
    : PortMismatch<I, In>
  : Last extends { readonly out: infer A }
    ? [A] extends [In]
      ? unknown
      : PortMismatch<A, In>
    : { readonly "the node added last has no `out` port: use .node(id, def, config, (p) => p.<node>.<port>)": never }

/** Whether the node added last (for `andThen`) may be skipped. */
type LastSkips<Last> = [Last] extends [undefined] ? false : SkipOf<Last>

/** Per-node policies. */
export interface NodeOptions {
  readonly retry?: Ir.RetryPolicy
  readonly timeoutMs?: number
  readonly label?: string
}

/** A built flow: its IR plus what compiling it needs (definitions, called flows, the input Schema). */
export interface FlowDefinition<I, O, R> {
  readonly ir: Ir.Flow
  readonly registry: Registry.Registry<R>
  readonly flows: Readonly<Record<string, Ir.Flow>>
  readonly input: Schema.Codec<I, unknown>
  /** Type-level only. */
  readonly "~types"?: { readonly output: O }
}

interface State {
  readonly id: string
  readonly version: string
  readonly description: string | undefined
  readonly trigger: Ir.Trigger
  readonly settings: Ir.Settings | undefined
  readonly nodes: Record<string, Ir.NodeSpec>
  readonly edges: ReadonlyArray<Ir.Edge>
  readonly definitions: ReadonlyArray<Node.Any>
  /** Which node brought each definition in: to name both sides of a type-name clash. */
  readonly owners: ReadonlyMap<Node.Any, string>
  readonly flows: Record<string, Ir.Flow>
  readonly last: string | undefined
  readonly output: Ir.PortRef | undefined
}

const makePorts = (nodes: Record<string, Ir.NodeSpec>): Record<string, unknown> => {
  const ports: Record<string, unknown> = { $input: port(Ir.INPUT_NODE, Ir.OUT_PORT) }
  for (const id of Object.keys(nodes)) {
    // Any port name resolves: the compiler rejects names the definition does not declare.
    ports[id] = new Proxy({}, { get: (_, name) => (typeof name === "string" ? port(id, name) : undefined) })
  }
  return ports
}

const isPort = (value: unknown): value is Port<unknown> =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { node?: unknown }).node === "string" &&
  typeof (value as { port?: unknown }).port === "string"

const edgesFrom = (source: Source<unknown>, to: string, toPort: string): ReadonlyArray<Ir.Edge> =>
  (Array.isArray(source) ? source : [source as Port<unknown>]).map((p) => ({
    from: { node: p.node, port: p.port },
    to: { node: to, port: toPort }
  }))

const encodeConfig = (definition: Node.Any, config: unknown): unknown => {
  try {
    return Schema.encodeUnknownSync(definition.config)(config)
  } catch {
    // Leave it as given: the compiler reports the config problem with its path.
    return config
  }
}

const specOf = (type: string, config: unknown, options: NodeOptions | undefined): Ir.NodeSpec => ({
  type,
  ...(config === undefined ? {} : { config }),
  ...(options?.retry ? { retry: options.retry } : {}),
  ...(options?.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  ...(options?.label ? { label: options.label } : {})
})

/**
 * Adds definitions to a flow's list. Two different definitions under one type name would make one of them
 * run for both (the registry keys by name), so that is builder misuse and throws, naming both nodes.
 */
const withDefinitions = (
  state: State,
  added: ReadonlyArray<readonly [definition: Node.Any, owner: string]>
): Pick<State, "definitions" | "owners"> => {
  let definitions = state.definitions
  let owners = state.owners
  for (const [definition, owner] of added) {
    if (definitions.includes(definition)) continue
    const builtin = Registry.get(Builtins.registry, definition.type)
    if (builtin !== undefined && builtin !== definition) {
      throw new Error(
        `Flow ${state.id}: node ${owner} uses its own definition of type "${definition.type}", which is the name of a built-in node type; give the definition another type name`
      )
    }
    if (builtin === undefined) {
      const clash = definitions.find((d) => d.type === definition.type)
      if (clash !== undefined) {
        throw new Error(
          `Flow ${state.id}: nodes ${owners.get(clash) ?? "(unknown)"} and ${owner} use two different definitions of type "${definition.type}"; give each definition its own type name`
        )
      }
    }
    definitions = [...definitions, definition]
    owners = new Map(owners).set(definition, owner)
  }
  return { definitions, owners }
}

/**
 * Builds a flow step by step. Every method returns a new builder; `H` maps node ids to their output types
 * (marked {@link Skippable} for nodes that may not run), `R` collects the services the nodes need, `Last` is
 * the outputs of the node added last (for `andThen`).
 */
export class FlowBuilder<I, H extends Record<string, Node.Ports>, R, Last extends Node.Ports | undefined> {
  readonly #state: State
  readonly #input: Schema.Codec<I, unknown>

  constructor(state: State, input: Schema.Codec<I, unknown>) {
    this.#state = state
    this.#input = input
  }

  #with<H2 extends Record<string, Node.Ports>, R2, Last2 extends Node.Ports | undefined>(
    patch: Partial<State>
  ): FlowBuilder<I, H2, R2, Last2> {
    return new FlowBuilder<I, H2, R2, Last2>({ ...this.#state, ...patch }, this.#input)
  }

  #add(
    id: string,
    definition: Node.Any,
    config: unknown,
    edges: ReadonlyArray<Ir.Edge>,
    options: NodeOptions | undefined
  ): State {
    if (Object.hasOwn(this.#state.nodes, id)) throw new Error(`Flow ${this.#state.id}: duplicate node id "${id}"`)
    return {
      ...this.#state,
      ...withDefinitions(this.#state, [[definition, `"${id}"`]]),
      nodes: { ...this.#state.nodes, [id]: specOf(definition.type, encodeConfig(definition, config), options) },
      edges: [...this.#state.edges, ...edges],
      last: id
    }
  }

  #ports(): Ports<I, H> {
    return makePorts(this.#state.nodes) as Ports<I, H>
  }

  /**
   * Adds a node of any definition. `from` selects where its input comes from: a port (or several, the
   * first active one is used), wired to the node's input port `in`; or, for a join-mode definition, a
   * record of its input ports, each with its source (`{ left: p.a.out, right: p.b.out }`).
   *
   * @example
   * ```ts
   * Flow.make({ id: "f", input: Schema.Number })
   *   .node("twice", double, {}, (p) => p.$input)
   *   .node("again", double, {}, (p) => p.twice.out)
   *   .node("pair", pairUp, {}, (p) => ({ left: p.twice.out, right: p.again.out })) // a join-mode definition
   * ```
   */
  node<const Id extends string, T extends string, C, In, O extends Node.Ports, E, R2, const S>(
    id: Id,
    definition: Node.Definition<T, C, In, O, E, R2>,
    config: NoInfer<C>,
    from: (ports: Ports<I, H>) => S & (Source<unknown> | NamedSources) & WiringCheck<S, NoInfer<In>>,
    options?: NodeOptions
  ): FlowBuilder<I, H & { readonly [K in Id]: Mark<O, NodeSkips<S, O>> }, R | R2, Mark<O, NodeSkips<S, O>>> {
    const source = from(this.#ports()) as Source<unknown> | NamedSources
    let edges: ReadonlyArray<Ir.Edge>
    if (isPort(source) || Array.isArray(source)) edges = edgesFrom(source as Source<unknown>, id, Ir.IN_PORT)
    else {
      if (definition.inputMode !== "join") {
        throw new Error(
          `Flow ${this.#state.id}: node "${id}" (${definition.type}) has one input port, "in": pass a port, not named ports`
        )
      }
      edges = Object.entries(source).flatMap(([name, p]) => edgesFrom(p, id, name))
    }
    return this.#with(this.#add(id, definition as Node.Any, config, edges, options))
  }

  /**
   * Adds a node fed by the `out` port of the node added last (or by the flow input for the first node).
   *
   * @example
   * ```ts
   * Flow.make({ id: "f", input: Schema.Number }).andThen("a", double, {}).andThen("b", double, {})
   * ```
   */
  andThen<const Id extends string, T extends string, C, In, O extends Node.Ports, E, R2>(
    id: Id,
    definition: Node.Definition<T, C, In, O, E, R2>,
    config: NoInfer<C> & AndThenCheck<I, Last, NoInfer<In>>,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<O, Or<LastSkips<Last>, MultiPort<O>>> },
    R | R2,
    Mark<O, Or<LastSkips<Last>, MultiPort<O>>>
  > {
    const last = this.#state.last
    const source = last === undefined ? port(Ir.INPUT_NODE, Ir.OUT_PORT) : port(last, Ir.OUT_PORT)
    return this.#with(this.#add(id, definition as Node.Any, config, edgesFrom(source, id, Ir.IN_PORT), options))
  }

  /**
   * Built-in `map`: builds a new value from paths, constants and expressions. Pass `output` to type the
   * result; the next typed node validates it at run time.
   *
   * @example
   * ```ts
   * .map("shape", (p) => p.rows.out, { each: true, fields: { id: "id", name: "customer.name" } }, Schema.Array(Row))
   * ```
   */
  map<const Id extends string, const S extends Source<unknown>, A = unknown>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    config: {
      readonly fields: Readonly<Record<string, Expr.Value>>
      readonly each?: boolean
      readonly merge?: boolean
    },
    output?: Schema.Codec<A, unknown>,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: A }, SourceSkips<S>> },
    R,
    Mark<{ readonly out: A }, SourceSkips<S>>
  > {
    void output
    const edges = edgesFrom(from(this.#ports()), id, Ir.IN_PORT)
    return this.#with(this.#add(id, Builtins.map as Node.Any, config, edges, options))
  }

  /**
   * Built-in `filter`: matching array elements on `out`, the others on `rejected`; types are preserved.
   * For an array both ports emit; for a single value only one of them does (so its ports are skippable).
   *
   * @example
   * ```ts
   * .filter("big", (p) => p.rows.out, { path: "amount", op: "gt", value: 100 })
   * ```
   */
  filter<const Id extends string, const S extends Source<unknown>>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    where: Expr.Condition,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & {
      readonly [K in Id]: Mark<
        { readonly out: SourceValue<S>; readonly rejected: SourceValue<S> },
        Or<SourceSkips<S>, SourceValue<S> extends ReadonlyArray<unknown> ? false : true>
      >
    },
    R,
    Mark<
      { readonly out: SourceValue<S> },
      Or<SourceSkips<S>, SourceValue<S> extends ReadonlyArray<unknown> ? false : true>
    >
  > {
    const edges = edgesFrom(from(this.#ports()), id, Ir.IN_PORT)
    return this.#with(this.#add(id, Builtins.filter as Node.Any, { where }, edges, options))
  }

  /**
   * Built-in `switch`: one output port per case (plus `default`), each carrying the input's type. Only the
   * ports that match emit, so every port of a switch is skippable.
   *
   * @example
   * ```ts
   * .switch("route", (p) => p.order.out, { big: { path: "amount", op: "gte", value: 1000 } })
   * .node("review", review, {}, (p) => p.route.big)
   * ```
   */
  switch<
    const Id extends string,
    const S extends Source<unknown>,
    const Cases extends Readonly<Record<string, Expr.Condition>>
  >(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    cases: Cases,
    options?: NodeOptions & { readonly mode?: "first" | "all" }
  ): FlowBuilder<
    I,
    H & {
      readonly [K in Id]: { readonly [P in (keyof Cases & string) | "default"]: SourceValue<S> } & Skippable
    },
    R,
    { readonly default: SourceValue<S> } & Skippable
  > {
    const edges = edgesFrom(from(this.#ports()), id, Ir.IN_PORT)
    const config = {
      cases: Object.entries(cases).map(([port, when]) => ({ port, when })),
      ...(options?.mode ? { mode: options.mode } : {})
    }
    return this.#with(this.#add(id, Builtins.switchNode as Node.Any, config, edges, options))
  }

  /**
   * Built-in `join`: waits for every active branch; emits `{ name: value }`. A branch that always runs gives
   * a required field; a branch that can be skipped (after a switch, from an error port) an optional one,
   * absent when it was skipped.
   *
   * @example
   * ```ts
   * .join("both", (p) => ({ customer: p.customer.out, orders: p.orders.out })) // { customer: C; orders: O }
   * ```
   */
  join<const Id extends string, const S extends NamedSources>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: JoinValue<S> }, JoinSkips<S>> },
    R,
    Mark<{ readonly out: JoinValue<S> }, JoinSkips<S>>
  > {
    const edges = Object.entries(from(this.#ports())).flatMap(([name, p]) => edgesFrom(p, id, name))
    return this.#with(this.#add(id, Builtins.join as Node.Any, undefined, edges, options))
  }

  /**
   * Built-in `merge`: the first active of several branches (after a switch).
   *
   * @example
   * ```ts
   * .merge("reply", (p) => [p.approve.out, p.reject.out])
   * ```
   */
  merge<const Id extends string, const S extends ReadonlyArray<Port<unknown>>>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: SourceValue<S> }, SourceSkips<S>> },
    R,
    Mark<{ readonly out: SourceValue<S> }, SourceSkips<S>>
  > {
    const edges = from(this.#ports()).flatMap((p, i) => edgesFrom(p, id, `in${i + 1}`))
    return this.#with(this.#add(id, Builtins.merge as Node.Any, undefined, edges, options))
  }

  /**
   * Built-in `forEach`: runs `body` for each element of an array, `concurrency` at a time; emits the body's
   * outputs in order. The body is a builder whose input is the element type.
   *
   * @example
   * ```ts
   * .forEach("lines", (p) => p.order.out, (item) => item.andThen("price", priceLine, {}), { concurrency: 4 })
   * ```
   */
  forEach<const Id extends string, const S extends Source<ReadonlyArray<unknown>>, B, R2>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    body: (
      item: FlowBuilder<ElementOf<SourceValue<S>>, {}, never, undefined>
    ) => FlowBuilder<ElementOf<SourceValue<S>>, Record<string, Node.Ports>, R2, { readonly out: B }>,
    options?: NodeOptions & { readonly concurrency?: number }
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: ReadonlyArray<B> }, SourceSkips<S>> },
    R | R2,
    Mark<{ readonly out: ReadonlyArray<B> }, SourceSkips<S>>
  > {
    type A = ElementOf<SourceValue<S>>
    const inner = body(
      new FlowBuilder<A, {}, never, undefined>(
        emptyState(`${this.#state.id}.${id}`),
        Schema.Unknown as Schema.Codec<A, unknown>
      )
    )
    const innerState = inner.#state
    const graph: Ir.Graph = {
      nodes: innerState.nodes,
      edges: innerState.edges,
      ...(innerState.last === undefined
        ? {}
        : { output: innerState.output ?? { node: innerState.last, port: Ir.OUT_PORT } })
    }
    const config = { body: graph, ...(options?.concurrency ? { concurrency: options.concurrency } : {}) }
    const edges = edgesFrom(from(this.#ports()), id, Ir.IN_PORT)
    const state = this.#add(id, Builtins.forEach as Node.Any, config, edges, options)
    const added = innerState.definitions.map(
      (d) => [d, `"${id}/${(innerState.owners.get(d) ?? "").replace(/^"/, "")}`] as const
    )
    return this.#with({ ...state, ...withDefinitions(state, added), flows: { ...state.flows, ...innerState.flows } })
  }

  /**
   * Built-in `subflow`: calls another built flow with a value of its input type; emits its output.
   *
   * @example
   * ```ts
   * .call("enrich", enrichCustomer, (p) => p.order.out)
   * ```
   */
  call<const Id extends string, In, O, R2, const S extends Source<unknown>>(
    id: Id,
    flow: FlowDefinition<In, O, R2>,
    from: (ports: Ports<I, H>) => S & WiringCheck<S, NoInfer<In>>,
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: O }, SourceSkips<S>> },
    R | R2,
    Mark<{ readonly out: O }, SourceSkips<S>>
  > {
    const edges = edgesFrom(from(this.#ports()) as Source<unknown>, id, Ir.IN_PORT)
    const state = this.#add(
      id,
      Builtins.subflow as Node.Any,
      { flow: flow.ir.id, version: flow.ir.version },
      edges,
      options
    )
    const added = [...flow.registry.definitions.values()].map(
      (d) => [d, `of flow "${flow.ir.id}" (called by "${id}")`] as const
    )
    return this.#with({
      ...state,
      ...withDefinitions(state, added),
      flows: { ...state.flows, ...flow.flows, [flow.ir.id]: flow.ir }
    })
  }

  /**
   * Built-in `respond`: sets the HTTP reply (status, headers; body = the input) and passes the input on.
   *
   * @example
   * ```ts
   * .respond("reply", (p) => p.saved.out, { status: 201 })
   * ```
   */
  respond<const Id extends string, const S extends Source<unknown>>(
    id: Id,
    from: (ports: Ports<I, H>) => S,
    config: {
      readonly status?: number
      readonly headers?: Readonly<Record<string, string>>
      readonly body?: Expr.Value
    } = {},
    options?: NodeOptions
  ): FlowBuilder<
    I,
    H & { readonly [K in Id]: Mark<{ readonly out: SourceValue<S> }, SourceSkips<S>> },
    R,
    Mark<{ readonly out: SourceValue<S> }, SourceSkips<S>>
  > {
    const edges = edgesFrom(from(this.#ports()), id, Ir.IN_PORT)
    return this.#with(this.#add(id, Builtins.respond as Node.Any, config, edges, options))
  }

  /**
   * Declares which port's value is the flow's result (default: the `out` port of the node added last).
   *
   * @example
   * ```ts
   * .output((p) => p.saved.out)
   * ```
   */
  output<A>(select: (ports: Ports<I, H>) => Port<A>): FlowBuilder<I, H, R, { readonly out: A }> {
    const p = select(this.#ports())
    return this.#with({ output: { node: p.node, port: p.port } })
  }

  /**
   * Finishes the flow.
   *
   * @example
   * ```ts
   * const flow = Flow.make({ id: "f", input: Schema.Number }).andThen("a", double, {}).build()
   * ```
   */
  build(): FlowDefinition<I, Last extends { readonly out: infer O } ? O : unknown, R> {
    const s = this.#state
    const output = s.output ?? (s.last === undefined ? undefined : { node: s.last, port: Ir.OUT_PORT })
    const ir: Ir.Flow = {
      id: s.id,
      version: s.version,
      ...(s.description === undefined ? {} : { description: s.description }),
      trigger: s.trigger,
      input: Registry.jsonSchemaOf(this.#input),
      nodes: s.nodes,
      edges: s.edges,
      ...(output === undefined ? {} : { output }),
      ...(s.settings === undefined ? {} : { settings: s.settings })
    }
    return {
      ir,
      registry: Registry.merge(Builtins.registry, Registry.make(...s.definitions)) as Registry.Registry<R>,
      flows: s.flows,
      input: this.#input
    }
  }
}

type ElementOf<T> = T extends ReadonlyArray<infer E> ? E : never

const emptyState = (id: string): State => ({
  id,
  version: "1",
  description: undefined,
  trigger: { type: "manual" },
  settings: undefined,
  nodes: {},
  edges: [],
  definitions: [],
  owners: new Map(),
  flows: {},
  last: undefined,
  output: undefined
})

/**
 * Starts a flow.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Flow } from "@jsonflow/core"
 * const builder = Flow.make({ id: "orders", version: "2", input: Schema.Struct({ since: Schema.String }) })
 * ```
 */
export const make = <I = unknown>(options: {
  readonly id: string
  readonly version?: string
  readonly description?: string
  readonly input?: Schema.Codec<I, unknown>
  readonly trigger?: Ir.Trigger
  readonly settings?: Ir.Settings
}): FlowBuilder<I, {}, never, undefined> =>
  new FlowBuilder<I, {}, never, undefined>(
    {
      ...emptyState(options.id),
      version: options.version ?? "1",
      description: options.description,
      trigger: options.trigger ?? { type: "manual" },
      settings: options.settings
    },
    options.input ?? (Schema.Unknown as Schema.Codec<I, unknown>)
  )

/** A compiled builder flow: `run` takes the typed input and returns the typed output. */
export interface CompiledFlow<I, O, R> {
  readonly flow: Ir.Flow
  readonly warnings: ReadonlyArray<Compiler.Problem>
  readonly run: (input: I, options?: Compiler.RunOptions) => Effect.Effect<Compiler.ExecutionResult<O>, FlowError, R>
}

/**
 * Compiles a built flow. The input is decoded with the flow's input Schema at every run (a bad input fails
 * with `InputInvalid` at node `$input`).
 *
 * @example
 * ```ts
 * const program = Effect.gen(function* () {
 *   const compiled = yield* Flow.compile(flow)
 *   const result = yield* compiled.run({ value: 21 })
 *   return result.output
 * })
 * ```
 */
export const compile = <I, O, R>(
  definition: FlowDefinition<I, O, R>
): Effect.Effect<CompiledFlow<I, O, R>, Compiler.CompileError> =>
  // `run` decodes the input with the flow's Schema first, so the compiler may trust edges from the input.
  Effect.map(
    Compiler.compile(definition.ir, definition.registry, { flows: definition.flows, inputChecked: true }),
    (compiled) => ({
      flow: compiled.flow,
      warnings: compiled.warnings,
      run: (input: I, options?: Compiler.RunOptions) =>
        Effect.suspend(() => {
          const decoded = Validation.decode(definition.input, input)
          if (decoded._tag === "Invalid") {
            const issue = decoded.issues[0]!
            return Effect.fail(
              new InputInvalid({
                flowId: definition.ir.id,
                executionId: options?.executionId ?? "",
                nodeId: Ir.INPUT_NODE,
                port: Ir.OUT_PORT,
                path: issue.path,
                problem: decoded.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")
              })
            )
          }
          return compiled.run(decoded.value, options) as Effect.Effect<Compiler.ExecutionResult<O>, FlowError, R>
        })
    })
  )

/**
 * Compiles and runs a built flow once.
 *
 * @example
 * ```ts
 * const result = await Effect.runPromise(Flow.run(flow, { value: 21 }))
 * ```
 */
export const run = <I, O, R>(
  definition: FlowDefinition<I, O, R>,
  input: NoInfer<I>,
  options?: Compiler.RunOptions
): Effect.Effect<Compiler.ExecutionResult<O>, FlowError | Compiler.CompileError, R> =>
  Effect.flatMap(compile(definition), (compiled) => compiled.run(input, options))

/** A flow behind a plain promise API, for services that do not use Effect. */
export interface PromiseFlow<I, O> {
  /** Runs one execution; rejects with the typed error (`NodeFailed`, `InputInvalid`, ...). */
  readonly run: (input: I, options?: Compiler.RunOptions) => Promise<Compiler.ExecutionResult<O>>
  /** Closes the services (pools, clients) the layer opened. */
  readonly dispose: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * Wraps a built flow in a promise API backed by a `ManagedRuntime` built from `layer`, which must provide
 * every service the flow's nodes need (a missing one is a type error). Compiles at once: a flow with
 * problems throws `CompileError` here.
 *
 * @example
 * ```ts
 * const orders = Flow.toPromise(flow, SqlClient.layer({ url }))
 * const { output } = await orders.run({ since: "2026-01-01" })
 * await orders.dispose()
 * ```
 */
export function toPromise<I, O>(definition: FlowDefinition<I, O, never>): PromiseFlow<I, O>
export function toPromise<I, O, R, ROut, E>(
  definition: FlowDefinition<I, O, R>,
  layer: Layer.Layer<ROut, E, never> &
    ([R] extends [ROut] ? unknown : { readonly "the layer does not provide": Exclude<R, ROut> })
): PromiseFlow<I, O>
export function toPromise<I, O, R, ROut, E>(
  definition: FlowDefinition<I, O, R>,
  layer?: Layer.Layer<ROut, E, never>
): PromiseFlow<I, O> {
  const compiled = Effect.runSync(Effect.result(compile(definition)))
  if (compiled._tag === "Failure") throw compiled.failure
  const flow = compiled.success
  const runtime = ManagedRuntime.make((layer ?? Layer.empty) as Layer.Layer<ROut, E, never>)
  const dispose = () => runtime.dispose()
  return {
    // The overloads proved that `layer` provides R.
    run: (input, options) =>
      runtime.runPromise(
        flow.run(input, options) as unknown as Effect.Effect<Compiler.ExecutionResult<O>, FlowError, ROut>
      ),
    dispose,
    [Symbol.asyncDispose]: dispose
  }
}
