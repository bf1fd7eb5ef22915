/**
 * One pass over JSON text that builds no values: the nesting guard, repeated keys, and where the values of
 * chosen pointers start. `JSON.parse` builds the value; this pass supplies what it cannot say. It is linear
 * in the text and keeps state only along the current path (the keys of the objects being read), so a
 * 16 MiB file costs tens of milliseconds and no more memory than its deepest path.
 *
 * It assumes nothing about validity: on text `JSON.parse` rejects it may stop with `Malformed` or finish
 * with meaningless results, never loop or throw. Callers run it beside `JSON.parse`, not instead of it.
 *
 * @module internal/jsonScan
 */

/** A node of the pointer tree whose value locations are wanted. `offset` is -1 until the value is seen. */
export interface Trie {
  readonly children: Map<string, Trie>
  offset: number
}

/** A repeated key: the pointer of the member, the key, and the offsets of both keys. */
export interface RawDuplicate {
  readonly path: string
  readonly key: string
  readonly offset: number
  readonly first: number
}

export interface ScanOptions {
  readonly maxDepth: number
  /** Record at most this many repeated keys (they are all counted); 0 skips the key bookkeeping. */
  readonly maxDuplicates: number
  /** Pointers whose value offsets to record. */
  readonly trie?: Trie
}

export type ScanResult =
  | { readonly _tag: "Scanned"; readonly duplicates: ReadonlyArray<RawDuplicate>; readonly duplicateCount: number }
  | { readonly _tag: "TooDeep"; readonly offset: number }
  | { readonly _tag: "Malformed" }

const MALFORMED: ScanResult = { _tag: "Malformed" }

export const escapeSegment = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1")

export const unescapeSegment = (segment: string): string => segment.replace(/~1/g, "/").replace(/~0/g, "~")

/** The tree of `pointers` (RFC 6901), for {@link scan}. */
export const trieOf = (pointers: Iterable<string>): Trie => {
  const root: Trie = { children: new Map(), offset: -1 }
  for (const pointer of pointers) {
    let node = root
    if (pointer === "") continue
    for (const raw of pointer.slice(1).split("/")) {
      const segment = unescapeSegment(raw)
      let child = node.children.get(segment)
      if (child === undefined) {
        child = { children: new Map(), offset: -1 }
        node.children.set(segment, child)
      }
      node = child
    }
  }
  return root
}

/** The offset of the value at `pointer`, or of its nearest ancestor that exists (-1 if none). */
export const offsetIn = (root: Trie, pointer: string): number => {
  let node: Trie | undefined = root
  let found = root.offset
  if (pointer === "") return found
  for (const raw of pointer.slice(1).split("/")) {
    node = node.children.get(unescapeSegment(raw))
    if (node === undefined) break
    if (node.offset >= 0) found = node.offset
  }
  return found
}

// What the next token is, inside the current container.
const EXPECT_NOTHING = 0
const EXPECT_KEY = 1
const EXPECT_VALUE = 2

/** Scans `text` once; see the module comment. */
export const scan = (text: string, options: ScanOptions): ScanResult => {
  const { maxDepth, maxDuplicates, trie } = options
  const trackKeys = maxDuplicates > 0
  const isObject: Array<boolean> = []
  const segments: Array<string | number> = []
  const keys: Array<Map<string, number> | undefined> = []
  const nodes: Array<Trie | undefined> = []
  const duplicates: Array<RawDuplicate> = []
  let duplicateCount = 0
  let depth = 0
  let expect = EXPECT_VALUE
  // The trie node of the value being read, when a pointer under it is wanted.
  let current: Trie | undefined
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue
    if (expect === EXPECT_VALUE && c !== 0x5d && c !== 0x7d) {
      if (depth === 0) current = trie
      else {
        const parent = nodes[depth - 1]
        current = parent === undefined ? undefined : parent.children.get(String(segments[depth - 1]))
      }
      // The last of repeated keys wins, as in JSON.parse: its value is the one problems are about.
      if (current !== undefined) current.offset = i
      expect = EXPECT_NOTHING
    }
    switch (c) {
      case 0x22: {
        // A string: find the closing quote (one not escaped by an odd run of backslashes).
        let end = i
        for (;;) {
          end = text.indexOf('"', end + 1)
          if (end === -1) return MALFORMED
          let backslashes = 0
          while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++
          if (backslashes % 2 === 0) break
        }
        if (expect === EXPECT_KEY) {
          const raw = text.slice(i + 1, end)
          let key = raw
          if (raw.includes("\\")) {
            try {
              key = JSON.parse(`"${raw}"`) as string
            } catch {
              return MALFORMED
            }
          }
          segments[depth - 1] = key
          if (trackKeys) {
            const seen = keys[depth - 1]!
            const first = seen.get(key)
            if (first === undefined) seen.set(key, i)
            else {
              duplicateCount++
              if (duplicates.length < maxDuplicates) {
                let path = ""
                for (let level = 0; level < depth - 1; level++) path += `/${escapeSegment(String(segments[level]))}`
                duplicates.push({ path: `${path}/${escapeSegment(key)}`, key, offset: i, first })
              }
            }
          }
          expect = EXPECT_NOTHING
        }
        i = end
        break
      }
      case 0x3a:
        expect = EXPECT_VALUE
        break
      case 0x2c:
        if (depth === 0) return MALFORMED
        if (isObject[depth - 1]) expect = EXPECT_KEY
        else {
          segments[depth - 1] = (segments[depth - 1] as number) + 1
          expect = EXPECT_VALUE
        }
        break
      case 0x7b:
      case 0x5b: {
        if (depth >= maxDepth) return { _tag: "TooDeep", offset: i }
        const object = c === 0x7b
        isObject[depth] = object
        segments[depth] = object ? "" : 0
        keys[depth] = trackKeys && object ? new Map() : undefined
        nodes[depth] = current !== undefined && current.children.size > 0 ? current : undefined
        depth++
        expect = object ? EXPECT_KEY : EXPECT_VALUE
        break
      }
      case 0x7d:
      case 0x5d:
        if (depth === 0) return MALFORMED
        depth--
        keys[depth] = undefined
        expect = EXPECT_NOTHING
        break
      default:
        break
    }
  }
  return { _tag: "Scanned", duplicates, duplicateCount }
}
