/**
 * A guarded JSON reader for files people and designers write.
 *
 * `JSON.parse` is fast but blind: it recurses (50 MB of `[` overflows the stack), keeps the last of two equal
 * keys silently (two nodes with one id become one), and says nothing about where a value sits. This reader is
 * iterative, refuses input above a size and a nesting limit before doing any work, reports duplicate keys with
 * their JSON Pointer, and remembers where each value starts so problems can name a line and column.
 * Strings and numbers are still decoded by `JSON.parse` on their own token, so values are exactly RFC 8259's.
 *
 * @module JsonText
 */
import { Buffer } from "node:buffer"

/** Upper bounds on what {@link parse} accepts. */
export interface Limits {
  /** Largest input in bytes (UTF-8). Default 16 MiB. */
  readonly maxBytes: number
  /** Deepest nesting of arrays and objects. Default 128. */
  readonly maxDepth: number
}

/** The defaults: a flow file is kilobytes; 16 MiB and 128 levels leave room without inviting abuse. */
export const DEFAULT_LIMITS: Limits = { maxBytes: 16 * 1024 * 1024, maxDepth: 128 }

/** A place in the text, 1-based. */
export interface Location {
  readonly line: number
  readonly column: number
}

/** An object key that occurs twice; `path` is the pointer of the repeated member. */
export interface DuplicateKey {
  readonly path: string
  readonly key: string
  readonly at: Location
  readonly first: Location
}

/** Why the text is not acceptable JSON. */
export interface SyntaxProblem {
  readonly code: "invalid-json" | "too-large" | "too-deep"
  readonly message: string
  readonly at?: Location
}

/** What {@link parse} returns. */
export type Parsed =
  | {
      readonly _tag: "Parsed"
      readonly value: unknown
      readonly duplicates: ReadonlyArray<DuplicateKey>
      /** Where the value at a JSON Pointer starts (the nearest recorded ancestor when not recorded itself). */
      readonly locate: (pointer: string) => Location | undefined
    }
  | { readonly _tag: "Invalid"; readonly problem: SyntaxProblem }

const escapeSegment = (segment: string | number): string => String(segment).replace(/~/g, "~0").replace(/\//g, "~1")

const WHITESPACE = /[ \t\n\r]*/y
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings must not hold raw control characters
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

// Positions are recorded down to this depth: enough for `/nodes/<id>/config/<field>/...`, bounded in memory.
const RECORD_DEPTH = 8

interface Frame {
  readonly container: Record<string, unknown> | Array<unknown>
  readonly isArray: boolean
  readonly pointer: string
  /** First location of each key (objects only). */
  readonly keys: Map<string, number> | undefined
  /** The key whose value is being read (objects only). */
  key: string
}

const lineStartsOf = (text: string): ReadonlyArray<number> => {
  const starts = [0]
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1)
  return starts
}

const locationIn = (starts: ReadonlyArray<number>, offset: number): Location => {
  let low = 0
  let high = starts.length - 1
  while (low < high) {
    const mid = (low + high + 1) >> 1
    if (starts[mid]! <= offset) low = mid
    else high = mid - 1
  }
  return { line: low + 1, column: offset - starts[low]! + 1 }
}

const describeChar = (text: string, offset: number) =>
  offset >= text.length ? "the end of the input" : `${JSON.stringify(text.charAt(offset))}`

/**
 * Parses JSON text under {@link Limits}; never throws, never recurses.
 *
 * @example
 * ```ts
 * import { JsonText } from "@jsonflow/json-dsl"
 * const parsed = JsonText.parse('{"nodes":{"a":{},"a":{}}}')
 * if (parsed._tag === "Parsed") parsed.duplicates[0]?.path // "/nodes/a"
 * ```
 */
export const parse = (input: string | Uint8Array, limits: Partial<Limits> = {}): Parsed => {
  const { maxBytes, maxDepth } = { ...DEFAULT_LIMITS, ...limits }
  const bytes = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength
  if (bytes > maxBytes) {
    return {
      _tag: "Invalid",
      problem: {
        code: "too-large",
        message: `the input is ${bytes} bytes; the limit is ${maxBytes} bytes`
      }
    }
  }
  let text = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: false }).decode(input)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)

  let starts: ReadonlyArray<number> | undefined
  const at = (offset: number): Location => {
    starts ??= lineStartsOf(text)
    return locationIn(starts, offset)
  }
  const fail = (code: SyntaxProblem["code"], message: string, offset: number): Parsed => {
    const where = at(offset)
    return {
      _tag: "Invalid",
      problem: { code, message: `${message} at line ${where.line}, column ${where.column}`, at: where }
    }
  }
  const positions = new Map<string, number>()
  const duplicates: Array<{ path: string; key: string; offset: number; first: number }> = []
  const stack: Array<Frame> = []
  let pos = 0
  let root: unknown
  let hasRoot = false

  const skipWhitespace = () => {
    WHITESPACE.lastIndex = pos
    WHITESPACE.test(text)
    pos = WHITESPACE.lastIndex
  }

  // Reads one string token at `pos` (which holds a quote).
  const readString = (): string | undefined => {
    STRING.lastIndex = pos
    const match = STRING.exec(text)
    if (match === null) return undefined
    pos = STRING.lastIndex
    const raw = match[0]
    return raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1)
  }

  const badString = (start: number): Parsed => {
    for (let i = start + 1; i < text.length; i++) {
      const code = text.charCodeAt(i)
      if (code === 0x22) break
      if (code === 0x5c) {
        if (!/^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(text.slice(i + 1, i + 6))) {
          return fail("invalid-json", "invalid escape sequence in a string", i)
        }
        i += text.charAt(i + 1) === "u" ? 5 : 1
        continue
      }
      if (code < 0x20) return fail("invalid-json", "unescaped control character in a string", i)
    }
    return fail("invalid-json", "unterminated string", start)
  }

  // Stores a finished value into the current container (or as the root).
  const store = (value: unknown) => {
    const top = stack[stack.length - 1]
    if (top === undefined) {
      root = value
      hasRoot = true
      return
    }
    if (top.isArray) (top.container as Array<unknown>).push(value)
    else if (top.key === "__proto__") {
      // An own property, as JSON.parse makes it: never the prototype.
      Object.defineProperty(top.container, "__proto__", { value, enumerable: true, writable: true, configurable: true })
    } else (top.container as Record<string, unknown>)[top.key] = value
  }

  const childPointer = (): string => {
    const top = stack[stack.length - 1]
    if (top === undefined) return ""
    return top.isArray
      ? `${top.pointer}/${(top.container as Array<unknown>).length}`
      : `${top.pointer}/${escapeSegment(top.key)}`
  }

  // After a value inside a container: expect `,` or the closing bracket. Returns a failure or undefined.
  const afterValue = (): Parsed | undefined => {
    while (stack.length > 0) {
      skipWhitespace()
      const top = stack[stack.length - 1]!
      const char = text.charAt(pos)
      if (char === ",") {
        pos++
        skipWhitespace()
        if (!top.isArray) {
          const problem = readKey(top)
          if (problem) return problem
        }
        return undefined
      }
      if (char === (top.isArray ? "]" : "}")) {
        pos++
        stack.pop()
        store(top.container)
        continue
      }
      return fail(
        "invalid-json",
        `expected ${top.isArray ? '"," or "]"' : '"," or "}"'} but found ${describeChar(text, pos)}`,
        pos
      )
    }
    return undefined
  }

  // Reads `"key":` inside an object frame.
  const readKey = (frame: Frame): Parsed | undefined => {
    if (text.charAt(pos) !== '"') {
      return fail("invalid-json", `expected a property name in double quotes but found ${describeChar(text, pos)}`, pos)
    }
    const keyStart = pos
    const key = readString()
    if (key === undefined) return badString(keyStart)
    skipWhitespace()
    if (text.charAt(pos) !== ":") return fail("invalid-json", `expected ":" but found ${describeChar(text, pos)}`, pos)
    pos++
    frame.key = key
    const first = frame.keys!.get(key)
    if (first !== undefined) {
      duplicates.push({ path: `${frame.pointer}/${escapeSegment(key)}`, key, offset: keyStart, first })
    } else frame.keys!.set(key, keyStart)
    return undefined
  }

  skipWhitespace()
  if (pos >= text.length) return fail("invalid-json", "the input is empty", pos)
  while (true) {
    skipWhitespace()
    const start = pos
    const char = text.charAt(pos)
    const pointer = childPointer()
    if (stack.length < RECORD_DEPTH) positions.set(pointer, start)
    if (char === "{" || char === "[") {
      if (stack.length >= maxDepth) {
        return fail("too-deep", `the JSON nests deeper than ${maxDepth} levels`, pos)
      }
      pos++
      const isArray = char === "["
      const frame: Frame = {
        container: isArray ? [] : {},
        isArray,
        pointer,
        keys: isArray ? undefined : new Map(),
        key: ""
      }
      stack.push(frame)
      skipWhitespace()
      if (text.charAt(pos) === (isArray ? "]" : "}")) {
        pos++
        stack.pop()
        store(frame.container)
      } else {
        if (!isArray) {
          const problem = readKey(frame)
          if (problem) return problem
        }
        continue
      }
    } else if (char === '"') {
      const value = readString()
      if (value === undefined) return badString(start)
      store(value)
    } else if (char === "-" || (char >= "0" && char <= "9")) {
      NUMBER.lastIndex = pos
      const match = NUMBER.exec(text)
      if (match === null) return fail("invalid-json", "invalid number", pos)
      pos = NUMBER.lastIndex
      store(Number(match[0]))
    } else if (text.startsWith("true", pos)) {
      pos += 4
      store(true)
    } else if (text.startsWith("false", pos)) {
      pos += 5
      store(false)
    } else if (text.startsWith("null", pos)) {
      pos += 4
      store(null)
    } else {
      return fail(
        "invalid-json",
        pos >= text.length ? "unexpected end of the input" : `unexpected ${describeChar(text, pos)}`,
        pos
      )
    }
    const problem = afterValue()
    if (problem) return problem
    if (stack.length === 0 && hasRoot) break
  }
  skipWhitespace()
  if (pos < text.length) return fail("invalid-json", `unexpected ${describeChar(text, pos)} after the JSON value`, pos)
  return {
    _tag: "Parsed",
    value: root,
    duplicates: duplicates.map((d) => ({ path: d.path, key: d.key, at: at(d.offset), first: at(d.first) })),
    locate: (target) => {
      let pointer = target
      while (true) {
        const offset = positions.get(pointer)
        if (offset !== undefined) return at(offset)
        if (pointer === "") return undefined
        pointer = pointer.slice(0, pointer.lastIndexOf("/"))
      }
    }
  }
}

/**
 * The nesting depth of an already-parsed value, stopping at `limit + 1` (so cycles terminate).
 *
 * @example
 * ```ts
 * import { JsonText } from "@jsonflow/json-dsl"
 * JsonText.depthOf({ a: [1, { b: 2 }] }, 128) // 3
 * ```
 */
export const depthOf = (value: unknown, limit: number): number => {
  let deepest = 0
  const pending: Array<readonly [unknown, number]> = [[value, 1]]
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!
    if (typeof current !== "object" || current === null) continue
    if (depth > deepest) deepest = depth
    if (deepest > limit) return deepest
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1])
    }
  }
  return deepest
}
