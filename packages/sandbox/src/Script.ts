/**
 * Compiling a script: a JavaScript or TypeScript ES module whose default export is the transform
 * `(input, ctx) => output`. Compilation happens on the host, once per source (results are cached by
 * content): types are stripped, the module is parsed (acorn), checked ({@link staticCheck}), and rewritten
 * into a *factory* — a function expression that runs the module body and returns its default export — with
 * every line and column of the user's code kept, so errors point at what the user wrote. The sandbox calls
 * the factory once per call, so module-level `let` state is fresh every time.
 *
 * @module Script
 */
import { createHash } from "node:crypto"
import * as acorn from "acorn"
import { Result } from "effect"
import { type Finding, ScriptCompileError } from "./errors.ts"
import * as SesCompat from "./internal/sesCompat.ts"
import { type StaticCheckPolicy, staticCheck } from "./staticCheck.ts"
import { stripTypes } from "./typescript.ts"

/** Source language of a script. */
export type Language = "js" | "ts"

/** A compiled script: plain data, safe to cache and to send to the sandbox process. */
export interface CompiledScript {
  /** Content hash of `code` (hex): how the sandbox process caches the script. */
  readonly id: string
  readonly language: Language
  /** The factory the isolate evaluates. Line `n + 1` of it is line `n` of the source. */
  readonly code: string
  /** What the static checks reported (not blocking, or the policy did not block). */
  readonly findings: ReadonlyArray<Finding>
  /**
   * Characters the compiler inserted so that SES accepts the script (an escape in a string that contains
   * `<!--`, say): on user line `line`, `length` characters before 0-based `column`. Usually empty. Positions
   * the isolate reports go through {@link originalPosition}.
   */
  readonly columnShifts: ReadonlyArray<readonly [line: number, column: number, length: number]>
}

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Default `"js"`. */
  readonly language?: Language
  /** Default `"block"`: a `high` severity finding refuses the script. */
  readonly staticChecks?: StaticCheckPolicy
}

/** The name the factory stores the default export in; user code may not declare it. */
export const DEFAULT_BINDING = "__jsonflow__"
/** The `sourceURL` of every script: stack frames of user code carry it. */
export const SOURCE_URL = "jsonflow:script"

const HEADER = `(function () { "use strict"; let ${DEFAULT_BINDING};`
const FOOTER = (extra: string) => `\n;${extra}return ${DEFAULT_BINDING};\n})\n//# sourceURL=${SOURCE_URL}`

const fail = (
  reason: ScriptCompileError["reason"],
  detail: string,
  line: number,
  column: number,
  findings: ReadonlyArray<Finding> = []
) => Result.fail(new ScriptCompileError({ nodeId: "", executionId: "", reason, detail, line, column, findings }))

/** Replaces `[start, end)` of `chars` with `text` padded by spaces, keeping the newlines that were there. */
const overwrite = (chars: Array<string>, start: number, end: number, text = "") => {
  for (let i = start; i < end; i++) {
    const c = chars[i]
    if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") continue
    const offset = i - start
    chars[i] = offset < text.length ? text[offset]! : " "
  }
}

const positionOf = (node: acorn.Node) => ({
  line: node.loc?.start.line ?? 1,
  column: (node.loc?.start.column ?? 0) + 1
})

/** Rejects module syntax the sandbox cannot give meaning to: imports, `import.meta`, top-level await. */
const moduleProblem = (program: acorn.Program): { readonly node: acorn.Node; readonly detail: string } | undefined => {
  let problem: { readonly node: acorn.Node; readonly detail: string } | undefined
  const visit = (node: acorn.AnyNode, depth: number) => {
    if (problem !== undefined) return
    switch (node.type) {
      case "MetaProperty":
        if (node.meta.name === "import") problem = { node, detail: "import.meta is not available in a script" }
        return
      case "AwaitExpression":
        if (depth === 0)
          problem = { node, detail: "top-level await is not supported: export an async function instead" }
        break
      case "ForOfStatement":
        if (node.await && depth === 0) problem = { node, detail: "top-level for await is not supported" }
        break
      case "Identifier":
        if (node.name === DEFAULT_BINDING) problem = { node, detail: `${DEFAULT_BINDING} is a reserved name` }
        return
      default:
        break
    }
    const inner =
      node.type === "FunctionDeclaration" ||
      node.type === "FunctionExpression" ||
      node.type === "ArrowFunctionExpression" ||
      node.type === "StaticBlock" ||
      node.type === "PropertyDefinition"
        ? depth + 1
        : depth
    for (const [key, value] of Object.entries(node)) {
      if (key === "loc") continue
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item, inner)
      } else if (isNode(value)) visit(value, inner)
    }
  }
  for (const statement of program.body) visit(statement as acorn.AnyNode, 0)
  return problem
}

const isNode = (value: unknown): value is acorn.AnyNode =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

/**
 * Rewrites module syntax into plain statements without moving anything: `export` keywords become blanks,
 * `export default X` assigns X to {@link DEFAULT_BINDING}. Returns the code and what to append at the end.
 */
const rewriteExports = (
  source: string,
  program: acorn.Program
): Result.Result<{ readonly body: string; readonly tail: string }, ScriptCompileError> => {
  // UTF-16 code units, like acorn's offsets.
  const chars = source.split("")
  let tail = ""
  let hasDefault = false
  for (const statement of program.body) {
    switch (statement.type) {
      case "ImportDeclaration": {
        const { line, column } = positionOf(statement)
        return fail("module", "imports are not available: a script gets its data from (input, ctx)", line, column)
      }
      case "ExportAllDeclaration": {
        const { line, column } = positionOf(statement)
        return fail("module", "re-exports are not available in a script", line, column)
      }
      case "ExportNamedDeclaration": {
        if (statement.source) {
          const { line, column } = positionOf(statement)
          return fail("module", "re-exports are not available in a script", line, column)
        }
        if (statement.declaration) {
          overwrite(chars, statement.start, statement.declaration.start)
        } else {
          for (const specifier of statement.specifiers) {
            const exported =
              specifier.exported.type === "Identifier" ? specifier.exported.name : specifier.exported.value
            if (exported === "default" && specifier.local.type === "Identifier") {
              tail += `${DEFAULT_BINDING} = ${specifier.local.name};`
              hasDefault = true
            }
          }
          overwrite(chars, statement.start, statement.end)
        }
        break
      }
      case "ExportDefaultDeclaration": {
        const declaration = statement.declaration
        hasDefault = true
        if ((declaration.type === "FunctionDeclaration" || declaration.type === "ClassDeclaration") && declaration.id) {
          // A named declaration stays a declaration (its name is in scope for the rest of the module).
          overwrite(chars, statement.start, declaration.start)
          tail += `${DEFAULT_BINDING} = ${declaration.id.name};`
        } else {
          // `export default` is at least 14 characters: room for the 13 of `__jsonflow__=`.
          overwrite(chars, statement.start, declaration.start, `${DEFAULT_BINDING}=`)
        }
        break
      }
      default:
        break
    }
  }
  if (!hasDefault) {
    return fail("module", "a script must export its transform: export default (input, ctx) => output", 1, 1)
  }
  return Result.succeed({ body: chars.join(""), tail })
}

const syntaxError = (error: unknown) => {
  const located = error as { readonly loc?: { readonly line: number; readonly column: number }; message?: string }
  const message = String(located.message ?? error).replace(/\s*\(\d+:\d+\)$/, "")
  const line = located.loc?.line ?? 1
  const column = (located.loc?.column ?? 0) + 1
  if (/'with' in strict mode/.test(message)) {
    const finding: Finding = {
      rule: "with",
      severity: "high",
      message: "with statements are not allowed (scripts run in strict mode)",
      line,
      column
    }
    return fail("forbidden", finding.message, line, column, [finding])
  }
  return fail("syntax", message, line, column)
}

const compileUncached = (
  source: string,
  language: Language,
  policy: StaticCheckPolicy
): Result.Result<CompiledScript, ScriptCompileError> => {
  let js = source
  if (language === "ts") {
    const stripped = stripTypes(source)
    if (stripped._tag === "Failed") return fail(stripped.reason, stripped.detail, stripped.line, stripped.column)
    js = stripped.code
  }
  let program: acorn.Program
  try {
    program = acorn.parse(js, { ecmaVersion: "latest", sourceType: "module", locations: true })
  } catch (error) {
    return syntaxError(error)
  }
  const problem = moduleProblem(program)
  if (problem !== undefined) {
    const { line, column } = positionOf(problem.node)
    return fail("module", problem.detail, line, column)
  }
  const findings = policy === "off" ? [] : staticCheck(program)
  const blocking = policy === "block" ? findings.find((f) => f.severity === "high") : undefined
  if (blocking !== undefined) return fail("forbidden", blocking.message, blocking.line, blocking.column, findings)
  const rewritten = rewriteExports(js, program)
  if (Result.isFailure(rewritten)) return Result.fail(rewritten.failure)
  let body = rewritten.success.body
  let columnShifts: ReadonlyArray<SesCompat.Shift> = []
  // SES refuses some text even in strings and comments: rewrite it here, or refuse it here with its place,
  // rather than at the first call.
  if (SesCompat.refused(body)) {
    const made = SesCompat.rewrite(js, body)
    if (made._tag === "Refused") {
      const { line, column } = acorn.getLineInfo(js, made.offset)
      return fail("forbidden", made.detail, line, column + 1)
    }
    body = made.code
    columnShifts = made.shifts
  }
  const code = `${HEADER}\n${body}${FOOTER(rewritten.success.tail)}`
  const id = createHash("sha256").update(code).digest("hex").slice(0, 32)
  return Result.succeed({ id, language, code, findings, columnShifts })
}

/**
 * Maps a 1-based position the isolate reported (user line, column in the compiled code) to the user's
 * source: the same unless the compiler inserted characters earlier on that line (see
 * {@link CompiledScript.columnShifts}).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Script } from "@jsonflow/sandbox"
 * const compiled = Script.compile("export default () => '<!--' + x")
 * if (Result.isSuccess(compiled)) Script.originalPosition(compiled.success, 1, 32) // { line: 1, column: 31 }
 * ```
 */
export const originalPosition = (
  script: CompiledScript,
  line: number,
  column: number
): { readonly line: number; readonly column: number } => ({
  line,
  column: script.columnShifts.length === 0 ? column : SesCompat.mapColumn(script.columnShifts, line, column)
})

const CACHE_SIZE = 2048
const caches = new Map<string, Map<string, Result.Result<CompiledScript, ScriptCompileError>>>()

/**
 * Compiles a script (cached by language, policy and source text: the second compile of the same source is
 * a map lookup). Fails with a {@link ScriptCompileError} carrying the 1-based position in the source.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Script } from "@jsonflow/sandbox"
 * const compiled = Script.compile("export default (order: { total: number }) => order.total * 2", { language: "ts" })
 * if (Result.isSuccess(compiled)) console.log(compiled.success.id)
 * ```
 */
export const compile = (
  source: string,
  options: CompileOptions = {}
): Result.Result<CompiledScript, ScriptCompileError> => {
  const language = options.language ?? "js"
  const policy = options.staticChecks ?? "block"
  const key = `${language}:${policy}`
  let cache = caches.get(key)
  if (cache === undefined) {
    cache = new Map()
    caches.set(key, cache)
  }
  const hit = cache.get(source)
  if (hit !== undefined) return hit
  const result = compileUncached(source, language, policy)
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!)
  cache.set(source, result)
  return result
}

/**
 * The language a file name implies: `.ts`, `.mts`, `.cts` are TypeScript, anything else JavaScript.
 *
 * @example
 * ```ts
 * import { Script } from "@jsonflow/sandbox"
 * Script.languageOf("price.ts") // "ts"
 * ```
 */
export const languageOf = (fileName: string): Language => (/\.[mc]?ts$/i.test(fileName) ? "ts" : "js")
