/**
 * `@jsonflow/sandbox`: user JavaScript/TypeScript transforms that cannot hurt the host, and are fast.
 * The `Sandbox` service and its production layer (isolated-vm in a supervised process), script compilation
 * (type stripping, static checks), resource limits, typed errors, and the `js`/`ts` node definitions.
 *
 * @module @jsonflow/sandbox
 */
export * from "./errors.ts"
/** Resource limits, defaults and ceilings. */
export * as Limits from "./Limits.ts"
export * as Nodes from "./nodes.ts"
export { JsConfig, jsNode, TsConfig, tsNode } from "./nodes.ts"
export {
  type CompileOptions,
  DEFAULT_MAX_HOST_CALL_BYTES,
  DEFAULT_MAX_HOST_CALLS,
  emptyStats,
  type HostCalls,
  type HostCapability,
  type LogLine,
  layer,
  type RunOptions,
  Sandbox,
  type SandboxOptions,
  type SandboxService,
  type SandboxStats,
  type ScriptResult
} from "./Sandbox.ts"
/** Compiling scripts: type stripping, static checks, the factory rewrite, the cache. */
export * as Script from "./Script.ts"
export { type StaticCheckPolicy, staticCheck } from "./staticCheck.ts"
export { type StripResult, stripTypes } from "./typescript.ts"
