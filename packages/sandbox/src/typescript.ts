/**
 * TypeScript bodies: types are stripped (replaced by blanks) with amaro, the SWC-based stripper Node itself
 * uses, so every line and column of the output is the line and column of the source and errors point at
 * what the user wrote. Syntax that cannot be erased (enums, namespaces, parameter properties) is refused
 * with its position rather than transformed.
 *
 * @module typescript
 */
import { createRequire } from "node:module"
import type * as Amaro from "amaro"

/** The outcome of stripping: JavaScript with the same positions, or where and why it could not be done. */
export type StripResult =
  | { readonly _tag: "Stripped"; readonly code: string }
  | {
      readonly _tag: "Failed"
      readonly reason: "typescript" | "syntax"
      readonly detail: string
      /** 1-based. */
      readonly line: number
      /** 1-based. */
      readonly column: number
    }

// amaro loads a WebAssembly build of SWC (tens of ms): only when the first TypeScript script is compiled.
let amaro: typeof Amaro | undefined
const load = (): typeof Amaro => {
  amaro ??= createRequire(import.meta.url)("amaro") as typeof Amaro
  return amaro
}

interface SwcError {
  readonly code: string
  readonly message: string
  readonly startLine: number
  readonly startColumn: number
}

const isSwcError = (error: unknown): error is SwcError =>
  typeof error === "object" &&
  error !== null &&
  typeof (error as SwcError).code === "string" &&
  typeof (error as SwcError).startLine === "number"

/**
 * Strips TypeScript types, keeping every position.
 *
 * @example
 * ```ts
 * import { stripTypes } from "@jsonflow/sandbox"
 * stripTypes("export default (x: number): number => x * 2")
 * // { _tag: "Stripped", code: "export default (x        )         => x * 2" }
 * ```
 */
export const stripTypes = (source: string): StripResult => {
  try {
    return { _tag: "Stripped", code: load().transformSync(source, { mode: "strip-only" }).code }
  } catch (error) {
    if (isSwcError(error)) {
      return {
        _tag: "Failed",
        reason: error.code === "UnsupportedSyntax" ? "typescript" : "syntax",
        detail: error.message,
        line: error.startLine,
        column: error.startColumn + 1
      }
    }
    return { _tag: "Failed", reason: "syntax", detail: String(error), line: 1, column: 1 }
  }
}
