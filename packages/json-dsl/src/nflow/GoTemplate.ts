/**
 * The subset of Go's `html/template` that nFlow `template` boxes use, rendered in TypeScript: `{{.}}`,
 * field chains `{{.user.name}}`, `{{range}}`, `{{if}}`/`{{else if}}`/`{{else}}`, `{{with}}`, comments,
 * `{{-`/`-}}` trimming, and the functions `len`, `index`, `not`, `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`,
 * `ge`, `html`, `print`. Output is HTML-escaped as Go escapes text (`&'<>"+`), and values print the way
 * Go's `fmt` prints JSON-decoded data (numbers are float64: `1e+06`). Anything else is a parse error that
 * the importer reports with the node's path, instead of a template that silently renders wrong.
 *
 * @module nflow/GoTemplate
 */

type Expr =
  | { readonly _tag: "Field"; readonly path: ReadonlyArray<string> }
  | { readonly _tag: "Literal"; readonly value: unknown }
  | { readonly _tag: "Call"; readonly name: string; readonly args: ReadonlyArray<Expr> }

type Part =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Print"; readonly expr: Expr }
  | {
      readonly _tag: "Block"
      readonly kind: "if" | "range" | "with"
      readonly expr: Expr
      readonly body: ReadonlyArray<Part>
      readonly otherwise: ReadonlyArray<Part>
    }

/** A parsed template. */
export interface Template {
  readonly parts: ReadonlyArray<Part>
}

/** A template the subset cannot render; `offset` is where in the template text. */
export class TemplateError extends Error {
  readonly offset: number
  constructor(message: string, offset: number) {
    super(message)
    this.offset = offset
  }
}

const FUNCTIONS = new Set(["len", "index", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge", "html", "print"])

interface Action {
  readonly text: string
  readonly offset: number
}

const tokenize = (text: string, offset: number): ReadonlyArray<string> => {
  const tokens: Array<string> = []
  const pattern = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|[^\s()]+)/gy
  pattern.lastIndex = 0
  while (pattern.lastIndex < text.length) {
    const match = pattern.exec(text)
    if (match === null) break
    tokens.push(match[1]!)
  }
  if (text.trim() !== "" && tokens.length === 0) throw new TemplateError(`cannot read "${text}"`, offset)
  return tokens
}

const parseExpr = (tokens: ReadonlyArray<string>, offset: number): Expr => {
  let position = 0
  const operand = (): Expr => {
    const token = tokens[position++]
    if (token === undefined) throw new TemplateError("missing value", offset)
    if (token === "(") {
      const inner = call()
      if (tokens[position++] !== ")") throw new TemplateError('missing ")"', offset)
      return inner
    }
    if (token === ".") return { _tag: "Field", path: [] }
    if (token.startsWith(".")) return { _tag: "Field", path: token.slice(1).split(".") }
    if (token.startsWith('"')) return { _tag: "Literal", value: JSON.parse(token) as string }
    if (token.startsWith("`")) return { _tag: "Literal", value: token.slice(1, -1) }
    if (token === "true" || token === "false") return { _tag: "Literal", value: token === "true" }
    if (token === "nil") return { _tag: "Literal", value: null }
    if (/^-?\d+(\.\d+)?$/.test(token)) return { _tag: "Literal", value: Number(token) }
    if (FUNCTIONS.has(token)) throw new TemplateError(`function "${token}" needs arguments`, offset)
    throw new TemplateError(`unsupported template syntax "${token}"`, offset)
  }
  const call = (): Expr => {
    const head = tokens[position]
    if (head !== undefined && FUNCTIONS.has(head)) {
      position++
      const args: Array<Expr> = []
      while (position < tokens.length && tokens[position] !== ")") args.push(operand())
      return { _tag: "Call", name: head, args }
    }
    return operand()
  }
  const expr = call()
  if (position < tokens.length) {
    const rest = tokens[position]
    throw new TemplateError(rest === "|" ? "pipelines (|) are not supported" : `unexpected "${rest}"`, offset)
  }
  return expr
}

const splitActions = (source: string): ReadonlyArray<Action | string> => {
  const pieces: Array<Action | string> = []
  let at = 0
  while (at < source.length) {
    const open = source.indexOf("{{", at)
    if (open === -1) {
      pieces.push(source.slice(at))
      break
    }
    let text = source.slice(at, open)
    const close = source.indexOf("}}", open + 2)
    if (close === -1) throw new TemplateError('unclosed action: missing "}}"', open)
    let inner = source.slice(open + 2, close)
    if (inner.startsWith("- ") || inner === "-") {
      text = text.trimEnd()
      inner = inner.slice(1)
    }
    let trimAfter = false
    if (inner.endsWith(" -")) {
      inner = inner.slice(0, -1)
      trimAfter = true
    }
    pieces.push(text)
    pieces.push({ text: inner.trim(), offset: open })
    at = close + 2
    if (trimAfter) while (at < source.length && /\s/.test(source.charAt(at))) at++
  }
  return pieces
}

/**
 * Parses a template; throws {@link TemplateError} for syntax outside the subset.
 *
 * @example
 * ```ts
 * render(parse("<b>{{.name}}</b>"), { name: "A&B" }) // "<b>A&amp;B</b>"
 * ```
 */
export const parse = (source: string): Template => {
  const pieces = splitActions(source)
  let index = 0
  const block = (closers: ReadonlyArray<string>): { parts: Array<Part>; closer: Action | undefined } => {
    const parts: Array<Part> = []
    while (index < pieces.length) {
      const piece = pieces[index++]!
      if (typeof piece === "string") {
        if (piece !== "") parts.push({ _tag: "Text", text: piece })
        continue
      }
      const text = piece.text
      if (text.startsWith("/*")) {
        if (!text.endsWith("*/")) throw new TemplateError("unclosed comment", piece.offset)
        continue
      }
      const [keyword = ""] = text.split(/\s+/, 1)
      if (closers.includes(keyword)) return { parts, closer: piece }
      if (keyword === "if" || keyword === "range" || keyword === "with") {
        parts.push(blockPart(keyword, text.slice(keyword.length), piece.offset))
        continue
      }
      if (["end", "else", "define", "template", "block", "break", "continue"].includes(keyword)) {
        throw new TemplateError(`unexpected {{${keyword}}}`, piece.offset)
      }
      if (text.includes(":=") || text.startsWith("$"))
        throw new TemplateError("variables are not supported", piece.offset)
      parts.push({ _tag: "Print", expr: parseExpr(tokenize(text, piece.offset), piece.offset) })
    }
    return { parts, closer: undefined }
  }
  const blockPart = (kind: "if" | "range" | "with", rest: string, offset: number): Part => {
    const expr = parseExpr(tokenize(rest, offset), offset)
    const body = block(["end", "else"])
    if (body.closer === undefined) throw new TemplateError(`{{${kind}}} without {{end}}`, offset)
    let otherwise: ReadonlyArray<Part> = []
    if (body.closer.text.startsWith("else")) {
      const elseRest = body.closer.text.slice(4).trim()
      if (elseRest.startsWith("if ") && kind === "if") {
        // {{else if x}} ... {{end}}: a nested if that shares the {{end}}.
        otherwise = [blockPart("if", elseRest.slice(3), body.closer.offset)]
      } else {
        if (elseRest !== "") throw new TemplateError(`unsupported {{else ${elseRest}}}`, body.closer.offset)
        const tail = block(["end"])
        if (tail.closer === undefined) throw new TemplateError(`{{${kind}}} without {{end}}`, offset)
        otherwise = tail.parts
      }
    }
    return { _tag: "Block", kind, expr, body: body.parts, otherwise }
  }
  const top = block([])
  return { parts: top.parts }
}

const truthy = (value: unknown): boolean => {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === "object") return Object.keys(value).length > 0
  return true
}

/** Go's `%v` of a float64 (what JSON numbers decode to): shortest digits, exponent from 1e21 or below 1e-4. */
export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN"
  if (value === 0) return "0"
  const [mantissa = "0", exponentText = "0"] = value.toExponential().split("e")
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 21) {
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`
  }
  return String(value)
}

/** Go's `%v` of JSON-decoded data. */
export const formatValue = (value: unknown): string => {
  if (value === null || value === undefined) return ""
  if (typeof value === "string") return value
  if (typeof value === "number") return formatNumber(value)
  if (typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `[${value.map((v) => (v === null ? "<nil>" : formatValue(v))).join(" ")}]`
  if (typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => {
        const v = (value as Record<string, unknown>)[k]
        return `${k}:${v === null ? "<nil>" : formatValue(v)}`
      })
    return `map[${entries.join(" ")}]`
  }
  return String(value)
}

/** Go's HTML escaping of text (`html/template` in a text context). */
export const escapeHtml = (text: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Go replaces NUL in HTML text
  text.replace(/[&'<>"+\u0000]/g, (c) =>
    c === "&"
      ? "&amp;"
      : c === "'"
        ? "&#39;"
        : c === "<"
          ? "&lt;"
          : c === ">"
            ? "&gt;"
            : c === '"'
              ? "&#34;"
              : c === "+"
                ? "&#43;"
                : "\uFFFD"
  )

const compare = (a: unknown, b: unknown): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0
}

const evaluate = (expr: Expr, dot: unknown): unknown => {
  if (expr._tag === "Literal") return expr.value
  if (expr._tag === "Field") {
    let current = dot
    for (const key of expr.path) {
      if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined
      current = (current as Record<string, unknown>)[key]
    }
    return current
  }
  const args = expr.args.map((a) => evaluate(a, dot))
  switch (expr.name) {
    case "len": {
      const v = args[0]
      return typeof v === "string" || Array.isArray(v)
        ? v.length
        : typeof v === "object" && v !== null
          ? Object.keys(v).length
          : 0
    }
    case "index": {
      let current = args[0]
      for (const key of args.slice(1)) {
        if (typeof current !== "object" || current === null) return undefined
        current = (current as Record<string, unknown>)[String(key)]
      }
      return current
    }
    case "not":
      return !truthy(args[0])
    case "and":
      return args.find((a) => !truthy(a)) ?? args[args.length - 1]
    case "or":
      return args.find((a) => truthy(a)) ?? args[args.length - 1]
    case "eq":
      return args
        .slice(1)
        .some(
          (a) =>
            a === args[0] || (typeof a !== "object" && String(a) === String(args[0]) && typeof a === typeof args[0])
        )
    case "ne":
      return args[0] !== args[1]
    case "lt":
      return compare(args[0], args[1]) < 0
    case "le":
      return compare(args[0], args[1]) <= 0
    case "gt":
      return compare(args[0], args[1]) > 0
    case "ge":
      return compare(args[0], args[1]) >= 0
    case "html":
      return escapeHtml(args.map(formatValue).join(""))
    default:
      return args.map(formatValue).join("")
  }
}

const renderParts = (parts: ReadonlyArray<Part>, dot: unknown, out: Array<string>) => {
  for (const part of parts) {
    if (part._tag === "Text") out.push(part.text)
    else if (part._tag === "Print") {
      const value = evaluate(part.expr, dot)
      // `html` already escaped its result; Go does not escape twice.
      out.push(part.expr._tag === "Call" && part.expr.name === "html" ? String(value) : escapeHtml(formatValue(value)))
    } else {
      const value = evaluate(part.expr, dot)
      if (part.kind === "range") {
        const items = Array.isArray(value)
          ? value
          : typeof value === "object" && value !== null
            ? Object.keys(value)
                .sort()
                .map((k) => (value as Record<string, unknown>)[k])
            : []
        if (items.length === 0) renderParts(part.otherwise, dot, out)
        else for (const item of items) renderParts(part.body, item, out)
      } else if (truthy(value)) renderParts(part.body, part.kind === "with" ? value : dot, out)
      else renderParts(part.otherwise, dot, out)
    }
  }
}

/** Renders a parsed template with `data` as `.`. */
export const render = (template: Template, data: unknown): string => {
  const out: Array<string> = []
  renderParts(template.parts, data, out)
  return out.join("")
}
