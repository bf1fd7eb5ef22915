/**
 * Everything for nFlow designer exports: the importer, the node types its flows use, and the registry that
 * runs them.
 *
 * @module Nflow
 */
import { Registry } from "@jsonflow/core"
import * as JsNode from "./nflow/JsNode.ts"
import * as Nodes from "./nflow/nodes.ts"

/** The nFlow script contract as a sandbox script. */
export * as Contract from "./nflow/contract.ts"
/** The Go html/template subset of `template` boxes. */
export * as GoTemplate from "./nflow/GoTemplate.ts"
/** The `http_*` helpers: the `http` host capability over an HTTP client. */
export * as Http from "./nflow/Http.ts"
export type { ImportedFlow, ImportOptions, ImportResult } from "./nflow/Import.ts"
export { importExport, importRead, isExport, notWritten } from "./nflow/Import.ts"
/** The `nflow.js` code node. */
export * as JsNode from "./nflow/JsNode.ts"
/** The native nFlow box node types. */
export * as Nodes from "./nflow/nodes.ts"
/** The state on the edges of an nFlow flow. */
export * as State from "./nflow/State.ts"

/** The native nFlow node types (no code boxes). */
export const nativeRegistry = Nodes.nativeRegistry

/**
 * Every node type an imported nFlow flow uses, with code boxes run by `runner` (the sandbox).
 *
 * @example
 * ```ts
 * import { Compiler } from "@jsonflow/core"
 * import { Nflow } from "@jsonflow/json-dsl"
 * const compiled = Compiler.compileSync(imported.flow, Nflow.registry(runner))
 * ```
 */
export const registry = <R>(runner: JsNode.ScriptRunner<R>) =>
  Registry.merge(Nodes.nativeRegistry, Registry.make(JsNode.make(runner)))
