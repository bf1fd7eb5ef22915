/**
 * What a flow source yields: flows as IR (canonical JSON files, nFlow exports, config DB rows) or as builder
 * definitions (TypeScript modules), each with where it came from, plus what failed to load.
 *
 * @module FlowSource
 */
import type { Flow, Ir } from "@jsonflow/core"

/** One loaded flow. `json` flows run in the JSON environment (sandbox, guarded HTTP); `builder` flows with the user's layers. */
export type SourcedFlow =
  | { readonly kind: "json"; readonly source: string; readonly ir: Ir.Flow }
  | {
      readonly kind: "builder"
      readonly source: string
      readonly definition: Flow.FlowDefinition<unknown, unknown, unknown>
    }

/** A file or row that did not load. */
export interface LoadFailure {
  readonly source: string
  readonly message: string
}

/** The result of reading a source once. */
export interface Snapshot {
  readonly flows: ReadonlyArray<SourcedFlow>
  readonly failures: ReadonlyArray<LoadFailure>
}

/** Whether a module export is a built flow (`Flow.make(...).build()`). */
export const isFlowDefinition = (value: unknown): value is Flow.FlowDefinition<unknown, unknown, unknown> =>
  typeof value === "object" &&
  value !== null &&
  "ir" in value &&
  "registry" in value &&
  "input" in value &&
  typeof (value as { ir: unknown }).ir === "object"
