/**
 * The flow test kit: run a flow in a test with any node's output replaced by a fixture (or any service
 * replaced by a fake layer), then assert on the result **and** on the trace: which nodes ran, in which
 * order, with which inputs and outputs, which were skipped, how many attempts.
 *
 * Record once, replay offline: {@link recordFixture} turns the trace of a real execution (full snapshots)
 * into a fixture of node outputs; {@link run} with `fixture` replays it with no server.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Testing from "@jsonflow/core/testing"
 * const result = await Effect.runPromise(Testing.run(flow, { id: 7 }, { mocks: { query: [{ id: 7, amount: 250 }] } }))
 * result.trace.ran() // ["query", "paid", "shape", "send"]
 * ```
 *
 * @module testing
 */
import { Cause, Effect, Exit, Schema } from "effect"
import * as Compiler from "./Compiler.ts"
import type { FlowDefinition } from "./Flow.ts"
import type * as FlowError from "./FlowError.ts"
import * as FlowEvents from "./FlowEvents.ts"
import * as Ir from "./Ir.ts"
import * as Node from "./Node.ts"
import * as Registry from "./Registry.ts"

/** What a mocked node does: emit a value on `out`, emit on a named port, or fail with an error. */
export type Mock =
  | { readonly port: string; readonly value: unknown }
  | { readonly fail: { readonly _tag: string; readonly message: string; readonly retryable?: boolean } }
  | { readonly value: unknown }

/** A recorded or hand-written set of node outputs, by node id. */
export interface Fixture {
  readonly flowId: string
  readonly nodes: Readonly<Record<string, Mock>>
}

/** A mocked node failed as the test asked. */
export class MockedFailure extends Schema.TaggedError<MockedFailure>()("MockedFailure", {
  tag: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message() {
    return `${this.tag}: ${this.reason}`
  }
}

const MOCK_TYPE = "testing.mock"

const MockConfig = Schema.Struct({ ports: Schema.Array(Schema.String), mock: Schema.Unknown })

const mockDefinition = Node.define({
  type: MOCK_TYPE,
  description: "A node replaced by a test fixture.",
  config: MockConfig,
  input: Schema.Unknown,
  outputs: { out: Schema.Unknown },
  dynamicPorts: (config) => config.ports,
  run: (_input, config) => {
    const mock = config.mock as Mock
    if ("fail" in mock) {
      return Effect.fail(
        new MockedFailure({ tag: mock.fail._tag, reason: mock.fail.message, retryable: mock.fail.retryable ?? false })
      )
    }
    if ("port" in mock) return Effect.succeed({ port: mock.port as "out", value: mock.value })
    return Effect.succeed({ port: "out" as const, value: mock.value })
  }
})

/** Normalizes the ways a mock may be written: a bare value means "emit it on `out`". */
export const toMock = (value: unknown): Mock => {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value)
    if (keys.length === 1 && keys[0] === "fail") return value as Mock
    if (keys.length === 2 && "port" in value && "value" in value) return value as Mock
    if (keys.length === 1 && keys[0] === "value") return value as Mock
  }
  return { value }
}

/**
 * Returns the flow IR with the given nodes replaced by mocks (their ports kept, so the wiring still
 * compiles), and a registry that knows the mock type.
 */
export const withMocks = <R>(
  flow: Ir.Flow,
  registry: Registry.Registry<R>,
  mocks: Readonly<Record<string, unknown>>
): { readonly flow: Ir.Flow; readonly registry: Registry.Registry<R> } => {
  const nodes: Record<string, Ir.NodeSpec> = { ...flow.nodes }
  for (const [id, mock] of Object.entries(mocks)) {
    const spec = nodes[id]
    if (spec === undefined) throw new Error(`mock for unknown node "${id}" of flow "${flow.id}"`)
    const definition = Registry.get(registry, spec.type)
    const ports = new Set(definition ? Object.keys(definition.outputs) : [])
    for (const edge of flow.edges)
      if (edge.from.node === id && edge.from.port !== Ir.ERROR_PORT) ports.add(edge.from.port)
    // Keep the node's policies (retry, timeout): a mocked failure is retried like the real one.
    nodes[id] = { ...spec, type: MOCK_TYPE, config: { ports: [...ports], mock: toMock(mock) } }
  }
  return {
    flow: { ...flow, nodes },
    registry: Registry.merge(registry, Registry.make(mockDefinition)) as Registry.Registry<R>
  }
}

/** The trace of one execution, with the questions tests ask of it. */
export interface Trace {
  readonly events: ReadonlyArray<FlowEvents.FlowEvent>
  /** Node ids that succeeded, in completion order. */
  readonly ran: () => ReadonlyArray<string>
  /** Node ids that were skipped (a branch not taken). */
  readonly skipped: () => ReadonlyArray<string>
  /** Node ids whose last attempt failed. */
  readonly failed: () => ReadonlyArray<string>
  /** The input a node received (its last attempt). */
  readonly inputOf: (nodeId: string) => unknown
  /** The value a node emitted (one port) or its emissions (several). */
  readonly outputOf: (nodeId: string) => unknown
  /** How many attempts a node made. */
  readonly attempts: (nodeId: string) => number
}

/** Builds a {@link Trace} over recorded events (full snapshots). */
export const traceOf = (events: ReadonlyArray<FlowEvents.FlowEvent>): Trace => {
  const last = <T extends FlowEvents.FlowEvent["_tag"]>(tag: T, nodeId: string) =>
    events.findLast((e) => e._tag === tag && "nodeId" in e && e.nodeId === nodeId) as
      | Extract<FlowEvents.FlowEvent, { readonly _tag: T }>
      | undefined
  const ids = (tag: FlowEvents.FlowEvent["_tag"]) =>
    events.flatMap((e) => (e._tag === tag && "nodeId" in e ? [e.nodeId] : []))
  return {
    events,
    ran: () => ids("NodeSucceeded"),
    skipped: () => ids("NodeSkipped"),
    failed: () => events.flatMap((e) => (e._tag === "NodeFailed" && !e.willRetry ? [e.nodeId] : [])),
    inputOf: (nodeId) => last("NodeStarted", nodeId)?.input,
    outputOf: (nodeId) => last("NodeSucceeded", nodeId)?.output,
    attempts: (nodeId) => events.filter((e) => e._tag === "NodeStarted" && e.nodeId === nodeId).length
  }
}

/** The outcome of a test run: the result or the typed error, and the trace. */
export interface TestRun {
  readonly executionId: string
  readonly output: unknown
  readonly reply: Node.Reply | undefined
  readonly error: FlowError.FlowError | undefined
  readonly trace: Trace
}

export interface RunOptions {
  /** Node id -> mock (a bare value is emitted on `out`). */
  readonly mocks?: Readonly<Record<string, unknown>>
  /** A recorded fixture; `mocks` win over it. */
  readonly fixture?: Fixture
  /** Defaults to `test-execution`: deterministic ids make traces comparable. */
  readonly executionId?: string
  readonly trigger?: unknown
  readonly variables?: Readonly<Record<string, unknown>>
  /** Other flows a subflow node may call. */
  readonly flows?: Readonly<Record<string, Ir.Flow>>
}

const isFlowDefinition = (value: unknown): value is FlowDefinition<unknown, unknown, unknown> =>
  typeof value === "object" && value !== null && "ir" in value && "registry" in value

/**
 * Runs a flow once for a test: mocks applied, events recorded with full snapshots. Never fails with the
 * flow's error: the error is part of the result, next to the trace.
 *
 * @example
 * ```ts
 * const run = await Effect.runPromise(Testing.run(flow, input, { mocks: { send: { fail: { _tag: "HttpStatusError", message: "503" } } } }))
 * assert.strictEqual(run.error?._tag, "NodeFailed")
 * assert.deepStrictEqual(run.trace.ran(), ["query", "paid", "shape"])
 * ```
 */
export function run<I, O, R>(
  flow: FlowDefinition<I, O, R>,
  input: NoInfer<I>,
  options?: RunOptions
): Effect.Effect<TestRun, Compiler.CompileError, R>
export function run<R>(
  flow: Ir.Flow,
  input: unknown,
  options: RunOptions & { readonly registry: Registry.Registry<R> }
): Effect.Effect<TestRun, Compiler.CompileError, R>
export function run(
  flow: FlowDefinition<unknown, unknown, unknown> | Ir.Flow,
  input: unknown,
  options: RunOptions & { readonly registry?: Registry.Registry<unknown> } = {}
): Effect.Effect<TestRun, Compiler.CompileError, unknown> {
  return Effect.suspend(() => {
    const ir = isFlowDefinition(flow) ? flow.ir : flow
    const registry = isFlowDefinition(flow) ? flow.registry : options.registry!
    const flows = { ...(isFlowDefinition(flow) ? flow.flows : {}), ...options.flows }
    const mocks = { ...options.fixture?.nodes, ...options.mocks }
    const prepared = withMocks(ir, registry, mocks)
    const { layer, recorder } = FlowEvents.layerMemory({ snapshots: "full" })
    const executionId = options.executionId ?? "test-execution"
    return Effect.flatMap(Compiler.compile(prepared.flow, prepared.registry, { flows }), (compiled) =>
      compiled
        .run(input, {
          executionId,
          ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
          ...(options.variables === undefined ? {} : { variables: options.variables })
        })
        .pipe(
          Effect.provide(layer),
          Effect.exit,
          Effect.flatMap((exit): Effect.Effect<TestRun> => {
            const trace = traceOf(recorder.trace(executionId))
            if (Exit.isSuccess(exit)) {
              return Effect.succeed({
                executionId,
                output: exit.value.output,
                reply: exit.value.reply,
                error: undefined,
                trace
              })
            }
            const error = Cause.findError(exit.cause)
            // Not a typed failure (an interruption): let it propagate.
            if (error._tag === "Failure") return Effect.failCause(exit.cause as Cause.Cause<never>)
            return Effect.succeed({ executionId, output: undefined, reply: undefined, error: error.success, trace })
          })
        )
    )
  })
}

/**
 * Turns a recorded trace into a fixture of the outputs of the given node types (e.g. your connectors),
 * so a test can replay the execution with no server. Record with `FlowEvents` snapshots `"full"` (the audit
 * store's traces work the same way).
 *
 * @example
 * ```ts
 * const fixture = Testing.recordFixture(flow.ir, recorder.trace(executionId), { types: ["sql.query", "http.request"] })
 * await writeFile("orders.fixture.json", JSON.stringify(fixture, null, 2))
 * ```
 */
export const recordFixture = (
  flow: Ir.Flow,
  events: ReadonlyArray<FlowEvents.FlowEvent>,
  options: { readonly types?: ReadonlyArray<string>; readonly nodes?: ReadonlyArray<string> } = {}
): Fixture => {
  const nodes: Record<string, Mock> = {}
  for (const event of events) {
    if (event._tag !== "NodeSucceeded") continue
    const spec = flow.nodes[event.nodeId]
    if (spec === undefined) continue
    const wanted =
      (options.types === undefined && options.nodes === undefined) ||
      options.types?.includes(spec.type) ||
      options.nodes?.includes(event.nodeId)
    if (!wanted) continue
    const [port] = event.ports
    nodes[event.nodeId] =
      event.ports.length === 1 && port === Ir.OUT_PORT
        ? { value: event.output }
        : { port: port ?? Ir.OUT_PORT, value: event.ports.length === 1 ? event.output : undefined }
  }
  return { flowId: flow.id, nodes }
}

/**
 * A hand-made `NodeContext`, for unit-testing a node definition's `run` outside a flow. Override any field.
 *
 * @example
 * ```ts
 * const out = await Effect.runPromise(Testing.runOut(myNode, { id: 1 }, { verbose: true }))
 * const context = Testing.nodeContext({ nodeId: "lookup", variables: { region: "eu" } })
 * ```
 */
export const nodeContext = (overrides: Partial<Node.NodeContext> = {}): Node.NodeContext => {
  const variables: Record<string, unknown> = { ...overrides.variables }
  return {
    executionId: "test-execution",
    flowId: "test-flow",
    flowVersion: "1",
    nodeId: "node",
    nodeType: "test",
    attempt: 1,
    trigger: undefined,
    setVariable: (name, value) => {
      variables[name] = value
    },
    outputOf: () => undefined,
    reply: () => true,
    runSubflow: () => Effect.die(new Error("no sub-flow in a hand-made node context")),
    ...overrides,
    variables
  }
}

/**
 * Runs a single-output definition (made with `output`) and returns the value it emitted on `out`.
 *
 * @example
 * ```ts
 * const rows = yield* Testing.runOut(Sql.query, { params: [7] }, { sql: "select $1::int as n" })
 * ```
 */
export const runOut = <C, I, A, E, R>(
  definition: Node.Definition<string, C, I, { readonly out: A }, E, R>,
  input: NoInfer<I>,
  config: NoInfer<C>,
  context: Node.NodeContext = nodeContext({ nodeType: definition.type })
): Effect.Effect<A, E, R> =>
  Effect.flatMap(definition.run(input, config, context), (emission) => {
    const single = emission as { readonly port: string; readonly value: A }
    return single.port === Ir.OUT_PORT
      ? Effect.succeed(single.value)
      : Effect.die(new Error(`expected one emission on "out", got ${JSON.stringify(emission)}`))
  })
