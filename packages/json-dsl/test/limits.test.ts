import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { FlowFile, Load, Nflow, Problem } from "../src/index.ts"

const registry = FlowFile.validationRegistry
const header = '{"dsl":1,"id":"t","version":"1","trigger":{"type":"manual"}'
const many = (count: number, item: (i: number) => string) => Array.from({ length: count }, (_, i) => item(i)).join(",")

// Generous for a loaded 2-core machine (these take 0.1-2 s); the quadratic grouping took over 20 s at this size.
const LINEAR_BOUND_MS = 10_000
const timed = <A>(run: () => A): { readonly result: A; readonly ms: number } => {
  const started = performance.now()
  const result = run()
  return { result, ms: performance.now() - started }
}

describe("100,000 problems: found in linear time, listed up to a cap", () => {
  it("unknown top-level keys", () => {
    const text = `${header},"nodes":{},"edges":[],${many(100_000, (i) => `"k${i}":1`)}}`
    const { result, ms } = timed(() => Load.load(text, registry))
    if (result._tag !== "Failed") throw new Error("expected problems")
    expect(result.problems).toHaveLength(Problem.DEFAULT_MAX_PROBLEMS + 1)
    expect(result.problems[0]).toMatchObject({ path: "/k0", message: "is not a known property", line: 1 })
    expect(result.problems.at(-1)).toEqual({
      severity: "error",
      code: "more-problems",
      path: "",
      message: "and 99000 more problems (99000 errors) not listed",
      line: 1,
      column: 1
    })
    expect(ms).toBeLessThan(LINEAR_BOUND_MS)
  })
  it("nodes of an unknown type (an error and an unreachable warning each)", () => {
    const text = `${header},"nodes":{${many(50_000, (i) => `"n${i}":{"type":"nope"}`)}},"edges":[]}`
    const { result, ms } = timed(() => Load.load(text, registry))
    if (result._tag !== "Failed") throw new Error("expected problems")
    expect(result.problems[0]).toMatchObject({ path: "/nodes/n0/type", message: 'unknown node type "nope"' })
    expect(result.problems.at(-1)?.message).toBe("and 99000 more problems (49000 errors, 50000 warnings) not listed")
    expect(ms).toBeLessThan(LINEAR_BOUND_MS)
  })
  it("a key repeated 100,000 times: the repeats are counted, the first thousand described", () => {
    const text = `${header},"nodes":{},"edges":[],${many(100_000, () => '"a":1')}}`
    const { result, ms } = timed(() => Load.load(text, registry))
    if (result._tag !== "Failed") throw new Error("expected problems")
    expect(result.problems.slice(0, 2).map((p) => [p.path, p.message, p.column])).toEqual([
      ["/a", 'duplicate key "a" (first at line 1); only one may stay', 89],
      ["/a", 'duplicate key "a" (first at line 1); only one may stay', 95]
    ])
    expect(result.problems.at(-1)?.message).toBe("and 99000 more problems (99000 errors) not listed")
    expect(ms).toBeLessThan(LINEAR_BOUND_MS)
  })
  it("maxProblems sets the cap; problems under it are all listed", () => {
    const text = `${header},"nodes":{},"edges":[],${many(5, (i) => `"k${i}":1`)}}`
    const capped = Load.load(text, registry, { maxProblems: 2 })
    expect(capped._tag === "Failed" && capped.problems.map((p) => [p.path, p.message])).toEqual([
      ["/k0", "is not a known property"],
      ["/k1", "is not a known property"],
      ["", "and 3 more problems (3 errors) not listed"]
    ])
    const all = Load.load(text, registry)
    expect(all._tag === "Failed" && all.problems).toHaveLength(5)
  })
  it("an nFlow export with 20,000 unknown boxes behind one starter", () => {
    const nodes: Record<string, unknown> = {
      s: {
        data: { type: "starter", method: "GET", urlpattern: "/x" },
        outputs: { output_1: { connections: [{ node: "b0", output: "input_1" }] } }
      }
    }
    for (let i = 0; i < 20_000; i++) {
      nodes[`b${i}`] = {
        data: { type: "sql" },
        outputs: { output_1: { connections: i + 1 < 20_000 ? [{ node: `b${i + 1}`, output: "input_1" }] : [] } }
      }
    }
    const { result, ms } = timed(() => Nflow.importExport(JSON.stringify({ drawflow: { Home: { data: nodes } } })))
    expect(result.problems).toHaveLength(Problem.DEFAULT_MAX_PROBLEMS + 1)
    expect(result.problems[0]?.path).toBe("/drawflow/Home/data/b0/data/type")
    expect(result.problems.at(-1)?.message).toBe("and 19000 more problems (19000 errors) not listed")
    expect(ms).toBeLessThan(LINEAR_BOUND_MS)
  })
})

describe("a file at the 16 MiB limit", () => {
  // In a child with a 256 MB heap: the reader that kept a position per value needed over 1.5 GB for this.
  const atLimit = (shape: string) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--max-old-space-size=256", new URL("./support/atSizeLimit.ts", import.meta.url).pathname, shape],
        { encoding: "utf8", timeout: 60_000 }
      )
    ) as { bytes: number; ms: number; kind: string; problems: ReadonlyArray<unknown> }
  it.each([
    ["numbers", "flat"],
    ["small objects", "objects"]
  ])("an array of %s is read once, in seconds, in a capped heap", (_, shape) => {
    const report = atLimit(shape)
    expect(report.bytes).toBeGreaterThan(16 * 1024 * 1024 - 16)
    expect(report).toMatchObject({ kind: "canonical", problems: [["/x", "is not a known property", 1]] })
    expect(report.ms).toBeLessThan(20_000)
  })
  it("one byte more is refused before parsing", () => {
    const text = `{"x":"${"a".repeat(16 * 1024 * 1024 - 7)}"}`
    const { result, ms } = timed(() => Load.load(text, registry))
    expect(result).toMatchObject({
      _tag: "Failed",
      problems: [{ code: "too-large", message: "the input is 16777217 bytes; the limit is 16777216 bytes" }]
    })
    expect(ms).toBeLessThan(2000)
  })
})
