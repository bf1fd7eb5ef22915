/**
 * The text layout of canonical files: two-space indentation, small objects and arrays on one line when they
 * fit in the width, chosen places always broken (each node, the edge list) and chosen places always on one
 * line (each edge). Deterministic: the same value always prints the same text, so diffs show changes only.
 *
 * @module CanonicalJson
 */

/** Where to break: decided from the path of segments (object keys and array indices as strings). */
export interface Layout {
  readonly width: number
  /** Always one element or member per line. */
  readonly expand: (path: ReadonlyArray<string>) => boolean
  /** Always on one line, whatever the width. */
  readonly inline: (path: ReadonlyArray<string>) => boolean
}

const never = () => false

const inlineText = (value: unknown): string => {
  if (Array.isArray(value)) return value.length === 0 ? "[]" : `[${value.map(inlineText).join(", ")}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return "{}"
    return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inlineText(v)}`).join(", ")} }`
  }
  return JSON.stringify(value) ?? "null"
}

/**
 * Prints a JSON value in the canonical layout (no trailing newline).
 *
 * @example
 * ```ts
 * import { CanonicalJson } from "@jsonflow/json-dsl"
 * CanonicalJson.stringify({ a: [1, 2], b: { c: true } }) // '{ "a": [1, 2], "b": { "c": true } }'
 * ```
 */
export const stringify = (value: unknown, layout: Partial<Layout> = {}): string => {
  const width = layout.width ?? 100
  const expand = layout.expand ?? never
  const inline = layout.inline ?? never
  // A container holding a place that must break cannot go on one line either.
  const expandsWithin = (current: unknown, path: Array<string>): boolean => {
    if (typeof current !== "object" || current === null) return false
    for (const [key, child] of Array.isArray(current)
      ? current.map((v, i) => [String(i), v] as const)
      : Object.entries(current)) {
      if (typeof child !== "object" || child === null) continue
      path.push(key)
      const found = expand(path) || expandsWithin(child, path)
      path.pop()
      if (found) return true
    }
    return false
  }
  const render = (current: unknown, path: Array<string>, indent: string, prefixLength: number): string => {
    if (typeof current !== "object" || current === null) return JSON.stringify(current) ?? "null"
    const isArray = Array.isArray(current)
    const entries: Array<readonly [string, unknown]> = isArray
      ? current.map((v, i) => [String(i), v] as const)
      : Object.entries(current).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return isArray ? "[]" : "{}"
    if (inline(path)) return inlineText(current)
    if (!expand(path) && !expandsWithin(current, path)) {
      const text = inlineText(current)
      if (indent.length + prefixLength + text.length <= width && !text.includes("\n")) return text
    }
    const inner = `${indent}  `
    const lines = entries.map(([key, child]) => {
      const prefix = isArray ? "" : `${JSON.stringify(key)}: `
      path.push(key)
      const rendered = render(child, path, inner, prefix.length + 1)
      path.pop()
      return `${inner}${prefix}${rendered}`
    })
    return `${isArray ? "[" : "{"}\n${lines.join(",\n")}\n${indent}${isArray ? "]" : "}"}`
  }
  return render(value, [], "", 0)
}
