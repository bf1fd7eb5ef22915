/**
 * Flows from files and directories: canonical JSON (`"dsl": 1`), nFlow designer exports (`"drawflow"`), and
 * TypeScript or JavaScript modules whose exports include built flows. Directories are read recursively
 * (skipping `node_modules` and dot files); {@link watch} reports changes, debounced, for hot reload.
 *
 * @module directory
 */
import { type FSWatcher, watch as fsWatch, readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { Ir, Registry } from "@jsonflow/core"
import { FlowFile } from "@jsonflow/json-dsl"
import { isFlowDefinition, type LoadFailure, type Snapshot, type SourcedFlow } from "./FlowSource.ts"

const MODULE_EXTENSIONS = new Set([".ts", ".mts", ".js", ".mjs"])
const SKIPPED_FILES = new Set(["package.json", "package-lock.json", "tsconfig.json", "biome.json"])

/** Whether a file is a module that may export builder flows (`.ts`, `.mts`, `.js`, `.mjs`; not tests or typings). */
export const isModule = (file: string) =>
  MODULE_EXTENSIONS.has(extname(file)) && !/\.(d|test|spec)\.[mc]?[jt]s$/.test(file) && !file.endsWith(".d.mts")

/** Lists the flow files under the given paths (files are taken as given). */
export const listFiles = (paths: ReadonlyArray<string>, cwd = process.cwd()): ReadonlyArray<string> => {
  const files: Array<string> = []
  const visit = (path: string, explicit: boolean) => {
    let stats: ReturnType<typeof statSync>
    try {
      stats = statSync(path)
    } catch {
      if (explicit) files.push(path) // reported as unreadable by the loader
      return
    }
    if (stats.isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        if (name.startsWith(".") || name.startsWith("_") || name === "node_modules") continue
        visit(join(path, name), false)
      }
      return
    }
    const name = path.split(/[\\/]/).pop() ?? path
    // Test cases and recorded fixtures sit beside flows (`jsonflow test`); they are never flows themselves.
    const skipped = SKIPPED_FILES.has(name) || /\.(test|fixture)\.json$/.test(name)
    if (explicit || ((extname(name) === ".json" || isModule(name)) && !skipped)) files.push(path)
  }
  for (const p of paths) visit(resolve(cwd, p), true)
  return files
}

/** A JSON file that is neither a flow nor an nFlow export (no `dsl`, `nodes` or `drawflow` key) is not ours. */
export const looksLikeFlow = (text: string) => /"(dsl|nodes|drawflow)"\s*:/.test(text)

/**
 * Reads every flow under `paths` once. Canonical JSON is loaded and nFlow exports imported
 * (`FlowFile.interpret` of `@jsonflow/json-dsl`), each validated and compiled against `registry`; a flow that
 * calls another by id is retried once the others are known. Modules are imported afresh on each call (a
 * cache-busting query), so a changed file is really re-read.
 *
 * @example
 * ```ts
 * const { flows, failures } = await readPaths(["examples/flows"], registry)
 * ```
 */
export const readPaths = async (
  paths: ReadonlyArray<string>,
  registry: Registry.Registry<unknown>
): Promise<Snapshot> => {
  const flows: Array<SourcedFlow> = []
  const failures: Array<LoadFailure> = []
  const pendingJson: Array<{ file: string; text: string }> = []
  for (const file of listFiles(paths)) {
    if (isModule(file)) {
      try {
        const version = statSync(file).mtimeMs
        const module = (await import(`${pathToFileURL(file).href}?v=${version}`)) as Record<string, unknown>
        for (const [name, value] of Object.entries(module)) {
          if (isFlowDefinition(value)) flows.push({ kind: "builder", source: `${file}#${name}`, definition: value })
        }
      } catch (error) {
        failures.push({
          source: file,
          message: `cannot import: ${error instanceof Error ? error.message : String(error)}`
        })
      }
      continue
    }
    let text: string
    try {
      text = readFileSync(file, "utf8")
    } catch (error) {
      failures.push({ source: file, message: `cannot read: ${(error as Error).message}` })
      continue
    }
    if (!looksLikeFlow(text)) continue
    pendingJson.push({ file, text })
  }
  // Flows that call flows not yet known are retried with the ones that loaded.
  let pending = pendingJson
  const known: Record<string, Ir.Flow> = {}
  for (let round = 0; round < 4 && pending.length > 0; round++) {
    const retry: typeof pending = []
    const failedNow: Array<LoadFailure> = []
    for (const item of pending) {
      const opened = FlowFile.interpret(item.text, registry, { flows: known })
      const errors = opened.problems.filter((p) => p.severity === "error")
      if (errors.length === 0 && opened.flows.length > 0) {
        for (const f of opened.flows) {
          known[f.flow.id] = f.flow
          flows.push({ kind: "json", source: item.file, ir: f.flow })
        }
      } else if (errors.some((p) => p.code === "unknown-flow")) {
        retry.push(item)
        failedNow.push({ source: item.file, message: formatProblems(errors) })
      } else {
        failures.push({ source: item.file, message: formatProblems(errors) || "the file holds no flow" })
      }
    }
    if (retry.length === pending.length) {
      failures.push(...failedNow)
      break
    }
    pending = retry
  }
  return { flows, failures }
}

const formatProblems = (
  problems: ReadonlyArray<{ readonly path: string; readonly message: string; readonly line?: number }>
) => problems.map((p) => `${p.path || "/"}: ${p.message}`).join("\n")

/**
 * Watches files and directories; `onChange` runs once per burst of changes (debounced). Returns a closer.
 *
 * @example
 * ```ts
 * const close = watch(["examples/flows"], () => void runner.reload())
 * ```
 */
export const watch = (paths: ReadonlyArray<string>, onChange: () => void, debounceMs = 150): (() => void) => {
  const watchers: Array<FSWatcher> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const fire = () => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(onChange, debounceMs)
  }
  for (const p of paths) {
    try {
      const path = resolve(p)
      const recursive = statSync(path).isDirectory()
      const watcher = fsWatch(path, { recursive, persistent: false }, (_event, name) => {
        if (
          name === null ||
          !String(name)
            .split(/[\\/]/)
            .some((part) => part.startsWith("."))
        )
          fire()
      })
      watcher.on("error", () => {})
      watchers.push(watcher)
    } catch {
      // A path that does not exist yet cannot be watched; the initial load reported it.
    }
  }
  return () => {
    if (timer) clearTimeout(timer)
    for (const w of watchers) w.close()
  }
}
