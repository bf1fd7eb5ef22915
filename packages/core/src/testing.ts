/**
 * The flow test kit: run a flow in a test with any node's output replaced by a fixture (or any service
 * replaced by a fake layer), then assert on the result **and** on the trace: which nodes ran, in which
 * order, with which inputs and outputs, which were skipped, how many attempts.
 *
 * Record once, replay offline: {@link recordFixture} turns the trace of a real execution (full snapshots: a
 * `FlowEvents.layerMemory` recorder, or the audit store's `Query.trace`) into a fixture of node outputs,
 * plain JSON for a `*.fixture.json` file; {@link run} with `fixture` ({@link parseFixture} reads the file)
 * replays it with no server.
 *
 * Deterministic by default: the execution id is `test-execution` (event ids `test-execution:<seq>`), retry
 * back-off delays are skipped (a retried node is retried at once, also under `@effect/vitest`'s `TestClock`),
 * and the trace's times are zero, so two runs of one test give equal traces. Works with plain `vitest`
 * (`Effect.runPromise`) and `@effect/vitest` (`it.effect`), for builder flows and JSON flows (the IR with
 * its registry) alike.
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
import { Cause, Context, Effect, Exit, Layer, Schema } from "effect"
import * as Compiler from "./Compiler.ts"
import type { FlowDefinition } from "./Flow.ts"
import type * as FlowError from "./FlowError.ts"
import * as FlowEvents from "./FlowEvents.ts"
import * as Ir from "./Ir.ts"
import * as Node from "./Node.ts"
import * as Registry from "./Registry.ts"
import * as Validation from "./Validation.ts"

/** What a mocked node does: emit a value on `out`, emit on a named port, or fail with an error. */
export type Mock =
  | { readonly port: string; readonly value: unknown }
  | { readonly fail: { readonly _tag: string; readonly message: string; readonly retryable?: boolean } }
  | { readonly value: unknown }

/**
 * A recorded or hand-written set of node outputs (mocks, by node id), as a `*.fixture.json` file holds it.
 * `executionId`: the execution it was recorded from, if any.
 */
export const Fixture = Schema.Struct({
  flowId: Schema.String,
  executionId: Schema.optionalKey(Schema.String),
  mocks: Schema.Record(Schema.String, Schema.Unknown)
})
export interface Fixture {
  readonly flowId: string
  readonly executionId?: string
  readonly mocks: Readonly<Record<string, unknown>>
}

/**
 * A fixture or a mock cannot be used: a fixture file that does not decode (`path`: a JSON Pointer into it),
 * a mock for a node the flow does not have, a trace recorded without the values.
 */
export class FixtureError extends Schema.TaggedError<FixtureError>()("FixtureError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return this.path === "" ? this.reason : `${this.path}: ${this.reason}`
  }
}

/**
 * The error a `fail` mock fails with: the `_tag`, message and retryability the mock gave, so the trace, an
 * error port and `catchTag` see the error the real node would have failed with. (Not a `Schema.TaggedError`:
 * its tag is the test's.)
 */
export class MockedFailure extends Error {
  readonly _tag: string
  readonly retryable: boolean
  constructor(tag: string, message: string, retryable: boolean) {
    super(message)
    this._tag = tag
    this.retryable = retryable
  }
  override get name() {
    return this._tag
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
      return Effect.fail(new MockedFailure(mock.fail._tag, mock.fail.message, mock.fail.retryable ?? false))
    }
    if ("port" in mock) return Effect.succeed({ port: mock.port as "out", value: mock.value })
    return Effect.succeed({ port: "out" as const, value: mock.value })
  }
})

/**
 * Normalizes the ways a mock may be written: a bare value means "emit it on `out`"; `{ "value": v }`,
 * `{ "port": p, "value": v }` and `{ "fail": { "_tag", "message", "retryable"? } }` say it explicitly.
 *
 * @example
 * ```ts
 * Testing.toMock([{ id: 1 }]) // { value: [{ id: 1 }] }
 * Testing.toMock({ port: "vip", value: { tier: "gold" } }) // emitted on "vip"
 * ```
 */
export const toMock = (value: unknown): Mock => {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value)
    if (keys.length === 1 && keys[0] === "fail") return value as Mock
    if (keys.length === 2 && "port" in value && "value" in value) return value as Mock
    if (keys.length === 1 && keys[0] === "value") return value as Mock
  }
  return { value }
}

/** A retry policy that keeps its attempts and drops its waits. */
const withoutDelays = (spec: Ir.NodeSpec): Ir.NodeSpec =>
  spec.retry === undefined ? spec : { ...spec, retry: { ...spec.retry, initialDelayMs: 0, maxDelayMs: 0 } }

/**
 * Returns the flow IR with the given nodes replaced by mocks (their ports and policies kept, so the wiring
 * still compiles and a mocked failure is retried like the real one), and a registry that knows the mock type.
 * A mocked node's own type need not be in the registry (a connector that is not configured). Throws a
 * {@link FixtureError} for a mock of a node the flow does not have.
 *
 * @example
 * ```ts
 * const { flow, registry } = Testing.withMocks(ir, Builtins.registry, { lookup: { tier: "gold" } })
 * ```
 */
export const withMocks = <R>(
  flow: Ir.Flow,
  registry: Registry.Registry<R>,
  mocks: Readonly<Record<string, unknown>>
): { readonly flow: Ir.Flow; readonly registry: Registry.Registry<R> } => {
  const nodes: Record<string, Ir.NodeSpec> = { ...flow.nodes }
  for (const [id, mock] of Object.entries(mocks)) {
    const spec = nodes[id]
    if (spec === undefined) {
      throw new FixtureError({
        path: `/${id.replace(/~/g, "~0").replace(/\//g, "~1")}`,
        reason: `a mock for node "${id}", which flow "${flow.id}" does not have; its nodes: ${Object.keys(flow.nodes).join(", ")}`
      })
    }
    const definition = Registry.get(registry, spec.type)
    const ports = new Set(definition ? Object.keys(definition.outputs) : [])
    for (const edge of flow.edges)
      if (edge.from.node === id && edge.from.port !== Ir.ERROR_PORT) ports.add(edge.from.port)
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
  /** The ports a node emitted on (its successful attempt); empty if it did not succeed. */
  readonly portsOf: (nodeId: string) => ReadonlyArray<string>
  /** The error of a node's last failed attempt (`_tag`, `message`, `retryable`), if it failed. */
  readonly errorOf: (nodeId: string) => FlowError.ErrorInfo | undefined
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
    portsOf: (nodeId) => last("NodeSucceeded", nodeId)?.ports ?? [],
    errorOf: (nodeId) => last("NodeFailed", nodeId)?.error,
    attempts: (nodeId) => events.filter((e) => e._tag === "NodeStarted" && e.nodeId === nodeId).length
  }
}

/** The events with their times zeroed: `at` and `durationMs` are what differs between two equal runs. */
const fixedTimes = (events: ReadonlyArray<FlowEvents.FlowEvent>): ReadonlyArray<FlowEvents.FlowEvent> =>
  events.map((event) => ("durationMs" in event ? { ...event, at: 0, durationMs: 0 } : { ...event, at: 0 }))

/** The outcome of a test run: the result or the typed error, and the trace. */
export interface TestRun {
  readonly executionId: string
  readonly output: unknown
  readonly reply: Node.Reply | undefined
  readonly error: FlowError.FlowError | undefined
  readonly trace: Trace
}

export interface RunOptions {
  /** Node id -> mock (a bare value is emitted on `out`; see {@link toMock}). */
  readonly mocks?: Readonly<Record<string, unknown>>
  /** A recorded fixture; `mocks` win over it. */
  readonly fixture?: Fixture
  /** Defaults to `test-execution`: deterministic ids make traces comparable. */
  readonly executionId?: string
  /** Trigger data (`$trigger`, `ctx.trigger`), e.g. the HTTP request of an HTTP-triggered flow. */
  readonly trigger?: unknown
  readonly variables?: Readonly<Record<string, unknown>>
  /** Other flows a subflow node may call. */
  readonly flows?: Readonly<Record<string, Ir.Flow>>
  /**
   * `skip` (default): retry back-off delays are dropped (the attempts are kept), so a test of a retried
   * failure takes no time and never waits on a `TestClock`. `real`: the flow's own delays.
   */
  readonly delays?: "skip" | "real"
  /** `fixed` (default): every `at` and `durationMs` of the trace is 0. `real`: the measured times. */
  readonly time?: "fixed" | "real"
}

const isFlowDefinition = (value: unknown): value is FlowDefinition<unknown, unknown, unknown> =>
  typeof value === "object" && value !== null && "ir" in value && "registry" in value

/**
 * Runs a flow once for a test: mocks applied, events recorded with full snapshots. Never fails with the
 * flow's error: the error is part of the result, next to the trace. Fails with the `CompileError` of a flow
 * that does not compile, or a {@link FixtureError} for a mock of an unknown node. Services the unmocked
 * nodes need come from the environment: provide real layers, or fake ones (`Layer.succeed(Crm, ...)`).
 *
 * @example
 * ```ts
 * // Builder flow, plain vitest:
 * const run = await Effect.runPromise(Testing.run(flow, input, { mocks: { send: { fail: { _tag: "HttpStatusError", message: "503" } } } }))
 * assert.strictEqual(run.error?._tag, "NodeFailed")
 * assert.deepStrictEqual(run.trace.ran(), ["query", "paid", "shape"])
 * // JSON flow (IR + registry), @effect/vitest:
 * it.effect("routes gold customers", () => Effect.gen(function* () {
 *   const run = yield* Testing.run(ir, {}, { registry: Builtins.registry, mocks: { lookup: { tier: "gold" } } })
 *   assert.deepStrictEqual(run.trace.skipped(), ["other"])
 * }))
 * ```
 */
export function run<I, O, R>(
  flow: FlowDefinition<I, O, R>,
  input: NoInfer<I>,
  options?: RunOptions
): Effect.Effect<TestRun, Compiler.CompileError | FixtureError, R>
export function run<R>(
  flow: Ir.Flow,
  input: unknown,
  options: RunOptions & { readonly registry: Registry.Registry<R> }
): Effect.Effect<TestRun, Compiler.CompileError | FixtureError, R>
export function run(
  flow: FlowDefinition<unknown, unknown, unknown> | Ir.Flow,
  input: unknown,
  options: RunOptions & { readonly registry?: Registry.Registry<unknown> } = {}
): Effect.Effect<TestRun, Compiler.CompileError | FixtureError, unknown> {
  return Effect.suspend((): Effect.Effect<TestRun, Compiler.CompileError | FixtureError, unknown> => {
    const ir = isFlowDefinition(flow) ? flow.ir : flow
    const registry = isFlowDefinition(flow) ? flow.registry : options.registry!
    const skipDelays = options.delays !== "real"
    const flows: Record<string, Ir.Flow> = { ...(isFlowDefinition(flow) ? flow.flows : {}), ...options.flows }
    if (skipDelays) {
      for (const [id, other] of Object.entries(flows)) {
        flows[id] = {
          ...other,
          nodes: Object.fromEntries(Object.entries(other.nodes).map(([k, n]) => [k, withoutDelays(n)]))
        }
      }
    }
    const mocks = { ...options.fixture?.mocks, ...options.mocks }
    let prepared: ReturnType<typeof withMocks<unknown>>
    try {
      prepared = withMocks(ir, registry, mocks)
    } catch (error) {
      if (error instanceof FixtureError) return Effect.fail(error)
      throw error
    }
    const target: Ir.Flow = skipDelays
      ? {
          ...prepared.flow,
          nodes: Object.fromEntries(Object.entries(prepared.flow.nodes).map(([k, n]) => [k, withoutDelays(n)]))
        }
      : prepared.flow
    const { layer, recorder } = FlowEvents.layerMemory({ snapshots: "full" })
    const executionId = options.executionId ?? "test-execution"
    return Effect.flatMap(Compiler.compile(target, prepared.registry, { flows }), (compiled) =>
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
            const events = recorder.trace(executionId)
            const trace = traceOf(options.time === "real" ? events : fixedTimes(events))
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
            // Not a typed failure (an interruption, a defect): let it propagate.
            if (error._tag === "Failure") return Effect.failCause(exit.cause as Cause.Cause<never>)
            return Effect.succeed({ executionId, output: undefined, reply: undefined, error: error.success, trace })
          })
        )
    )
  })
}

/**
 * Turns a recorded trace into a fixture of the outputs of the given node types (e.g. your connectors) or
 * node ids (all nodes when neither is given), so a test can replay the execution with no server. The events
 * must carry the values: record with `FlowEvents` snapshots `"full"`, or read the audit store's trace of an
 * execution recorded with `audit.snapshots: full` (`Query.trace(id)`; values the audit masked stay masked).
 * Throws a {@link FixtureError} for a trace recorded with `metadata` or `none` snapshots.
 *
 * @example
 * ```ts
 * // From a recorder:
 * const fixture = Testing.recordFixture(flow.ir, recorder.trace(executionId), { types: ["sql.query", "http.request"] })
 * await writeFile("orders.fixture.json", JSON.stringify(fixture, null, 2))
 * // From the audit store:
 * const trace = yield* Query.trace(executionId)
 * const recorded = Testing.recordFixture(flow.ir, trace!.events, { types: ["sql.query", "http.request"] })
 * ```
 */
export const recordFixture = (
  flow: Ir.Flow,
  events: ReadonlyArray<FlowEvents.FlowEvent>,
  options: { readonly types?: ReadonlyArray<string>; readonly nodes?: ReadonlyArray<string> } = {}
): Fixture => {
  const started = events.find((e) => e._tag === "ExecutionStarted")
  if (started?.snapshots !== undefined && started.snapshots !== "full") {
    throw new FixtureError({
      path: "",
      reason: `execution ${started.executionId} was recorded with "${started.snapshots}" snapshots, without the values a fixture needs; record it with snapshots "full" (audit.snapshots: full, JSONFLOW_AUDIT_SNAPSHOTS=full)`
    })
  }
  const mocks: Record<string, Mock> = {}
  for (const event of events) {
    // Only the execution's own nodes: a for-each item or a sub-flow is an execution of its own.
    if (event._tag !== "NodeSucceeded" || (started !== undefined && event.executionId !== started.executionId)) continue
    const spec = flow.nodes[event.nodeId]
    if (spec === undefined) continue
    const wanted =
      (options.types === undefined && options.nodes === undefined) ||
      options.types?.includes(spec.type) ||
      options.nodes?.includes(event.nodeId)
    if (!wanted) continue
    const [port] = event.ports
    if (event.ports.length > 1) {
      throw new FixtureError({
        path: `/${event.nodeId}`,
        reason: `node "${event.nodeId}" emitted on ${event.ports.length} ports (${event.ports.join(", ")}); a mock emits on one`
      })
    }
    mocks[event.nodeId] =
      port === undefined || port === Ir.OUT_PORT ? { value: event.output } : { port, value: event.output }
  }
  return {
    flowId: flow.id,
    ...(started === undefined ? {} : { executionId: started.executionId }),
    mocks
  }
}

/**
 * Reads a fixture file's text (what {@link recordFixture} wrote). Throws a {@link FixtureError} naming the
 * JSON Pointer of the first problem.
 *
 * @example
 * ```ts
 * const fixture = Testing.parseFixture(await readFile("orders.fixture.json", "utf8"))
 * const run = yield* Testing.run(flow, undefined, { fixture })
 * ```
 */
export const parseFixture = (text: string): Fixture => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new FixtureError({ path: "", reason: `not JSON: ${error instanceof Error ? error.message : String(error)}` })
  }
  const decoded = Validation.decode(Fixture, value)
  if (decoded._tag === "Invalid") {
    const [issue] = decoded.issues
    throw new FixtureError({ path: issue?.path ?? "", reason: issue?.message ?? "not a fixture" })
  }
  return decoded.value
}

/** The identifiers a list of service keys stands for. */
type Identifiers<Keys extends ReadonlyArray<Context.Key<unknown, unknown>>> =
  Keys[number] extends Context.Key<infer I, infer _S> ? I : never

/**
 * A layer of stand-ins for services a flow's type requires but a test never uses, because it mocks every
 * node that needs them: using one dies with a message saying which service and member were used.
 *
 * @example
 * ```ts
 * // Both connectors are mocked; their services only satisfy the flow's type.
 * const run = yield* Testing.run(flow, undefined, { mocks: { orders: rows, send: answer } }).pipe(
 *   Effect.provide(Testing.unused(Sql.SqlClient, Http.HttpClient))
 * )
 * ```
 */
export const unused = <const Keys extends ReadonlyArray<Context.Key<unknown, unknown>>>(
  ...keys: Keys
): Layer.Layer<Identifiers<Keys>> => {
  let context = Context.empty() as Context.Context<unknown>
  for (const key of keys) {
    const service = new Proxy(
      {},
      {
        get: (_target, member) => {
          // Probes for promise-likes and inspection symbols are not uses.
          if (typeof member === "symbol" || member === "then" || member === "toJSON") return undefined
          throw new Error(
            `the test used ${key.key}.${member}, a service it provides as unused: mock the node that needs it, or provide a real or fake layer`
          )
        }
      }
    )
    context = Context.add(context, key as Context.Key<unknown, unknown>, service)
  }
  return Layer.succeedContext(context) as Layer.Layer<Identifiers<Keys>>
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
