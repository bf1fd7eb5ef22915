/**
 * `jsonflow test [<file|dir>...]`: runs flow test cases written in JSON (`<name>.test.json` beside the flow),
 * for people who do not write TypeScript. A test file names its flow (a canonical flow file, an nFlow
 * export or a TypeScript/JavaScript module exporting built flows), node outputs to mock (by hand, or a
 * `*.fixture.json` recorded from a real execution) and cases: an input or an HTTP request, and the expected
 * output, HTTP response or error, and which nodes ran. Each case runs with `@jsonflow/core/testing` in the
 * runner's JSON environment (built-ins, nFlow types, `js`/`ts` in the sandbox, expressions, HTTP, the
 * connectors of `--config`); every connector node type is known, so a flow whose connectors are all mocked
 * needs no configuration and no server.
 *
 * Prints `✓ file › case` or `✗ file › case` with the differences (JSON pointers into the output) or the
 * error, then a summary; exits 1 when a case fails or a test file is broken (reported with the JSON pointer
 * of the problem), 2 on a usage error.
 *
 * `jsonflow test --record <execution-id>` prints the fixture of a recorded execution (its connector nodes'
 * outputs, read from the audit store; recorded with `audit.snapshots: full`).
 *
 * @module test
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { type Flow, type FlowError, type Ir, Registry, Validation } from "@jsonflow/core"
import * as Testing from "@jsonflow/core/testing"
import { Execute, FlowFile, HttpRequest, Problem } from "@jsonflow/json-dsl"
import { type Cause, type Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import * as FlowTable from "../../internal/flowTable.ts"
import { ConfigError } from "../../RunnerError.ts"
import { isModule, readPaths } from "../../sources/directory.ts"
import type { Command, Io } from "../Command.ts"
import * as Environment from "../environment.ts"

// ---------------------------------------------------------------------------------------------------------
// The test file format

const Strings = Schema.Array(Schema.String)

/** The HTTP request of a case of an HTTP-triggered flow; what is not given comes from the trigger. */
const RequestCase = Schema.Struct({
  method: Schema.optionalKey(Schema.String),
  path: Schema.optionalKey(Schema.String),
  query: Schema.optionalKey(Schema.Record(Schema.String, Schema.Union([Schema.String, Strings]))),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  body: Schema.optionalKey(Schema.Unknown)
})

const ExpectedError = Schema.Struct({
  _tag: Schema.optionalKey(Schema.String).annotate({
    description: "the flow error's tag: NodeFailed, InputInvalid, ..."
  }),
  node: Schema.optionalKey(Schema.String).annotate({ description: "the node it names (nodeId)" }),
  message: Schema.optionalKey(Schema.String).annotate({ description: "a part of its message" })
})

const Expected = Schema.Struct({
  output: Schema.optionalKey(Schema.Unknown).annotate({ description: "the flow's output" }),
  response: Schema.optionalKey(
    Schema.Struct({
      status: Schema.optionalKey(Schema.Number),
      headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
      body: Schema.optionalKey(Schema.Unknown)
    })
  ).annotate({ description: "the HTTP answer (headers: only those listed are compared)" }),
  error: Schema.optionalKey(ExpectedError),
  partial: Schema.optionalKey(Schema.Boolean).annotate({
    description: "objects in output and response.body may leave out keys (arrays still match item by item)"
  }),
  inputs: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)).annotate({
    description: "node id -> the input it received (its last attempt); partial applies"
  }),
  ran: Schema.optionalKey(Strings).annotate({ description: "the node ids that succeeded, in order" }),
  skipped: Schema.optionalKey(Strings).annotate({ description: "the node ids that were skipped" }),
  attempts: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)).annotate({
    description: "node id -> how many attempts it made"
  })
})

const Mocks = Schema.Record(Schema.String, Schema.Unknown).annotate({
  description:
    'node id -> its output: a value (emitted on "out"), {"port", "value"}, or {"fail": {"_tag", "message", "retryable"}}'
})

const Case = Schema.Struct({
  name: Schema.String,
  input: Schema.optionalKey(Schema.Unknown),
  request: Schema.optionalKey(RequestCase),
  variables: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  mocks: Schema.optionalKey(Mocks),
  fixture: Schema.optionalKey(Schema.String).annotate({ description: "a *.fixture.json, relative to this file" }),
  expect: Expected
})

/** A `*.test.json` file. */
export const TestFile = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  flow: Schema.String.annotate({ description: "the flow file, relative to this file" }),
  flowId: Schema.optionalKey(Schema.String).annotate({ description: "which flow, when the file holds several" }),
  mocks: Schema.optionalKey(Mocks),
  fixture: Schema.optionalKey(Schema.String),
  cases: Schema.Array(Case).check(Schema.isMinLength(1))
}).annotate({ title: "JSON-Flow test file", description: "Test cases for one flow, run by `jsonflow test`." })
export type TestFile = typeof TestFile.Type
type Case = typeof Case.Type

// ---------------------------------------------------------------------------------------------------------
// Comparing

/** One difference between what a case expected and what the run gave, at a JSON pointer. */
interface Difference {
  readonly path: string
  readonly message: string
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? "nothing"
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Deep equality of JSON values; with `partial`, expected objects may leave out keys. */
const compare = (expected: unknown, actual: unknown, partial: boolean, at = ""): ReadonlyArray<Difference> => {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual))
      return [{ path: at, message: `expected an array ${show(expected)}, got ${show(actual)}` }]
    const lengths =
      expected.length === actual.length
        ? []
        : [{ path: at, message: `expected ${expected.length} item(s), got ${actual.length}: ${show(actual)}` }]
    const items = expected.flatMap((item, i) =>
      i < actual.length ? compare(item, actual[i], partial, `${at}/${i}`) : []
    )
    return [...lengths, ...items]
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return [{ path: at, message: `expected an object ${show(expected)}, got ${show(actual)}` }]
    const differences: Array<Difference> = []
    for (const [key, value] of Object.entries(expected)) {
      const path = `${at}/${Validation.escapeSegment(key)}`
      if (!Object.hasOwn(actual, key) || actual[key] === undefined) {
        differences.push({ path, message: `missing; expected ${show(value)}` })
      } else differences.push(...compare(value, actual[key], partial, path))
    }
    if (!partial) {
      for (const key of Object.keys(actual)) {
        if (!Object.hasOwn(expected, key) && actual[key] !== undefined) {
          differences.push({
            path: `${at}/${Validation.escapeSegment(key)}`,
            message: `unexpected ${show(actual[key])}`
          })
        }
      }
    }
    return differences
  }
  return Object.is(expected, actual) || (expected === null && actual === undefined)
    ? []
    : [{ path: at, message: `expected ${show(expected)}, got ${show(actual)}` }]
}

/** A flow error as the report shows it: its tag, node and message. */
const describeError = (error: FlowError.FlowError): string =>
  `${error._tag}${"nodeId" in error ? ` at node "${error.nodeId}"` : ""}: ${error.message}`

const checkRun = (expect: Case["expect"], run: Testing.TestRun): ReadonlyArray<Difference> => {
  const differences: Array<Difference> = []
  const partial = expect.partial === true
  const error = run.error
  if (expect.error !== undefined) {
    if (error === undefined) {
      differences.push({ path: "error", message: `expected an error, the flow succeeded with ${show(run.output)}` })
    } else {
      const wanted = expect.error
      const nodeId = "nodeId" in error ? error.nodeId : undefined
      if (wanted._tag !== undefined && wanted._tag !== error._tag)
        differences.push({ path: "error/_tag", message: `expected ${wanted._tag}, got ${describeError(error)}` })
      if (wanted.node !== undefined && wanted.node !== nodeId)
        differences.push({ path: "error/node", message: `expected "${wanted.node}", got ${describeError(error)}` })
      if (wanted.message !== undefined && !error.message.includes(wanted.message))
        differences.push({
          path: "error/message",
          message: `expected a message with ${show(wanted.message)}, got ${show(error.message)}`
        })
    }
  } else if (error !== undefined) {
    differences.push({ path: "error", message: `unexpected error: ${describeError(error)}` })
  }
  if (error === undefined) {
    if ("output" in expect) {
      for (const d of compare(expect.output, run.output, partial)) differences.push({ ...d, path: `output${d.path}` })
    }
    if (expect.response !== undefined) {
      const response = Execute.responseOf({
        executionId: run.executionId,
        output: run.output,
        reply: run.reply,
        steps: 0,
        durationMs: 0
      })
      const wanted = expect.response
      if (wanted.status !== undefined && wanted.status !== response.status)
        differences.push({ path: "response/status", message: `expected ${wanted.status}, got ${response.status}` })
      for (const [name, value] of Object.entries(wanted.headers ?? {})) {
        const got = response.headers[name.toLowerCase()]
        if (got !== value)
          differences.push({ path: `response/headers/${name}`, message: `expected ${show(value)}, got ${show(got)}` })
      }
      if ("body" in wanted) {
        for (const d of compare(wanted.body, response.body, partial))
          differences.push({ ...d, path: `response/body${d.path}` })
      }
    }
  }
  for (const [nodeId, wanted] of Object.entries(expect.inputs ?? {})) {
    for (const d of compare(wanted, run.trace.inputOf(nodeId), partial))
      differences.push({ ...d, path: `inputs/${nodeId}${d.path}` })
  }
  const sequence = (name: "ran" | "skipped", wanted: ReadonlyArray<string> | undefined) => {
    if (wanted === undefined) return
    const got = run.trace[name]()
    if (show(wanted) !== show(got))
      differences.push({ path: name, message: `expected ${show(wanted)}, got ${show(got)}` })
  }
  sequence("ran", expect.ran)
  sequence("skipped", expect.skipped)
  for (const [nodeId, count] of Object.entries(expect.attempts ?? {})) {
    const got = run.trace.attempts(nodeId)
    if (got !== count) differences.push({ path: `attempts/${nodeId}`, message: `expected ${count}, got ${got}` })
  }
  return differences
}

// ---------------------------------------------------------------------------------------------------------
// Loading

/** A test file that cannot run: where (a JSON pointer into it) and why. */
class Broken extends Error {
  readonly path: string
  readonly reason: string
  constructor(path: string, reason: string) {
    super(`${path || "/"}: ${reason}`)
    this.path = path
    this.reason = reason
  }
}

/** The flow under test: its IR, and how to run a case of it. */
interface Subject {
  readonly ir: Ir.Flow
  /** A builder flow brings its own node types and services. */
  readonly builder: boolean
  readonly run: (input: unknown, options: Testing.RunOptions) => Effect.Effect<Testing.TestRun, unknown, unknown>
}

const invalidInputRun = (ir: Ir.Flow, issues: ReadonlyArray<Validation.Issue>) =>
  Effect.flip(FlowTable.invalidInput(ir.id, { executionId: "test-execution" }, issues)).pipe(
    Effect.map(
      (error): Testing.TestRun => ({
        executionId: "test-execution",
        output: undefined,
        reply: undefined,
        error,
        trace: Testing.traceOf([])
      })
    )
  )

const jsonSubject = (ir: Ir.Flow, registry: Registry.Registry<unknown>): Subject => {
  const { check } = FlowTable.inputCheckOf(ir)
  return {
    ir,
    builder: false,
    run: (input, options) => {
      const checked = check?.(input)
      if (checked?._tag === "Invalid") return invalidInputRun(ir, checked.issues)
      return Testing.run(ir, checked?._tag === "Valid" ? checked.value : input, { ...options, registry })
    }
  }
}

const builderSubject = (definition: Flow.FlowDefinition<unknown, unknown, unknown>): Subject => ({
  ir: definition.ir,
  builder: true,
  run: (input, options) => {
    const decoded = Validation.decode(definition.input, input)
    return decoded._tag === "Invalid"
      ? invalidInputRun(definition.ir, decoded.issues)
      : Testing.run(definition, decoded.value, options)
  }
})

/** The connector node types, all of them: a flow whose connectors are mocked loads without configuring any. */
const connectorTypes = async (): Promise<Registry.Registry<unknown>> => {
  const modules = await Promise.all([
    import("@jsonflow/connectors/http"),
    import("@jsonflow/connectors/sql"),
    import("@jsonflow/connectors/soap"),
    import("@jsonflow/connectors/grpc"),
    import("@jsonflow/connectors/redis"),
    import("@jsonflow/connectors/mail")
  ])
  return modules.reduce<Registry.Registry<unknown>>(
    (all, m) => Registry.merge(all, m.registry as Registry.Registry<unknown>),
    Registry.make()
  )
}

const pointer = (...segments: ReadonlyArray<string | number>) => Validation.pointer(segments)

const readJson = (path: string, at: string): unknown => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    throw new Broken(at, `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new Broken(at, `not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const readFixture = (base: string, file: string, at: string): Testing.Fixture => {
  const path = resolve(base, file)
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    throw new Broken(at, `cannot read the fixture ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    return Testing.parseFixture(text)
  } catch (error) {
    throw new Broken(at, `the fixture ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

interface Loaded {
  readonly file: TestFile
  readonly subject: Subject
}

const load = async (
  path: string,
  served: Registry.Registry<unknown>,
  modules: Readonly<Record<string, string>> | undefined
): Promise<Loaded> => {
  const decoded = Validation.decode(TestFile, readJson(path, ""), { strict: true })
  if (decoded._tag === "Invalid") {
    const [issue] = decoded.issues
    throw new Broken(issue?.path ?? "", issue?.message ?? "not a test file")
  }
  const file = decoded.value
  const flowPath = resolve(dirname(path), file.flow)
  const wanted = file.flowId
  if (isModule(flowPath)) {
    const { flows, failures } = await readPaths([flowPath], Registry.make())
    const builders = flows.flatMap((f) => (f.kind === "builder" ? [f.definition] : []))
    const chosen =
      wanted === undefined && builders.length === 1 ? builders[0] : builders.find((d) => d.ir.id === wanted)
    if (chosen === undefined) {
      const why = failures[0]?.message ?? `flows: ${builders.map((d) => d.ir.id).join(", ") || "none"}`
      throw new Broken(
        wanted === undefined ? "/flow" : "/flowId",
        `no ${wanted === undefined ? "single flow" : `flow "${wanted}"`} in ${file.flow} (${why})`
      )
    }
    return { file, subject: builderSubject(chosen) }
  }
  const options = modules === undefined ? {} : { modules }
  let registry = served
  let opened = FlowFile.open(flowPath, registry, options)
  // Node types of connectors that are not configured: known (their nodes are mocked), loaded only when used.
  if (opened.problems.some((p) => p.code === "unknown-node-type")) {
    registry = Registry.merge(await connectorTypes(), served)
    opened = FlowFile.open(flowPath, registry, options)
  }
  const errors = (problems: ReadonlyArray<Problem.Problem>) =>
    problems.filter((p) => p.severity === "error").map((p) => Problem.format(file.flow, p))
  if (opened.flows.length === 0)
    throw new Broken("/flow", `${file.flow} has errors:\n${errors(opened.problems).join("\n")}`)
  const chosen =
    wanted === undefined
      ? opened.flows.length === 1
        ? opened.flows[0]
        : undefined
      : opened.flows.find((f) => f.flow.id === wanted)
  if (chosen === undefined) {
    throw new Broken(
      wanted === undefined ? "/flowId" : "/flowId",
      `${file.flow} holds ${wanted === undefined ? "several flows; choose one with flowId" : `no flow "${wanted}"`}: ${opened.flows.map((f) => f.flow.id).join(", ")}`
    )
  }
  if (Problem.hasErrors(chosen.problems)) {
    throw new Broken("/flow", `flow "${chosen.flow.id}" has errors:\n${errors(chosen.problems).join("\n")}`)
  }
  return { file, subject: jsonSubject(chosen.flow, registry) }
}

/** Test files under the given paths: `*.test.json` in directories (recursively), files as given. */
const listTestFiles = (paths: ReadonlyArray<string>, cwd: string): ReadonlyArray<string> => {
  const files: Array<string> = []
  const visit = (path: string, explicit: boolean) => {
    let directory: boolean
    try {
      directory = statSync(path).isDirectory()
    } catch {
      if (explicit) files.push(path) // reported as unreadable
      return
    }
    if (!directory) {
      if (explicit || path.endsWith(".test.json")) files.push(path)
      return
    }
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith(".") || name === "node_modules") continue
      visit(join(path, name), false)
    }
  }
  for (const p of paths) visit(isAbsolute(p) ? p : resolve(cwd, p), true)
  return files
}

// ---------------------------------------------------------------------------------------------------------
// Running

/** The request and input of a case of an HTTP-triggered flow, as the HTTP trigger would give them. */
const httpCase = (ir: Ir.Flow, testCase: Case, at: string): { readonly input: unknown; readonly trigger: unknown } => {
  const trigger = ir.trigger
  if (trigger.type !== "http") {
    if (testCase.request !== undefined)
      throw new Broken(`${at}/request`, `flow "${ir.id}" has a ${trigger.type} trigger, not http: give its input`)
    return { input: testCase.input, trigger: undefined }
  }
  const given = testCase.request ?? {}
  const path = given.path ?? trigger.path
  const method = given.method ?? (trigger.method === "ANY" ? "GET" : trigger.method)
  const params = HttpRequest.matchPath(trigger.path, path)
  if (params === undefined || !HttpRequest.methodMatches(trigger.method, method)) {
    throw new Broken(`${at}/request`, `${method} ${path} does not reach the trigger ${trigger.method} ${trigger.path}`)
  }
  const empty = Object.entries(params).filter(([, value]) => value === "" || value.startsWith(":"))
  if (empty.length > 0) {
    throw new Broken(
      `${at}/request/path`,
      `give a path for ${trigger.path} (${empty.map(([k]) => `:${k}`).join(", ")})`
    )
  }
  if ("body" in given && "input" in testCase) throw new Broken(`${at}/input`, "give either input or request.body")
  const body = "body" in given ? given.body : testCase.input
  const request = HttpRequest.make({
    method,
    path,
    params,
    query: given.query ?? {},
    headers: given.headers ?? {},
    body
  })
  return { input: HttpRequest.inputOf({ present: body !== undefined, value: body }, request), trigger: request }
}

/** The outcome of one case. */
type Outcome = { readonly _tag: "Passed" } | { readonly _tag: "Failed"; readonly lines: ReadonlyArray<string> }

/** Where a mock of a node the flow does not have was given. */
const mockSource = (file: TestFile, testCase: Case, at: string, id: string) =>
  testCase.mocks?.[id] !== undefined
    ? `${at}/mocks${pointer(id)}`
    : testCase.fixture !== undefined
      ? `${at}/fixture`
      : file.mocks?.[id] !== undefined
        ? pointer("mocks", id)
        : "/fixture"

/** What a case runs with; throws {@link Broken} for a case that cannot run as written. */
const prepare = (loaded: Loaded, index: number, base: string, served: Registry.Registry<unknown>) => {
  const { file, subject } = loaded
  const testCase = file.cases[index]!
  const at = pointer("cases", index)
  const fileFixture = file.fixture === undefined ? undefined : readFixture(base, file.fixture, "/fixture")
  const caseFixture = testCase.fixture === undefined ? undefined : readFixture(base, testCase.fixture, `${at}/fixture`)
  const mocks = { ...fileFixture?.mocks, ...file.mocks, ...caseFixture?.mocks, ...testCase.mocks }
  for (const id of Object.keys(mocks)) {
    if (subject.ir.nodes[id] === undefined) {
      throw new Broken(
        mockSource(file, testCase, at, id),
        `no node "${id}" in flow "${subject.ir.id}"; its nodes: ${Object.keys(subject.ir.nodes).join(", ")}`
      )
    }
  }
  if (testCase.expect.error !== undefined && ("output" in testCase.expect || testCase.expect.response !== undefined)) {
    throw new Broken(`${at}/expect`, "expect either an error, or an output and/or a response")
  }
  // A connector node neither mocked nor configured would fail on a missing service: say so instead.
  const unserved = subject.builder
    ? []
    : Object.entries(subject.ir.nodes).filter(
        ([id, spec]) => mocks[id] === undefined && Registry.get(served, spec.type) === undefined
      )
  return { testCase, mocks, unserved, ...httpCase(subject.ir, testCase, at) }
}

const runCase = async (
  loaded: Loaded,
  index: number,
  base: string,
  served: Registry.Registry<unknown>,
  services: Context.Context<unknown>
): Promise<Outcome> => {
  const { testCase, mocks, unserved, input, trigger } = prepare(loaded, index, base, served)
  if (unserved.length > 0) {
    return {
      _tag: "Failed",
      lines: unserved.map(
        ([id, spec]) =>
          `node "${id}" (${spec.type}) is not mocked and its connector is not configured: mock it, or run with --config naming the connector`
      )
    }
  }
  const exit = await Effect.runPromiseExit(
    loaded.subject
      .run(input, {
        mocks,
        ...(trigger === undefined ? {} : { trigger }),
        ...(testCase.variables === undefined ? {} : { variables: testCase.variables })
      })
      .pipe(Effect.provideContext(services))
  )
  if (exit._tag === "Failure") return { _tag: "Failed", lines: [`the flow did not run: ${causeMessage(exit.cause)}`] }
  const run = exit.value
  const differences = checkRun(testCase.expect, run)
  if (differences.length === 0) return { _tag: "Passed" }
  const lines = differences.slice(0, 20).map((d) => `${d.path}: ${d.message}`)
  if (differences.length > 20) lines.push(`... and ${differences.length - 20} more`)
  if (run.error === undefined && testCase.expect.error === undefined) lines.push(`actual output: ${show(run.output)}`)
  return { _tag: "Failed", lines }
}

const causeMessage = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons[0]
  const error = reason?._tag === "Fail" ? reason.error : reason?._tag === "Die" ? reason.defect : "interrupted"
  return error instanceof Error ? error.message : String(error)
}

// ---------------------------------------------------------------------------------------------------------
// Recording

const recordUsage = `Usage: jsonflow test --record <execution-id> [--types <type,...>] [--nodes <id,...>]
                    [--config <file>] [--audit <postgres://...|dir>]`

const record = async (
  id: string,
  values: {
    readonly types?: string | undefined
    readonly nodes?: string | undefined
    readonly config?: string | undefined
    readonly audit?: string | undefined
  },
  io: Io
): Promise<number> => {
  const settings = Environment.settingsOf(io, values)
  let store: ReturnType<typeof Environment.storeLayer>
  try {
    store = Environment.storeLayer(Environment.loadConfig(settings), settings)
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof Environment.UsageError)) throw error
    io.stderr(`jsonflow test: ${error.message}\n`)
    return 2
  }
  const [{ Query, Redaction, Store }, connectors] = await Promise.all([import("@jsonflow/audit"), connectorTypes()])
  const split = (text: string | undefined) =>
    text
      ?.split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
  const types = split(values.types) ?? [...connectors.definitions.keys()]
  const nodes = split(values.nodes)
  const program = Effect.gen(function* () {
    const trace = yield* Query.trace(id)
    if (trace === undefined) return yield* Effect.fail(new Error(`no execution ${id} in the audit store`))
    const { flowId, flowVersion } = trace.execution
    const flow = yield* Store.AuditStore.use((store) => store.flow(flowId, flowVersion))
    if (flow === undefined)
      return yield* Effect.fail(new Error(`the store has no flow ${flowId}@${flowVersion} for execution ${id}`))
    return Testing.recordFixture(flow, trace.events, nodes === undefined ? { types } : { nodes })
  })
  const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(store)))
  if (exit._tag === "Failure") {
    io.stderr(`jsonflow test: ${causeMessage(exit.cause)}\n`)
    return 1
  }
  const fixture = exit.value
  if (Object.keys(fixture.mocks).length === 0) {
    io.stderr(
      `jsonflow test: execution ${id} has no succeeded node of the types ${types.join(", ")}; choose them with --types or --nodes\n`
    )
    return 1
  }
  if (Redaction.hasMasked(fixture.mocks)) {
    io.stderr(
      "jsonflow test: warning: some recorded values were masked by the audit's redaction; edit them in the fixture\n"
    )
  }
  io.stdout(`${JSON.stringify(fixture, null, 2)}\n`)
  return 0
}

// ---------------------------------------------------------------------------------------------------------
// The command

const usage = `Usage: jsonflow test [<file|dir>...] [--config <file>] [--modules <dir>]
       jsonflow test --record <execution-id> [--types <type,...>] [--nodes <id,...>] [--audit <url|dir>]
       jsonflow test --schema

Runs the flow test cases of *.test.json files (directories are searched recursively; default: the
current directory) and prints "✓ file › case" or "✗ file › case" with what differed. Exits 1 when a
case fails or a test file is broken.

A test file names its flow ("flow": a flow file, an nFlow export or a module with built flows,
relative to the test file), node outputs to mock ("mocks", or a recorded "fixture" file), and
"cases": each with a "name", an "input" (or an HTTP "request"), "mocks" of its own, and "expect":
"output", "response" (HTTP), "error" ({"_tag", "node", "message"}), "ran", "skipped", "attempts",
"partial". Connector nodes are mocked, so no server is needed; --config adds configured connectors.

  --record <id>     print the fixture of a recorded execution (audit.snapshots full): the outputs of
                    its connector nodes (--types <type,...> or --nodes <id,...> to choose others)
  --schema          print the JSON Schema of test files
  --config <file>   runner configuration (JSONFLOW_* override it)
  --modules <dir>   directory of custom nFlow box modules (<name>.js)
  --audit <url|dir> the audit store --record reads (postgres://... or an embedded store directory)`

/** `file#/json/pointer`, or the file alone for a problem with the whole document. */
const where = (name: string, error: Broken) => (error.path === "" ? name : `${name}#${error.path}`)

export const command: Command = {
  name: "test",
  summary: "Run the flow test cases of *.test.json files",
  usage,
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        record: { type: "string" },
        types: { type: "string" },
        nodes: { type: "string" },
        schema: { type: "boolean" },
        config: { type: "string" },
        modules: { type: "string" },
        audit: { type: "string" }
      }
    })
    if (values.schema) {
      io.stdout(`${JSON.stringify(Registry.jsonSchemaOf(TestFile), null, 2)}\n`)
      return 0
    }
    if (values.record !== undefined) {
      if (positionals.length > 0) {
        io.stderr(`${recordUsage}\n`)
        return 2
      }
      return record(values.record, values, io)
    }
    const settings = Environment.settingsOf(io, values)
    let environment: Awaited<ReturnType<typeof Environment.environment>>
    try {
      environment = await Environment.environment(Environment.loadConfig(settings), settings)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      io.stderr(`jsonflow test: ${error.message}\n`)
      return 2
    }
    const served = environment.registry
    const modules = values.modules === undefined ? undefined : FlowFile.readModules(resolve(io.cwd, values.modules))
    const paths = positionals.length === 0 ? ["."] : positionals
    const files = listTestFiles(paths, io.cwd)
    if (files.length === 0) {
      io.stderr(`jsonflow test: no *.test.json under ${paths.join(", ")}\n`)
      return 1
    }
    const shown = (path: string) => {
      const rel = relative(io.cwd, path)
      return rel.startsWith("..") ? path : rel
    }
    let passed = 0
    let failed = 0
    let broken = 0
    const scope = await Effect.runPromise(Scope.make())
    try {
      const services = (await Effect.runPromise(
        Layer.buildWithScope(environment.layer, scope)
      )) as Context.Context<unknown>
      for (const path of files) {
        const name = shown(path)
        let loaded: Loaded
        try {
          loaded = await load(path, served, modules)
        } catch (error) {
          if (!(error instanceof Broken)) throw error
          broken++
          io.stdout(
            `✗ ${name}: broken test file\n    ${where(name, error)}: ${error.reason.replace(/\n/g, "\n    ")}\n`
          )
          continue
        }
        for (let index = 0; index < loaded.file.cases.length; index++) {
          const title = `${name} › ${loaded.file.cases[index]!.name}`
          let outcome: Outcome
          try {
            outcome = await runCase(loaded, index, dirname(path), served, services)
          } catch (error) {
            if (!(error instanceof Broken)) throw error
            outcome = { _tag: "Failed", lines: [`broken case: ${where(name, error)}: ${error.reason}`] }
          }
          if (outcome._tag === "Passed") {
            passed++
            io.stdout(`✓ ${title}\n`)
          } else {
            failed++
            io.stdout(`✗ ${title}\n${outcome.lines.map((l) => `    ${l}\n`).join("")}`)
          }
        }
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
    const parts = [`${passed} passed`, `${failed} failed`, ...(broken > 0 ? [`${broken} broken file(s)`] : [])]
    io.stdout(`\n${parts.join(", ")} (${files.length} test file(s))\n`)
    return failed > 0 || broken > 0 ? 1 : 0
  }
}
