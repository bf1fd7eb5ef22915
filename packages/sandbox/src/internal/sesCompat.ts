/**
 * SES refuses, without parsing, any source text in which `<!--`, `-->`, `import(` or a direct-looking
 * `eval(` appears, even inside a string, a template, a regular expression or a comment (its
 * `rejectHtmlComments`, `rejectImportExpressions` and `rejectSomeDirectEvalExpressions` transforms). Real
 * transforms hit that: HTML output (`"<!-- generated -->"`), a comment that says "we do not import()
 * anything". This module rewrites such text, on the host at compile time, so that SES accepts it with the
 * same meaning:
 *
 * - comments that contain it are blanked (same length, newlines kept);
 * - in strings and untagged templates, one character of each occurrence is written as an identity escape
 *   (`<\!--`, `-\->`, `im\port(`, `ev\al(`): the same string value, one more source character;
 * - in regular expressions (outside a character class), an empty group `(?:)` is inserted (`<!(?:)--`,
 *   `-(?:)->`): the same matches; only `.source` shows it.
 *
 * What cannot be rewritten without changing meaning — the text in code itself (`n-->0`, a direct `eval(`
 * call, a method named `import`), in a tagged template (its tag sees the raw text), or inside a regexp
 * character class — is refused with the user's line and column, at compile time rather than at the first
 * call. Insertions shift the columns that follow them on their line; {@link mapColumn} maps positions the
 * isolate reports back to the user's source.
 *
 * The patterns are SES 2.3's own (`ses/src/transforms.js`); a test runs the result through them.
 *
 * @module sesCompat
 */
import * as acorn from "acorn"

// SES's patterns, as in ses/src/transforms.js.
const HTML = /(?:<!--|-->)/g
const IMPORT = /(^|[^.]|\.\.\.)\bimport(\s*(?:\(|\/[/*]))/g
const EVAL = /(^|[^.])\beval(\s*\()/g

type Kind = "html" | "import" | "eval"

interface Match {
  readonly kind: Kind
  /** Offset of `<`/`-` of the HTML-like comment, or of the `i` of import / `e` of eval. */
  readonly at: number
  readonly text: string
}

const PATTERNS = [
  ["html", HTML],
  ["import", IMPORT],
  ["eval", EVAL]
] as const

const matchAt = (kind: Kind, pattern: RegExp, text: string, from: number): Match | null => {
  pattern.lastIndex = from
  const found = pattern.exec(text)
  if (found === null) return null
  return {
    kind,
    at: found.index + (kind === "html" ? 0 : found[1]!.length),
    text: kind === "html" ? found[0] : kind
  }
}

/** The first place where SES would refuse `text`, from `from` on. */
const firstMatch = (text: string, from = 0): Match | undefined => {
  let best: Match | undefined
  for (const [kind, pattern] of PATTERNS) {
    const found = matchAt(kind, pattern, text, from)
    if (found !== null && (best === undefined || found.at < best.at)) best = found
  }
  return best
}

/**
 * The places where SES would refuse `text`, left to right, for a caller that moves on as it fixes them:
 * each pattern's next occurrence is remembered, so a text with many occurrences is scanned once per pattern.
 */
const scanner = (text: string) => {
  const next: Array<Match | null | undefined> = PATTERNS.map(() => undefined)
  return (from: number): Match | undefined => {
    let best: Match | undefined
    PATTERNS.forEach(([kind, pattern], i) => {
      let found = next[i]
      // Searched again only when the remembered occurrence is behind `from` (a prefix char may then shift).
      if (found === undefined || (found !== null && found.at < from))
        found = next[i] = matchAt(kind, pattern, text, from)
      if (found !== null && (best === undefined || found.at < best.at)) best = found
    })
    return best
  }
}

/** Whether SES would refuse `text` (a cheap test; the common case is false). */
export const refused = (text: string): boolean => firstMatch(text) !== undefined

/** Chars inserted before the original offset `offset`. */
interface Insertion {
  readonly offset: number
  readonly text: string
}

/** A column shift: on `line` (1-based), `length` characters were inserted before 0-based `column`. */
export type Shift = readonly [line: number, column: number, length: number]

export type Outcome =
  | { readonly _tag: "Rewritten"; readonly code: string; readonly shifts: ReadonlyArray<Shift> }
  | { readonly _tag: "Refused"; readonly detail: string; readonly offset: number }

const codeDetail = (match: Match): string => {
  switch (match.kind) {
    case "html":
      return `the sandbox (SES) refuses "${match.text}" outside strings and comments, even as operators: write "n-- > 0" with a space`
    case "import":
      return "the sandbox (SES) refuses import( and anything named import that is called, even a method: rename it"
    case "eval":
      return "the sandbox (SES) refuses a direct eval( call, and calls of anything ending in eval such as $eval( or a method eval(: rename it, or use (0, eval)(...)"
  }
}

/** Where to put a backslash in a string or template so the occurrence disappears but the value stays. */
const escapeAt = (match: Match): number => {
  if (match.kind === "html") return match.at + 1 // <\!--  -\->
  return match.at + 2 // im\port  ev\al
}

/** Where to put `(?:)` in a regexp pattern so the occurrence disappears but the matches stay. */
const groupAt = (match: Match): number => {
  if (match.kind === "html") return match.text.startsWith("<") ? match.at + 2 : match.at + 1 // <!(?:)--  -(?:)->
  return match.at + 2 // im(?:)port  ev(?:)al
}

/** For each offset of a regexp pattern, whether it is inside a character class (`v` flag: classes nest). */
const classMap = (pattern: string, nested: boolean): Array<boolean> => {
  const inside: Array<boolean> = []
  let depth = 0
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    inside[i] = depth > 0
    if (c === "\\") {
      inside[++i] = depth > 0
    } else if (c === "[" && (depth === 0 || nested)) {
      depth++
    } else if (c === "]" && depth > 0) {
      depth--
      inside[i] = true
    }
  }
  return inside
}

/**
 * Fixes one literal's raw text (at offset `start` of the source) by insertions, in one left-to-right pass;
 * returns them, or the offset of an occurrence it cannot fix. One pass is enough: an insertion breaks the
 * occurrence it is placed in, none of the patterns contains a backslash or a parenthesis group that the
 * inserted text could complete, and the next occurrence cannot begin at the insertion point.
 */
const fixLiteral = (
  raw: string,
  start: number,
  place: (match: Match) => number | undefined,
  insert: string
): { readonly insertions: Array<Insertion> } | { readonly refusedAt: number } => {
  const insertions: Array<Insertion> = []
  const nextMatch = scanner(raw)
  let from = 0
  for (let match = nextMatch(0); match !== undefined; match = nextMatch(from)) {
    const at = place(match)
    if (at === undefined) return { refusedAt: start + match.at }
    insertions.push({ offset: start + at, text: insert })
    from = at
  }
  return { insertions }
}

const isNode = (value: unknown): value is acorn.AnyNode =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

/** `[start, end)` of the text parts of every tagged template (their tag sees the raw text). */
const taggedQuasis = (program: acorn.Program): Array<readonly [number, number]> => {
  const ranges: Array<readonly [number, number]> = []
  const visit = (node: acorn.AnyNode) => {
    if (node.type === "TaggedTemplateExpression") {
      for (const quasi of node.quasi.quasis) ranges.push([quasi.start, quasi.end])
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "loc") continue
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item)
      } else if (isNode(value)) visit(value)
    }
  }
  visit(program as acorn.AnyNode)
  return ranges
}

/**
 * Rewrites `body` (the script with its exports rewritten, every offset the same as in `js`, the parsed
 * JavaScript) so that SES accepts it. Call it only when {@link refused} says so.
 */
export const rewrite = (js: string, body: string): Outcome => {
  const tokens: Array<acorn.Token> = []
  const comments: Array<acorn.Comment> = []
  const program = acorn.parse(js, {
    ecmaVersion: "latest",
    sourceType: "module",
    onToken: tokens,
    onComment: comments
  })
  const chars = body.split("")
  const insertions: Array<Insertion> = []

  for (const comment of comments) {
    if (!refused(js.slice(comment.start, comment.end))) continue
    for (let i = comment.start; i < comment.end; i++) {
      const c = chars[i]
      if (c !== "\n" && c !== "\r" && c !== "\u2028" && c !== "\u2029") chars[i] = " "
    }
  }

  let tagged: Array<readonly [number, number]> | undefined
  for (const token of tokens) {
    const label = token.type.label
    if (label !== "string" && label !== "template" && label !== "invalidTemplate" && label !== "regexp") continue
    const raw = js.slice(token.start, token.end)
    if (!refused(raw)) continue
    let fixed: ReturnType<typeof fixLiteral>
    if (label === "regexp") {
      const { pattern, flags } = (token as unknown as { value: { pattern: string; flags: string } }).value
      // The pattern starts after the opening slash.
      const inside = classMap(pattern, flags.includes("v"))
      fixed = fixLiteral(
        raw.slice(1, 1 + pattern.length),
        token.start + 1,
        (match) => (inside[match.at] || inside[groupAt(match)] ? undefined : groupAt(match)),
        "(?:)"
      )
      if ("refusedAt" in fixed) {
        return {
          _tag: "Refused",
          detail:
            "the sandbox (SES) refuses this text inside a regular expression's character class: move it out of the [...]",
          offset: fixed.refusedAt
        }
      }
    } else {
      if (label !== "string") {
        tagged ??= taggedQuasis(program)
        if (tagged.some(([start, end]) => token.start >= start && token.end <= end)) {
          return {
            _tag: "Refused",
            detail:
              "the sandbox (SES) refuses this text in a tagged template (its tag would see any escape): use a string or an untagged template",
            offset: token.start + (firstMatch(raw)?.at ?? 0)
          }
        }
      }
      fixed = fixLiteral(raw, token.start, escapeAt, "\\")
      if ("refusedAt" in fixed)
        return { _tag: "Refused", detail: "cannot rewrite this literal", offset: fixed.refusedAt }
    }
    insertions.push(...fixed.insertions)
  }

  insertions.sort((a, b) => a.offset - b.offset)
  let code = ""
  let cursor = 0
  for (const insertion of insertions) {
    code += chars.slice(cursor, insertion.offset).join("") + insertion.text
    cursor = insertion.offset
  }
  code += chars.slice(cursor).join("")

  // What is left is in code itself (or something this module did not foresee): refuse it with its place.
  const left = firstMatch(code)
  if (left !== undefined) {
    let shift = 0
    for (const insertion of insertions) {
      if (insertion.offset + shift + insertion.text.length <= left.at) shift += insertion.text.length
      else break
    }
    return { _tag: "Refused", detail: codeDetail(left), offset: left.at - shift }
  }

  // Lines and columns of the insertions, in one pass (they are sorted), with acorn's line terminators.
  const shifts: Array<Shift> = []
  let line = 1
  let lineStart = 0
  let scanned = 0
  for (const insertion of insertions) {
    for (; scanned < insertion.offset; scanned++) {
      const c = js.charCodeAt(scanned)
      if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && js.charCodeAt(scanned + 1) !== 10)) {
        line++
        lineStart = scanned + 1
      }
    }
    shifts.push([line, insertion.offset - lineStart, insertion.text.length])
  }
  return { _tag: "Rewritten", code, shifts }
}

/**
 * Maps a 1-based column the isolate reports on user line `line` back to the user's source.
 *
 * @example
 * ```ts
 * mapColumn([[3, 10, 1]], 3, 20) // 19: one character was inserted before column 11 of line 3
 * ```
 */
export const mapColumn = (shifts: ReadonlyArray<Shift>, line: number, column: number): number => {
  let generated = column - 1
  let inserted = 0
  for (const [at, original, length] of shifts) {
    if (at !== line) continue
    const start = original + inserted
    if (generated >= start + length) inserted += length
    else if (generated >= start) return original + 1
    else break
  }
  generated -= inserted
  return generated + 1
}
