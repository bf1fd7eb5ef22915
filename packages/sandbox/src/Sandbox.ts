/**
 * The `Sandbox` service: runs untrusted JavaScript/TypeScript transforms `(input, ctx) => output` and gives
 * back plain JSON data or a typed error. The production layer, {@link layer}, runs them in isolated-vm
 * isolates inside a supervised child process; embedders and tests can provide their own implementation of
 * the same interface with `Layer.succeed(Sandbox, Sandbox.of({ ... }))`.
 *
 * What a script can and cannot do is described in the package README ("Security model").
 *
 * @module Sandbox
 */
import { Context, Effect, Layer, Result } from "effect"
import {
  InputNotSerializable,
  InputTooLarge,
  ResultNotSerializable,
  ResultTooLarge,
  SandboxCrashed,
  type SandboxError,
  ScriptCompileError,
  ScriptError,
  ScriptMemoryLimit,
  ScriptTimeout
} from "./errors.ts"
import { openChannel } from "./internal/hostChannel.ts"
import { type Call, Supervisor } from "./internal/supervisor.ts"
import * as Limits from "./Limits.ts"
import * as Script from "./Script.ts"
import type { StaticCheckPolicy } from "./staticCheck.ts"

/** Options of {@link SandboxService.compile}. */
export interface CompileOptions {
  /** Default `"js"`. */
  readonly language?: Script.Language
  /** Carried by a compile error, for the node the script belongs to. */
  readonly nodeId?: string
  readonly executionId?: string
}

/**
 * A host capability offered to one call: the script sends it plain JSON data and gets plain JSON data
 * back, synchronously (`ctx.host.call(name, request)`). It runs on the host, in the caller's fiber context;
 * a failure fails the whole call with `HostCallError` carrying the failure's `_tag` and message.
 */
export type HostCapability = (request: unknown) => Effect.Effect<unknown, unknown>

/**
 * The host calls one call may make (opt-in: a call without them has no way out of its isolate). Each
 * request and answer is JSON data, checked on the host: at most `maxCalls` calls (default
 * {@link DEFAULT_MAX_HOST_CALLS}), each request and answer at most `maxBytes` of UTF-8 JSON (default
 * {@link DEFAULT_MAX_HOST_CALL_BYTES}). The call's `timeoutMs` still bounds everything, time spent in host
 * calls included: a capability that never answers ends at the deadline with `ScriptTimeout`, and is
 * interrupted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "@jsonflow/sandbox"
 * const rates = { EUR: 1.08 }
 * const program = Sandbox.use((s) =>
 *   s.run("export default (order, ctx) => order.total * ctx.host.call('rate', order.currency)", { total: 10, currency: "EUR" }, {
 *     hostCalls: { capabilities: { rate: (currency) => Effect.succeed(rates[currency as "EUR"] ?? null) } }
 *   })
 * ) // output 10.8
 * ```
 */
export interface HostCalls {
  /** By name, as the script calls them; `ctx.host.names` lists them. */
  readonly capabilities: Readonly<Record<string, HostCapability>>
  readonly maxCalls?: number
  readonly maxBytes?: number
}

/** Host calls one call may make, unless its `hostCalls` say otherwise. */
export const DEFAULT_MAX_HOST_CALLS = 50
/** UTF-8 bytes of one host call's request or answer as JSON, unless the call's `hostCalls` say otherwise. */
export const DEFAULT_MAX_HOST_CALL_BYTES = 1024 * 1024

/** Options of one call. */
export interface RunOptions {
  /** Shown to the script as `ctx.nodeId` and carried by every error. */
  readonly nodeId?: string
  /** Shown to the script as `ctx.executionId` and carried by every error. */
  readonly executionId?: string
  /** Shown to the script as `ctx.variables` (a copy: changing it changes nothing outside). */
  readonly variables?: Readonly<Record<string, unknown>>
  /** Shown to the script as `ctx.attempt`: 1 for the first attempt of a node, 2 for its first retry, ... */
  readonly attempt?: number
  /** This call's limits, over the runner's defaults and capped by its ceilings. */
  readonly limits?: Partial<Limits.Limits>
  /** Host capabilities the script may call (`ctx.host`); none by default. */
  readonly hostCalls?: HostCalls
}

/** A line the script wrote with `console.log` (or `info`, `warn`, `error`, `debug`). */
export interface LogLine {
  readonly level: "log" | "info" | "warn" | "error" | "debug"
  readonly message: string
}

/** What a successful call returns. */
export interface ScriptResult {
  /** The transform's result: plain JSON data (`__proto__` keys dropped; `constructor` is kept as data). */
  readonly output: unknown
  readonly logs: ReadonlyArray<LogLine>
  /** Console lines dropped (or cut short) because of the log byte cap. */
  readonly droppedLogs: number
}

/**
 * What the sandbox is doing, for metrics: gauges read now and counters since the layer was built. Reading
 * it costs a few field reads (see {@link SandboxService.stats}).
 */
export interface SandboxStats {
  /** Sandbox processes: how many the layer keeps (`processes`), how many are running now (starting or up). */
  readonly processes: { readonly configured: number; readonly alive: number }
  /** Calls sent to a sandbox process and not answered yet (at most `pipeline` per process). */
  readonly callsInFlight: number
  /** Calls waiting on the host for a process to take them. */
  readonly callsQueued: number
  /**
   * Processes started to replace one: after a crash, a kill at a call's deadline, or a retirement over
   * `maxRssMb`.
   */
  readonly processRestarts: number
  /** Scripts refused right now because their calls killed the sandbox process `quarantineAfter` times. */
  readonly quarantinedScripts: number
  /** Isolates replaced inside the processes: after `recycleAfterCalls`, a timeout or running out of memory. */
  readonly isolatesRecycled: number
  /**
   * Finished calls of `run`, by outcome: `ok`, the `_tag` of the typed error (`ScriptTimeout`,
   * `ScriptError`, `ScriptCompileError`, `InputTooLarge`, ...), or `interrupted` when the caller stopped
   * waiting. A key appears with its first call; the object is a fresh copy.
   */
  readonly callsByOutcome: Readonly<Record<string, number>>
}

/**
 * The stats of a sandbox that has not started (every counter 0), e.g. for a wrapper that starts the
 * sandbox on first use.
 *
 * @example
 * ```ts
 * import { emptyStats } from "@jsonflow/sandbox"
 * emptyStats(2).processes // { configured: 2, alive: 0 }
 * ```
 */
export const emptyStats = (configuredProcesses: number): SandboxStats => ({
  processes: { configured: configuredProcesses, alive: 0 },
  callsInFlight: 0,
  callsQueued: 0,
  processRestarts: 0,
  quarantinedScripts: 0,
  isolatesRecycled: 0,
  callsByOutcome: {}
})

/** The service interface. */
export interface SandboxService {
  /**
   * Compiles a script once (cached by content); the result can be run many times.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Sandbox } from "@jsonflow/sandbox"
   * const program = Effect.gen(function* () {
   *   const sandbox = yield* Sandbox
   *   const script = yield* sandbox.compile("export default (order) => order.total", { language: "js" })
   *   return yield* sandbox.run(script, { total: 42 })
   * })
   * ```
   */
  readonly compile: (
    source: string,
    options?: CompileOptions
  ) => Effect.Effect<Script.CompiledScript, ScriptCompileError>
  /**
   * Runs a script (compiled, or source text compiled as JavaScript) on an input.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Sandbox } from "@jsonflow/sandbox"
   * const program = Sandbox.use((sandbox) =>
   *   sandbox.run("export default (n, ctx) => ({ doubled: n * 2, node: ctx.nodeId })", 21, { nodeId: "double" })
   * ) // Effect<ScriptResult, SandboxError, Sandbox>: output { doubled: 42, node: "double" }
   * ```
   */
  readonly run: (
    script: Script.CompiledScript | string,
    input: unknown,
    options?: RunOptions
  ) => Effect.Effect<ScriptResult, SandboxError>
  /** The runner's default limits (what a call gets when it asks for nothing). */
  readonly limits: Limits.Limits
  /**
   * A snapshot of the sandbox's gauges and counters, for a metrics endpoint. Synchronous and cheap (no
   * message to the sandbox processes): call it on every scrape.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Sandbox } from "@jsonflow/sandbox"
   * const scrape = Sandbox.use((s) => Effect.sync(() => s.stats()))
   * // { processes: { configured: 1, alive: 1 }, callsInFlight: 0, ..., callsByOutcome: { ok: 12, ScriptTimeout: 1 } }
   * ```
   */
  readonly stats: () => SandboxStats
}

/**
 * The sandbox service tag.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "@jsonflow/sandbox"
 * const result = await Effect.runPromise(
 *   Sandbox.use((s) => s.run("export default (x) => x + 1", 1)).pipe(Effect.provide(Sandbox.layer()))
 * ) // { output: 2, logs: [], droppedLogs: 0 }
 * ```
 */
export class Sandbox extends Context.Service<Sandbox, SandboxService>()("@jsonflow/sandbox/Sandbox") {
  /** The production layer: isolated-vm isolates in a supervised sandbox process (see {@link layer}). */
  static readonly layer = (options: SandboxOptions = {}): Layer.Layer<Sandbox, SandboxCrashed> => layer(options)
}

/** Options of the production layer. Every one has a documented default. */
export interface SandboxOptions {
  /** The runner's default limits (default {@link Limits.defaults}). */
  readonly limits?: Partial<Limits.Limits>
  /** The most a node may ask for (default {@link Limits.ceilings}). */
  readonly maxLimits?: Partial<Limits.Limits>
  /** Sandbox processes (default 1). Each runs its calls one at a time. */
  readonly processes?: number
  /** Calls sent ahead to a process (default 4); the rest wait on the host. */
  readonly pipeline?: number
  /** An isolate is replaced after this many calls (default 10,000), and after any timeout or OOM. */
  readonly recycleAfterCalls?: number
  /**
   * A sandbox process whose resident memory passes this is replaced once it is between calls (default
   * 1024 MB): checked by the process after calls and by the host every 250 ms (Linux).
   */
  readonly maxRssMb?: number
  /**
   * A sandbox process whose resident memory passes this is killed at once, even in the middle of a call
   * (default twice `maxRssMb`, at least 512 MB; 0 turns it off): the call fails with `SandboxCrashed`. Read from /proc every
   * 250 ms (Linux only); the process's own heap is also capped with `--max-old-space-size` (half of
   * `maxRssMb`, at least 256 MB) unless `execArgv` sets it.
   */
  readonly hardRssMb?: number
  /** How long past a call's time limit the supervisor waits before killing the process (default 1000 ms). */
  readonly deadlineGraceMs?: number
  /** How long a sandbox process may take to start (default 15,000 ms). */
  readonly startTimeoutMs?: number
  /** Prepare the next isolate in the background (default true); false saves memory, costs a stall per recycle. */
  readonly spareIsolates?: boolean
  /** What static-check findings do (default `"block"`: a high-severity finding refuses the script). */
  readonly staticChecks?: StaticCheckPolicy
  /**
   * Run the sandbox process under Node's permission model (default true): it can read only its own code,
   * write nothing, start no process or thread. Defense in depth, should an isolate ever be escaped.
   */
  readonly nodePermissions?: boolean
  /**
   * A script whose calls killed the sandbox process this many times (a crash, or a missed deadline) within
   * `quarantineMs` is refused for `quarantineMs` (default 3 and 10 minutes; 0 turns this off): each kill
   * costs a process restart, and retrying such a script only repeats it.
   */
  readonly quarantineAfter?: number
  readonly quarantineMs?: number
  /** Extra Node.js flags for the sandbox process (`--no-node-snapshot` is always set). */
  readonly execArgv?: ReadonlyArray<string>
}

const EMPTY_LOGS: ReadonlyArray<LogLine> = []

const dropProto = (key: string, value: unknown) => (key === "__proto__" ? undefined : value)

/**
 * Parses the JSON text of a result. `__proto__` keys are dropped: `JSON.parse` makes them own properties,
 * but copying such an object (`Object.assign`, a `for…in` copy) would set the copy's prototype. `constructor`
 * is an ordinary key and is kept (`{ "constructor": "Bob" }` is data): on a parsed object it is an own data
 * property, which reads, spreads, `Object.assign` and JSON treat like any other. The text comes from the
 * isolate's frozen `JSON.stringify`, which never escapes the letters of a key, so the `includes` test is
 * exact.
 */
const parseOutput = (json: string): unknown =>
  json.includes('"__proto__"') ? JSON.parse(json, dropProto) : JSON.parse(json)

interface Where {
  readonly nodeId: string
  readonly executionId: string
}

type Raw = Record<string, unknown>

const str = (value: unknown, fallback = "") => (typeof value === "string" ? value : fallback)
const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined)

/** Builds the typed error for an error result of the isolate or the supervisor. */
const toError = (raw: Raw, where: Where, limits: Limits.Limits, script: Script.CompiledScript): SandboxError => {
  switch (raw._tag) {
    case "ScriptTimeout": {
      const reason = raw.reason === "never-settled" || raw.reason === "deadline" ? raw.reason : "cpu"
      return new ScriptTimeout({ ...where, timeoutMs: limits.timeoutMs, reason })
    }
    case "ScriptMemoryLimit":
      return new ScriptMemoryLimit({ ...where, memoryMb: limits.memoryMb })
    case "ScriptError": {
      const line = num(raw.line)
      let column = num(raw.column)
      let stack = str(raw.stack)
      if (script.columnShifts.length > 0) {
        // The compiler inserted characters on some lines (see Script.columnShifts): report the user's columns.
        if (line !== undefined && column !== undefined) column = Script.originalPosition(script, line, column).column
        stack = stack.replace(
          /script:(\d+):(\d+)/g,
          (_, l: string, c: string) => `script:${l}:${Script.originalPosition(script, Number(l), Number(c)).column}`
        )
      }
      return new ScriptError({
        ...where,
        errorName: str(raw.errorName, "Error"),
        errorMessage: str(raw.errorMessage),
        ...(line === undefined ? {} : { line }),
        ...(column === undefined ? {} : { column }),
        ...(stack === "" ? {} : { stack })
      })
    }
    case "ResultNotSerializable":
      return new ResultNotSerializable({ ...where, path: str(raw.path), reason: str(raw.reason) })
    case "ResultTooLarge":
      return new ResultTooLarge({ ...where, bytes: num(raw.bytes) ?? 0, limit: limits.maxOutputBytes })
    case "ScriptCompileError":
      return new ScriptCompileError({
        ...where,
        reason: "syntax",
        detail: str(raw.detail),
        line: num(raw.line) ?? 1,
        column: num(raw.column) ?? 1,
        findings: []
      })
    default:
      return new SandboxCrashed({
        ...where,
        reason: str(raw.reason, "an unexpected answer from the sandbox"),
        retryable: raw.retryable !== false
      })
  }
}

const parseLogs = (json: string): { readonly logs: ReadonlyArray<LogLine>; readonly dropped: number } => {
  const parsed = JSON.parse(json) as { lines: ReadonlyArray<[LogLine["level"], string]>; dropped: number }
  return { logs: parsed.lines.map(([level, message]) => ({ level, message })), dropped: parsed.dropped }
}

/**
 * Decodes a result string (`o|e`, logs JSON, newline, output JSON or error JSON) into the call's outcome.
 */
const decode = (
  text: string,
  where: Where,
  limits: Limits.Limits,
  count: (outcome: string) => void,
  script: Script.CompiledScript
): Effect.Effect<ScriptResult, SandboxError> => {
  let failure: SandboxError
  try {
    const newline = text.indexOf("\n")
    const logsJson = text.slice(1, newline)
    const body = text.slice(newline + 1)
    const { logs, dropped } = logsJson === "" ? { logs: EMPTY_LOGS, dropped: 0 } : parseLogs(logsJson)
    if (text.charCodeAt(0) === 111 /* o */) {
      const output = parseOutput(body)
      count("ok")
      return Effect.succeed({ output, logs, droppedLogs: dropped })
    }
    failure = toError(JSON.parse(body) as Raw, where, limits, script)
  } catch (error) {
    failure = new SandboxCrashed({ ...where, reason: `an unreadable answer from the sandbox: ${error}` })
  }
  count(failure._tag)
  return Effect.fail(failure)
}

/** The same compile error, for a given node and execution. */
const locate = (error: ScriptCompileError, where: Where): ScriptCompileError =>
  new ScriptCompileError({
    ...where,
    reason: error.reason,
    detail: error.detail,
    line: error.line,
    column: error.column,
    findings: error.findings
  })

const serializeInput = (
  input: unknown,
  variables: RunOptions["variables"],
  where: Where,
  limits: Limits.Limits
): Result.Result<string, InputTooLarge | InputNotSerializable> => {
  let payload: string
  try {
    payload = `{"v":${variables === undefined ? "{}" : (JSON.stringify(variables) ?? "{}")},"i":${JSON.stringify(input) ?? "null"}}`
  } catch (error) {
    return Result.fail(
      new InputNotSerializable({ ...where, reason: error instanceof Error ? error.message : String(error) })
    )
  }
  // UTF-8 is at most 3 bytes per UTF-16 unit: count exactly only when it could matter.
  if (payload.length * 3 > limits.maxInputBytes) {
    const bytes = Buffer.byteLength(payload)
    if (bytes > limits.maxInputBytes) {
      return Result.fail(new InputTooLarge({ ...where, bytes, limit: limits.maxInputBytes }))
    }
  }
  return Result.succeed(payload)
}

/**
 * The production layer: starts the sandbox process(es) when built and kills them when its scope closes.
 * Fails with {@link SandboxCrashed} if no sandbox process can start.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "@jsonflow/sandbox"
 * const live = Sandbox.layer({ limits: { timeoutMs: 250, memoryMb: 32 }, processes: 2 })
 * const program = Sandbox.use((s) => s.run("export default async (x) => x * 2", 21)).pipe(Effect.provide(live))
 * ```
 */
export const layer = (options: SandboxOptions = {}): Layer.Layer<Sandbox, SandboxCrashed> =>
  Layer.effect(
    Sandbox,
    Effect.gen(function* () {
      const ceilings = Limits.ceilingsOf(options.maxLimits)
      const defaults = Limits.resolve(options.limits, Limits.defaults, ceilings)
      const policy = options.staticChecks ?? "block"
      const supervisor = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const supervisor = new Supervisor({
              processes: Math.max(1, options.processes ?? 1),
              pipeline: Math.max(1, options.pipeline ?? 4),
              deadlineGraceMs: options.deadlineGraceMs ?? 1_000,
              startTimeoutMs: options.startTimeoutMs ?? 15_000,
              execArgv: options.execArgv ?? [],
              permissions: options.nodePermissions ?? true,
              quarantineAfter: options.quarantineAfter ?? 3,
              quarantineMs: options.quarantineMs ?? 600_000,
              hardRssMb: options.hardRssMb ?? Math.max(512, 2 * (options.maxRssMb ?? 1_024)),
              worker: {
                recycleAfterCalls: Math.max(1, options.recycleAfterCalls ?? 10_000),
                maxRssMb: options.maxRssMb ?? 1_024,
                defaultMemoryMb: defaults.memoryMb,
                spareIsolates: options.spareIsolates ?? true
              }
            })
            try {
              await supervisor.start()
            } catch (error) {
              await supervisor.close()
              throw error
            }
            return supervisor
          },
          catch: (error) =>
            new SandboxCrashed({
              nodeId: "",
              executionId: "",
              reason: `the sandbox could not start: ${error instanceof Error ? error.message : String(error)}`
            })
        }),
        (supervisor) => Effect.promise(() => supervisor.close())
      )

      const compile: SandboxService["compile"] = (source, compileOptions = {}) =>
        Effect.suspend(() => {
          const outcome = Script.compile(source, { language: compileOptions.language ?? "js", staticChecks: policy })
          if (Result.isSuccess(outcome)) return Effect.succeed(outcome.success)
          const where = { nodeId: compileOptions.nodeId ?? "", executionId: compileOptions.executionId ?? "" }
          return Effect.fail(
            where.nodeId === "" && where.executionId === "" ? outcome.failure : locate(outcome.failure, where)
          )
        })

      // Outcomes of finished calls, for stats(): a handful of keys, one increment per call.
      const outcomes = new Map<string, number>()
      const count = (outcome: string) => {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      }

      const run: SandboxService["run"] = (script, input, runOptions = {}) =>
        Effect.suspend(() => {
          const where: Where = { nodeId: runOptions.nodeId ?? "", executionId: runOptions.executionId ?? "" }
          let compiled: Script.CompiledScript
          if (typeof script === "string") {
            const outcome = Script.compile(script, { language: "js", staticChecks: policy })
            if (Result.isFailure(outcome)) {
              count("ScriptCompileError")
              return Effect.fail(locate(outcome.failure, where))
            }
            compiled = outcome.success
          } else {
            compiled = script
          }
          const limits = Limits.resolve(runOptions.limits, defaults, ceilings)
          const payload = serializeInput(input, runOptions.variables, where, limits)
          if (Result.isFailure(payload)) {
            count(payload.failure._tag)
            return Effect.fail(payload.failure)
          }
          const hostCalls = runOptions.hostCalls
          const submit = (context: Context.Context<never> | undefined) =>
            Effect.callback<ScriptResult, SandboxError>((resume) => {
              const open =
                context === undefined || hostCalls === undefined
                  ? undefined
                  : openChannel(
                      {
                        capabilities: hostCalls.capabilities,
                        maxCalls: Math.max(0, hostCalls.maxCalls ?? DEFAULT_MAX_HOST_CALLS),
                        maxBytes: Math.max(0, hostCalls.maxBytes ?? DEFAULT_MAX_HOST_CALL_BYTES)
                      },
                      where,
                      context
                    )
              const call: Call = {
                scriptId: compiled.id,
                code: compiled.code,
                nodeId: where.nodeId,
                executionId: where.executionId,
                attempt: runOptions.attempt ?? 1,
                timeoutMs: limits.timeoutMs,
                memoryMb: limits.memoryMb,
                maxOutputBytes: limits.maxOutputBytes,
                maxLogBytes: limits.maxLogBytes,
                payload: payload.success,
                ...(open === undefined ? {} : { host: open.channel }),
                done: (text) => {
                  open?.close()
                  const failure = open?.failure()
                  if (failure === undefined) return resume(decode(text, where, limits, count, compiled))
                  // A failed host call fails the call, even if the script caught what it saw of it.
                  count(failure._tag)
                  resume(Effect.fail(failure))
                },
                cancelled: false
              }
              supervisor.submit(call)
              return Effect.sync(() => {
                call.cancelled = true
                open?.close()
                count("interrupted")
              })
            })
          // The capabilities run in the caller's context (its logger, tracer, references).
          return hostCalls === undefined || Object.keys(hostCalls.capabilities).length === 0
            ? submit(undefined)
            : Effect.flatMap(Effect.context<never>(), submit)
        })

      const stats = (): SandboxStats => {
        const now = supervisor.stats()
        return {
          processes: { configured: now.configured, alive: now.alive },
          callsInFlight: now.inFlight,
          callsQueued: now.queued,
          processRestarts: now.restarts,
          quarantinedScripts: now.quarantined,
          isolatesRecycled: now.isolatesRecycled,
          callsByOutcome: Object.fromEntries(outcomes)
        }
      }

      return Sandbox.of({ compile, run, limits: defaults, stats })
    })
  )
