/**
 * A guarded JSON reader for files people and designers write.
 *
 * `JSON.parse` is fast but blind: it keeps the last of two equal keys silently (two nodes with one id become
 * one), says nothing about where a value sits, and builds values of any depth (which later recursion then
 * overflows on). This reader refuses input above a size limit before any work, checks nesting and repeated
 * keys in one pass that builds nothing, lets `JSON.parse` build the value (so values are exactly RFC 8259's,
 * at its speed), and finds lines and columns only for the pointers that are asked for, all in one more pass.
 * Text that is not JSON gets a precise sentence from an iterative checker.
 *
 * @module JsonText
 */
import { Buffer } from "node:buffer"
import { diagnose } from "./internal/jsonDiagnose.ts"
import { offsetIn, scan, trieOf } from "./internal/jsonScan.ts"

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

/**
 * Where the values at JSON Pointers start, in one pass over the text for all of them (answers are cached).
 * A pointer that names nothing gets the location of its nearest existing ancestor.
 */
export type Locate = (pointers: ReadonlyArray<string>) => ReadonlyArray<Location | undefined>

/** What {@link parse} returns. */
export type Parsed =
  | {
      readonly _tag: "Parsed"
      readonly value: unknown
      /** The first {@link MAX_DUPLICATES} repeated keys, in text order. */
      readonly duplicates: ReadonlyArray<DuplicateKey>
      /** How many repeated keys there are in all (more than `duplicates.length` past the cap). */
      readonly duplicateCount: number
      readonly locate: Locate
    }
  | { readonly _tag: "Invalid"; readonly problem: SyntaxProblem }

/** At most this many repeated keys are described (all are counted): the report stays bounded. */
export const MAX_DUPLICATES = 1000

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

/** Line and column of offsets in `text`; the line table is built on first use. */
const locator = (text: string) => {
  let starts: ReadonlyArray<number> | undefined
  return (offset: number): Location => {
    starts ??= lineStartsOf(text)
    return locationIn(starts, offset)
  }
}

/**
 * Parses JSON text under {@link Limits}; never throws, never recurses.
 *
 * @example
 * ```ts
 * import { JsonText } from "@jsonflow/json-dsl"
 * const parsed = JsonText.parse('{"nodes":{"a":{},"a":{}}}')
 * if (parsed._tag === "Parsed") {
 *   parsed.duplicates[0]?.path // "/nodes/a"
 *   parsed.locate(["/nodes/a"]) // [{ line: 1, column: 22 }] (the value kept: the last)
 * }
 * ```
 */
export const parse = (input: string | Uint8Array, limits: Partial<Limits> = {}): Parsed => {
  const { maxBytes, maxDepth } = { ...DEFAULT_LIMITS, ...limits }
  const bytes = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength
  if (bytes > maxBytes) {
    return {
      _tag: "Invalid",
      problem: { code: "too-large", message: `the input is ${bytes} bytes; the limit is ${maxBytes} bytes` }
    }
  }
  let text = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: false }).decode(input)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const at = locator(text)
  const invalid = (code: SyntaxProblem["code"], message: string, offset: number): Parsed => {
    const where = at(offset)
    return {
      _tag: "Invalid",
      problem: { code, message: `${message} at line ${where.line}, column ${where.column}`, at: where }
    }
  }
  // Say precisely why the text is refused (the fast path only knows that it is).
  const refuse = (fallback: string): Parsed => {
    const fault = diagnose(text, maxDepth)
    if (fault !== undefined) return invalid(fault.code, fault.message, fault.offset)
    return { _tag: "Invalid", problem: { code: "invalid-json", message: fallback } }
  }
  const scanned = scan(text, { maxDepth, maxDuplicates: MAX_DUPLICATES })
  if (scanned._tag !== "Scanned") return refuse("the input is not JSON")
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error))
  }
  const cache = new Map<string, Location | undefined>()
  return {
    _tag: "Parsed",
    value,
    duplicates: scanned.duplicates.map((d) => ({ path: d.path, key: d.key, at: at(d.offset), first: at(d.first) })),
    duplicateCount: scanned.duplicateCount,
    locate: (pointers) => {
      const missing = pointers.filter((pointer) => !cache.has(pointer))
      if (missing.length > 0) {
        const trie = trieOf(missing)
        scan(text, { maxDepth: Number.POSITIVE_INFINITY, maxDuplicates: 0, trie })
        for (const pointer of missing) {
          const offset = offsetIn(trie, pointer)
          cache.set(pointer, offset < 0 ? undefined : at(offset))
        }
      }
      return pointers.map((pointer) => cache.get(pointer))
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
