/**
 * Static checks on a script's syntax tree (acorn): constructs a transform has no business using, and loops
 * that obviously never end, each with a 1-based line/column and a severity. This is defense in depth and a
 * service to the author: the isolate, frozen intrinsics and the supervisor are what contain a script; a
 * determined author can always write code these checks do not recognize.
 *
 * @module staticCheck
 */
import type * as acorn from "acorn"
import type { Finding } from "./errors.ts"

/** What the checks do with findings: refuse scripts with a `high` one, only report, or not run at all. */
export type StaticCheckPolicy = "block" | "report" | "off"

type AnyNode = acorn.AnyNode

const NO_LABELS: ReadonlySet<string> = new Set()

const UNAVAILABLE = new Set([
  "require",
  "process",
  "module",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "queueMicrotask",
  "fetch",
  "WebAssembly",
  "SharedArrayBuffer",
  "Atomics"
])

const isNode = (value: unknown): value is AnyNode =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

const position = (node: acorn.Node) => ({ line: node.loc?.start.line ?? 1, column: (node.loc?.start.column ?? 0) + 1 })

const isLoop = (node: AnyNode) =>
  node.type === "WhileStatement" ||
  node.type === "DoWhileStatement" ||
  node.type === "ForStatement" ||
  node.type === "ForInStatement" ||
  node.type === "ForOfStatement"

const isFunction = (node: AnyNode) =>
  node.type === "FunctionDeclaration" ||
  node.type === "FunctionExpression" ||
  node.type === "ArrowFunctionExpression" ||
  node.type === "MethodDefinition" ||
  node.type === "PropertyDefinition" ||
  node.type === "StaticBlock"

/** A test that is a literal truthy value (`true`, `1`, `"x"`), or no test at all (`for (;;)`). */
const alwaysTrue = (test: acorn.Expression | null | undefined): boolean =>
  test === null || test === undefined || (test.type === "Literal" && Boolean(test.value) && test.regex === undefined)

const children = (node: AnyNode): Array<AnyNode> => {
  const out: Array<AnyNode> = []
  for (const [key, value] of Object.entries(node)) {
    if (key === "loc" || key === "type") continue
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) out.push(item)
    } else if (isNode(value)) out.push(value)
  }
  return out
}

/**
 * Whether control can leave `loop` from inside its body: a `return` or `throw` (outside nested functions),
 * a `break` aimed at this loop (unlabeled and not inside a nested loop or switch, or labeled with one of
 * `labels`), or a labeled `break`/`continue` aimed at an enclosing statement.
 */
const canExit = (body: AnyNode, labels: ReadonlySet<string>): boolean => {
  const visit = (node: AnyNode, nested: boolean): boolean => {
    switch (node.type) {
      case "ReturnStatement":
      case "ThrowStatement":
        return true
      case "BreakStatement":
        if (node.label) return true
        return !nested
      case "ContinueStatement":
        return node.label !== null && node.label !== undefined && !labels.has(node.label.name)
      default:
        break
    }
    if (isFunction(node)) return false
    const inner = nested || isLoop(node) || node.type === "SwitchStatement"
    return children(node).some((child) => visit(child, inner))
  }
  return visit(body, false)
}

/** Whether an identifier at this place in its parent is a reference to a variable (not a property name). */
const isReference = (parent: AnyNode | undefined, key: string): boolean => {
  if (parent === undefined) return true
  switch (parent.type) {
    case "MemberExpression":
      return key !== "property" || parent.computed
    case "Property":
    case "MethodDefinition":
    case "PropertyDefinition":
      return key !== "key" || parent.computed
    case "LabeledStatement":
    case "BreakStatement":
    case "ContinueStatement":
      return false
    case "ExportSpecifier":
    case "ImportSpecifier":
    case "ImportDefaultSpecifier":
    case "ImportNamespaceSpecifier":
      return false
    default:
      return true
  }
}

const propertyName = (node: acorn.MemberExpression): string | undefined => {
  if (!node.computed && node.property.type === "Identifier") return node.property.name
  if (node.computed && node.property.type === "Literal" && typeof node.property.value === "string") {
    return node.property.value
  }
  return undefined
}

/**
 * Runs the checks on a parsed program (acorn, with `locations: true`).
 *
 * @example
 * ```ts
 * import * as acorn from "acorn"
 * import { staticCheck } from "@jsonflow/sandbox"
 * const program = acorn.parse("export default () => { for (;;) {} }", { ecmaVersion: "latest", sourceType: "module", locations: true })
 * staticCheck(program) // [{ rule: "infinite-loop", severity: "high", line: 1, column: 24, ... }]
 * ```
 */
export const staticCheck = (program: acorn.Program): Array<Finding> => {
  const findings: Array<Finding> = []
  const report = (node: acorn.Node, rule: string, severity: Finding["severity"], message: string) =>
    findings.push({ rule, severity, message, ...position(node) })

  const visit = (node: AnyNode, parent: AnyNode | undefined, key: string, labels: ReadonlySet<string>) => {
    switch (node.type) {
      case "Identifier":
        if (isReference(parent, key)) {
          if (node.name === "eval") report(node, "eval", "high", "eval runs code built from a string")
          else if (node.name === "Function")
            report(node, "function-constructor", "high", "the Function constructor runs code built from a string")
          else if (UNAVAILABLE.has(node.name))
            report(node, "unavailable", "low", `${node.name} does not exist in the sandbox`)
        }
        break
      case "ImportExpression":
        report(node, "dynamic-import", "high", "import() is not available in the sandbox")
        break
      case "MemberExpression": {
        const name = propertyName(node)
        if (name === "constructor")
          report(node, "constructor-access", "medium", "reaching a constructor can lead to the Function constructor")
        else if (name === "__proto__")
          report(node, "proto-access", "medium", "__proto__ changes prototypes; use plain objects")
        break
      }
      case "DebuggerStatement":
        report(node, "debugger", "low", "debugger statements have no effect in the sandbox")
        break
      case "WhileStatement":
      case "DoWhileStatement":
      case "ForStatement":
        if (alwaysTrue(node.test) && !canExit(node.body, labels))
          report(
            node,
            "infinite-loop",
            "high",
            "this loop never ends: its condition is always true and nothing leaves it"
          )
        break
      default:
        break
    }
    // Labels name the statement they label: a loop sees the labels written directly in front of it.
    const next = node.type === "LabeledStatement" ? new Set([...labels, node.label.name]) : NO_LABELS
    for (const [childKey, value] of Object.entries(node)) {
      if (childKey === "loc" || childKey === "type") continue
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item, node, childKey, next)
      } else if (isNode(value)) visit(value, node, childKey, next)
    }
  }
  for (const statement of program.body) visit(statement as AnyNode, undefined, "body", NO_LABELS)
  return findings
}
