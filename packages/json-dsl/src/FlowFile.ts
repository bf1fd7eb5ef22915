/**
 * Flow files on disk, as the `jsonflow` commands see them: read a file, tell a canonical flow from an nFlow
 * designer export, load or import it, and read a directory of custom nFlow box modules (`<name>.js`).
 *
 * @module FlowFile
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { Builtins, type Ir, Registry } from "@jsonflow/core"
import type * as Dsl from "./Dsl.ts"
import * as Input from "./Input.ts"
import * as JsonText from "./JsonText.ts"
import * as Load from "./Load.ts"
import type * as ImportModule from "./nflow/Import.ts"
import { importRead, isExport } from "./nflow/Import.ts"
import * as JsNode from "./nflow/JsNode.ts"
import * as Nodes from "./nflow/nodes.ts"
import * as Problem from "./Problem.ts"

/**
 * The node types the commands know without services: the built-ins and the nFlow types (code boxes can be
 * validated, not run). Merge others (connectors, sandbox code nodes) in.
 */
export const validationRegistry = Registry.merge(
  Builtins.registry,
  Registry.merge(Nodes.nativeRegistry, Registry.make(JsNode.definitionForValidation))
)

/** One runnable flow of a file, with its problems. */
export interface FileFlow {
  readonly flow: Ir.Flow
  readonly layout: Dsl.Layout
  readonly problems: ReadonlyArray<Problem.Problem>
}

/** A file after reading: its kind, its flows (one for a canonical file, one per starter for nFlow) and problems. */
export interface Opened {
  readonly kind: "canonical" | "nflow" | "unreadable"
  readonly flows: ReadonlyArray<FileFlow>
  /** Every problem of the file (the flows' included). */
  readonly problems: ReadonlyArray<Problem.Problem>
  /** For nFlow exports: the import result (file names, starters). */
  readonly imported?: ImportModule.ImportResult
}

/** Options of {@link open}. */
export interface OpenOptions {
  /** Custom nFlow box modules by name. */
  readonly modules?: Readonly<Record<string, string>>
  readonly flows?: Readonly<Record<string, Ir.Flow>>
  readonly limits?: Partial<JsonText.Limits>
}

const readText = (path: string, limits: Partial<JsonText.Limits> = {}): string | Problem.Problem => {
  const maxBytes = limits.maxBytes ?? JsonText.DEFAULT_LIMITS.maxBytes
  try {
    const size = statSync(path).size
    if (size > maxBytes) {
      return Problem.error("too-large", "", `the file is ${size} bytes; the limit is ${maxBytes} bytes`)
    }
    return readFileSync(path, "utf8")
  } catch (error) {
    return Problem.error(
      "unreadable",
      "",
      `cannot read the file: ${error instanceof Error ? error.message : String(error)}`
    )
  }
}

/**
 * Reads and interprets a flow file: canonical flows are loaded against `registry`, nFlow exports imported.
 *
 * @example
 * ```ts
 * import { Builtins } from "@jsonflow/core"
 * import { FlowFile } from "@jsonflow/json-dsl"
 * const opened = FlowFile.open("flows/orders.flow.json", Builtins.registry)
 * for (const p of opened.problems) console.log(p.path, p.message)
 * ```
 */
export const open = <R>(path: string, registry: Registry.Registry<R>, options: OpenOptions = {}): Opened => {
  const text = readText(path, options.limits)
  if (typeof text !== "string") return { kind: "unreadable", flows: [], problems: [text] }
  return interpret(text, registry, options)
}

/** {@link open} for text already in memory. The text is parsed once, whatever its kind. */
export const interpret = <R>(text: string, registry: Registry.Registry<R>, options: OpenOptions = {}): Opened => {
  const read = Input.read(text, options.limits)
  if (read._tag === "Unreadable") return { kind: "unreadable", flows: [], problems: read.problems }
  if (isExport(read.value)) {
    const imported = importRead(read, options.modules === undefined ? {} : { modules: options.modules })
    return {
      kind: "nflow",
      flows: imported.flows.map((f) => ({ flow: f.flow, layout: f.layout, problems: f.problems })),
      problems: imported.problems,
      imported
    }
  }
  const loaded = Load.loadRead(read, registry, options.flows === undefined ? {} : { flows: options.flows })
  return loaded._tag === "Loaded"
    ? {
        kind: "canonical",
        flows: [{ flow: loaded.flow, layout: loaded.layout, problems: loaded.warnings }],
        problems: loaded.warnings
      }
    : { kind: "canonical", flows: [], problems: loaded.problems }
}

/**
 * Reads the `<name>.js` files of a directory as custom nFlow box modules.
 *
 * @example
 * ```ts
 * import { FlowFile } from "@jsonflow/json-dsl"
 * const modules = FlowFile.readModules("nflow-modules") // { greet: "function main(){ ... }" }
 * ```
 */
export const readModules = (directory: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(directory)
      .filter((name) => name.endsWith(".js"))
      .sort()
      .map((name) => [name.slice(0, -3), readFileSync(join(directory, name), "utf8")])
  )
