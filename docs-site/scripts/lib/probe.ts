/**
 * Loads the workspace packages as they are at build time. Packages land at different times, so nothing
 * here assumes an export exists: modules are imported as `unknown` and probed, and a package that fails to
 * load is reported and skipped, never fatal.
 *
 * @module probe
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import type { Node, Registry } from "@jsonflow/core"

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  (typeof value === "object" && value !== null) || typeof value === "function"

/** Imports a module; `undefined` (with the reason logged) if it cannot be loaded. */
export const tryImport = async (specifier: string): Promise<Readonly<Record<string, unknown>> | undefined> => {
  try {
    const module: unknown = await import(specifier)
    return isRecord(module) ? module : undefined
  } catch (error) {
    console.warn(`  skip ${specifier}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    return undefined
  }
}

/** Reads a nested property, `undefined` when any step is missing. */
export const pick = (value: unknown, ...path: ReadonlyArray<string>): unknown => {
  let current = value
  for (const key of path) {
    if (!isRecord(current) || !(key in current)) return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

/**
 * The public subpaths of a workspace package (`.`, `./http`, ...) with their TypeScript source, from its
 * exports map: a subpath's `@jsonflow/source` target (its other targets point into dist/).
 */
export const sourceEntries = (
  packageRoot: string
): ReadonlyArray<{ readonly subpath: string; readonly source: string }> => {
  try {
    const manifest = JSON.parse(readFileSync(resolve(packageRoot, "package.json"), "utf8")) as {
      readonly exports?: Readonly<Record<string, unknown>>
    }
    return Object.entries(manifest.exports ?? {}).flatMap(([subpath, entry]) => {
      const target = isRecord(entry) ? entry["@jsonflow/source"] : entry
      return typeof target === "string" && target.endsWith(".ts") && !subpath.includes("*")
        ? [{ subpath, source: target }]
        : []
    })
  } catch {
    return []
  }
}

/** The public subpaths of a workspace package (`.`, `./http`, ...). */
export const subpathsOf = (packageRoot: string): ReadonlyArray<string> =>
  sourceEntries(packageRoot).map((e) => e.subpath)

/** Whether a value is a node definition (what `Node.define` returns). */
export const isDefinition = (value: unknown): value is Node.Any =>
  isRecord(value) &&
  typeof value.type === "string" &&
  typeof value.run === "function" &&
  isRecord(value.outputs) &&
  isRecord(value.input) &&
  isRecord(value.config) &&
  (value.inputMode === "single" || value.inputMode === "join")

const isRegistry = (value: unknown): value is Registry.Registry<unknown> =>
  isRecord(value) && value.definitions instanceof Map

/**
 * Every node definition reachable from a module's exports: definitions, arrays of them, registries, and the
 * same inside exported namespaces (three levels deep). Functions are never called.
 */
export const definitionsIn = (module: unknown): ReadonlyArray<Node.Any> => {
  const found = new Map<string, Node.Any>()
  const visit = (value: unknown, depth: number) => {
    if (isDefinition(value)) {
      if (!found.has(value.type)) found.set(value.type, value)
      return
    }
    if (isRegistry(value)) {
      for (const definition of value.definitions.values()) if (isDefinition(definition)) visit(definition, depth)
      return
    }
    if (Array.isArray(value)) {
      for (const item of value) if (isDefinition(item)) visit(item, depth)
      return
    }
    if (depth >= 3 || typeof value !== "object" || value === null) return
    // Only plain namespaces (module objects) are walked, not arbitrary objects such as Schemas.
    if (Object.prototype.toString.call(value) !== "[object Module]") return
    for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key], depth + 1)
  }
  visit(module, 0)
  return [...found.values()]
}
