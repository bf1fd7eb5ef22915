import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { JsonText } from "../src/index.ts"

describe("JsonText: a guarded JSON parser", () => {
  it("reads exactly what JSON.parse reads (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent)
        const parsed = JsonText.parse(text)
        expect(parsed._tag === "Parsed" && parsed.value).toStrictEqual(JSON.parse(text))
      }),
      { numRuns: 500 }
    )
  })
  it("rejects what JSON.parse rejects (property over mangled JSON)", () => {
    fc.assert(
      fc.property(
        fc.json(),
        fc.nat(),
        fc.constantFrom("", "{", "}", ",", ":", '"', "x", "\u0001"),
        (text, at, insert) => {
          const position = text.length === 0 ? 0 : at % text.length
          const mangled = text.slice(0, position) + insert + text.slice(position + 1)
          let expected: "Parsed" | "Invalid"
          try {
            JSON.parse(mangled)
            expected = "Parsed"
          } catch {
            expected = "Invalid"
          }
          expect(JsonText.parse(mangled)._tag).toBe(expected)
        }
      ),
      { numRuns: 500 }
    )
  })
  it("reports duplicate keys with both places and locates pointers", () => {
    const parsed = JsonText.parse('{\n  "nodes": {\n    "a": {},\n    "b": [1, {"c": 2}],\n    "a": {}\n  }\n}')
    if (parsed._tag !== "Parsed") throw new Error("expected JSON")
    expect(parsed.duplicates).toEqual([
      { path: "/nodes/a", key: "a", at: { line: 5, column: 5 }, first: { line: 3, column: 5 } }
    ])
    expect(parsed.locate(["/nodes/b/1/c", "/nodes/zzz", "", "/nodes/a"])).toEqual([
      { line: 4, column: 20 },
      { line: 2, column: 12 },
      { line: 1, column: 1 },
      // The value kept: the last of the repeated keys, as JSON.parse keeps it.
      { line: 5, column: 10 }
    ])
  })
  it("keeps __proto__ as an own key and never touches prototypes", () => {
    const parsed = JsonText.parse('{"__proto__": {"polluted": true}}')
    const value = parsed._tag === "Parsed" ? (parsed.value as Record<string, unknown>) : {}
    expect(Object.hasOwn(value, "__proto__")).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
  })
  it("accepts bytes and a byte order mark", () => {
    expect(JsonText.parse(new TextEncoder().encode('\uFEFF{"a": 1}'))).toMatchObject({
      _tag: "Parsed",
      value: { a: 1 }
    })
  })
})
