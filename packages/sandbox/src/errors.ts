/**
 * Typed failures of a sandboxed script. Each is a `Schema.TaggedError` that names the node and the execution
 * it ran for (empty strings when the caller gave none), has a `message` a person can read, and a
 * `retryable` field the engine reads to decide whether a retry may help: only {@link SandboxCrashed} is
 * retryable, because a script is pure (no host reach), so running it again gives the same outcome unless
 * the sandbox process itself died under it — and {@link HostCallError} when the host capability it called
 * says its failure is worth a retry.
 *
 * @module errors
 */
import { Effect, Schema } from "effect"

const notRetryable = Schema.Literal(false).pipe(Schema.withConstructorDefault(Effect.succeed(false as const)))

const Where = {
  nodeId: Schema.String,
  executionId: Schema.String
}

const at = (nodeId: string) => (nodeId === "" ? "script" : `script of node "${nodeId}"`)

/** A static-check finding: a construct the sandbox does not want to see, with its position (1-based). */
export const Finding = Schema.Struct({
  rule: Schema.String,
  severity: Schema.Literals(["high", "medium", "low"]),
  message: Schema.String,
  line: Schema.Number,
  column: Schema.Number
})
export type Finding = typeof Finding.Type

/**
 * The script could not be compiled: a syntax error, TypeScript syntax that cannot be erased (enum,
 * namespace, parameter property), a module shape the sandbox does not accept (imports, no default export),
 * or a construct blocked by the static checks. `line`/`column` are 1-based, in the user's source.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "@jsonflow/sandbox"
 * const program = Sandbox.use((s) => s.compile("export default (x) => x +", { language: "js" })).pipe(
 *   Effect.catchTag("ScriptCompileError", (e) => Effect.succeed(`${e.line}:${e.column} ${e.detail}`))
 * )
 * ```
 */
export class ScriptCompileError extends Schema.TaggedError<ScriptCompileError>()("ScriptCompileError", {
  ...Where,
  reason: Schema.Literals(["syntax", "typescript", "module", "forbidden"]),
  detail: Schema.String,
  line: Schema.Number,
  column: Schema.Number,
  findings: Schema.Array(Finding),
  retryable: notRetryable
}) {
  override get message() {
    return `${at(this.nodeId)} does not compile (${this.reason}) at line ${this.line}, column ${this.column}: ${this.detail}`
  }
}

/**
 * The script ran past its time limit. `reason`: `cpu` (the isolate's own timeout stopped it),
 * `never-settled` (it returned a promise that can never settle: nothing is left for it to wait on), or
 * `deadline` (it did not stop at the limit, e.g. inside an uninterruptible builtin, so the supervisor killed
 * and restarted the sandbox process).
 */
export class ScriptTimeout extends Schema.TaggedError<ScriptTimeout>()("ScriptTimeout", {
  ...Where,
  timeoutMs: Schema.Number,
  reason: Schema.Literals(["cpu", "never-settled", "deadline"]),
  retryable: notRetryable
}) {
  override get message() {
    switch (this.reason) {
      case "never-settled":
        return `${at(this.nodeId)} returned a promise that never settles (nothing is left for it to wait on)`
      case "deadline":
        return `${at(this.nodeId)} did not stop at its ${this.timeoutMs} ms time limit; the sandbox process was restarted`
      default:
        return `${at(this.nodeId)} ran past its ${this.timeoutMs} ms time limit`
    }
  }
}

/** The script used more memory than its isolate may have; the isolate was disposed and replaced. */
export class ScriptMemoryLimit extends Schema.TaggedError<ScriptMemoryLimit>()("ScriptMemoryLimit", {
  ...Where,
  memoryMb: Schema.Number,
  retryable: notRetryable
}) {
  override get message() {
    return `${at(this.nodeId)} ran out of memory (limit ${this.memoryMb} MB)`
  }
}

/**
 * The script threw (or its promise rejected, or it left a promise rejected and unhandled). `errorName` and
 * `errorMessage` come from the thrown value (`NonError` when it was not an Error); `line`/`column` are
 * 1-based positions in the user's source of the innermost frame of the script, when known.
 */
export class ScriptError extends Schema.TaggedError<ScriptError>()("ScriptError", {
  ...Where,
  errorName: Schema.String,
  errorMessage: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  column: Schema.optionalKey(Schema.Number),
  /** The stack frames inside the script, if any (never host paths). */
  stack: Schema.optionalKey(Schema.String),
  retryable: notRetryable
}) {
  override get message() {
    const where = this.line === undefined ? "" : ` (line ${this.line}, column ${this.column ?? 0})`
    return `${at(this.nodeId)} failed: ${this.errorName}: ${this.errorMessage}${where}`
  }
}

/** The script's result is not JSON data: a BigInt, a cycle, a getter or `toJSON` that threw, ... at `path`. */
export class ResultNotSerializable extends Schema.TaggedError<ResultNotSerializable>()("ResultNotSerializable", {
  ...Where,
  /** JSON Pointer into the result ("" for the result itself). */
  path: Schema.String,
  reason: Schema.String,
  retryable: notRetryable
}) {
  override get message() {
    return `${at(this.nodeId)} returned a value that is not JSON data at "${this.path}": ${this.reason}`
  }
}

/** The script's result, as JSON, is larger than the output cap. */
export class ResultTooLarge extends Schema.TaggedError<ResultTooLarge>()("ResultTooLarge", {
  ...Where,
  /** UTF-8 bytes of the result's JSON text (at least this many). */
  bytes: Schema.Number,
  limit: Schema.Number,
  retryable: notRetryable
}) {
  override get message() {
    return `${at(this.nodeId)} returned ${this.bytes} bytes of JSON, over the ${this.limit} byte limit`
  }
}

/** The input (or the variables) given to the script, as JSON, is larger than the input cap. */
export class InputTooLarge extends Schema.TaggedError<InputTooLarge>()("InputTooLarge", {
  ...Where,
  bytes: Schema.Number,
  limit: Schema.Number,
  retryable: notRetryable
}) {
  override get message() {
    return `input of the ${at(this.nodeId)} is ${this.bytes} bytes of JSON, over the ${this.limit} byte limit`
  }
}

/** The input (or the variables) given to the script cannot be turned into JSON (a cycle, a BigInt, ...). */
export class InputNotSerializable extends Schema.TaggedError<InputNotSerializable>()("InputNotSerializable", {
  ...Where,
  reason: Schema.String,
  retryable: notRetryable
}) {
  override get message() {
    return `input of the ${at(this.nodeId)} is not JSON data: ${this.reason}`
  }
}

/**
 * The sandbox process died (a fatal V8 error, an external kill) while this call was running, or no sandbox
 * process can start. The process is restarted and the call may be retried. A script that has killed the
 * process repeatedly is quarantined for a while: its calls fail at once with this error, not retryable.
 */
export class SandboxCrashed extends Schema.TaggedError<SandboxCrashed>()("SandboxCrashed", {
  ...Where,
  reason: Schema.String,
  /** True, except for a script quarantined for killing the sandbox process again and again. */
  retryable: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(true)))
}) {
  override get message() {
    return `the sandbox process running the ${at(this.nodeId)} crashed: ${this.reason}`
  }
}

/**
 * A host call the script made (see `RunOptions.hostCalls`) failed, so the whole call failed: even a script
 * that caught the exception in the isolate fails with this error. `reason`: `failed` (the capability
 * failed: `errorTag` and `errorMessage` are its typed error's, e.g. `HttpTargetDenied`), `too-many` (more
 * than `maxCalls` calls), `too-large` (a request or an answer over `maxBytes`), `not-offered` (a
 * capability the call does not offer). Retryable when the capability's error says so.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox } from "@jsonflow/sandbox"
 * const program = Sandbox.use((s) =>
 *   s.run("export default (x, ctx) => ctx.host.call('lookup', x)", 1, {
 *     hostCalls: { capabilities: { lookup: () => Effect.fail({ _tag: "NotFound", message: "no such id" }) } }
 *   })
 * ).pipe(Effect.catchTag("HostCallError", (e) => Effect.succeed(`${e.capability}: ${e.errorTag}`))) // "lookup: NotFound"
 * ```
 */
export class HostCallError extends Schema.TaggedError<HostCallError>()("HostCallError", {
  ...Where,
  /** The capability the script called. */
  capability: Schema.String,
  reason: Schema.Literals(["failed", "too-many", "too-large", "not-offered"]),
  /** The `_tag` of the capability's error (`failed`), else the reason. */
  errorTag: Schema.String,
  errorMessage: Schema.String,
  retryable: Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(false)))
}) {
  override get message() {
    return `${at(this.nodeId)} failed in its host call "${this.capability}": ${this.errorTag}: ${this.errorMessage}`
  }
}

/**
 * A `js`/`ts` node with several ports got a result that does not name one of them: the script must return
 * `{ port, value }` (or an array of them) with `port` among the node's `ports`.
 */
export class ScriptPortInvalid extends Schema.TaggedError<ScriptPortInvalid>()("ScriptPortInvalid", {
  ...Where,
  ports: Schema.Array(Schema.String),
  detail: Schema.String,
  retryable: notRetryable
}) {
  override get message() {
    return `${at(this.nodeId)} must return { port, value } with port one of ${this.ports.join(", ")}: ${this.detail}`
  }
}

/** Anything a sandboxed call can fail with. */
export type SandboxError =
  | ScriptCompileError
  | ScriptTimeout
  | ScriptMemoryLimit
  | ScriptError
  | ResultNotSerializable
  | ResultTooLarge
  | InputTooLarge
  | InputNotSerializable
  | SandboxCrashed
  | HostCallError
