/**
 * Reading older versions of the format. Each step turns version `n` into `n + 1` and knows how to map a JSON
 * Pointer in its output back to the input, so a problem found after migrating still points into the file
 * the user wrote.
 *
 * Version 0 is the pre-release shape (files without `"dsl"`, or `"dsl": 0`): nodes as an array of
 * `{ id, type, config, label, retry, timeout, x, y }`, edges as `["from[:port]", "to[:port]"]` pairs,
 * `output` as `"node:port"`. Version 1 keys nodes by id, spells edges out and renames `timeout` to
 * `timeoutMs` and `x`/`y` to `position`.
 *
 * @module Migrations
 */
import * as Problem from "./Problem.ts"

/** A JSON object as read from a file. */
export type JsonObject = Record<string, unknown>

/** The outcome of one step. */
export interface Stepped {
  readonly document: JsonObject
  readonly problems: ReadonlyArray<Problem.Problem>
  /** Maps a pointer into `document` to a pointer into the step's input. */
  readonly toSource: (pointer: string) => string
}

/** One migration step. */
export interface Migration {
  readonly from: number
  readonly to: number
  readonly description: string
  readonly migrate: (document: JsonObject) => Stepped
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const splitRef = (ref: string, defaultPort: string) => {
  const colon = ref.lastIndexOf(":")
  return colon <= 0
    ? { node: ref, port: defaultPort }
    : { node: ref.slice(0, colon), port: ref.slice(colon + 1) || defaultPort }
}

const NODE_RENAMES: Readonly<Record<string, string>> = { timeoutMs: "timeout" }

/** v0 (pre-release arrays) -> v1 (nodes by id). */
const v0ToV1: Migration = {
  from: 0,
  to: 1,
  description: "nodes array -> nodes by id; edge pairs -> { from, to }; timeout -> timeoutMs; x/y -> position",
  migrate: (document) => {
    const problems: Array<Problem.Problem> = []
    const { nodes: rawNodes, edges: rawEdges, output: rawOutput, dsl: _dsl, ...rest } = document
    const nodes: JsonObject = {}
    const nodeIndex = new Map<string, number>()
    if (Array.isArray(rawNodes)) {
      rawNodes.forEach((raw, index) => {
        const at = `/nodes/${index}`
        if (!isObject(raw)) {
          problems.push(Problem.error("invalid-document", at, "expected a node object"))
          return
        }
        const { id, x, y, timeout, ...fields } = raw
        if (typeof id !== "string" || id === "") {
          problems.push(Problem.error("invalid-document", `${at}/id`, "a node needs a string id"))
          return
        }
        const first = nodeIndex.get(id)
        if (first !== undefined) {
          problems.push(
            Problem.error("duplicate-node-id", `${at}/id`, `duplicate node id "${id}" (also /nodes/${first})`, id)
          )
          return
        }
        nodeIndex.set(id, index)
        nodes[id] = {
          ...fields,
          ...(timeout === undefined ? {} : { timeoutMs: timeout }),
          ...(x === undefined && y === undefined ? {} : { position: { x, y } })
        }
      })
    } else if (rawNodes !== undefined) {
      problems.push(Problem.error("invalid-document", "/nodes", "expected an array of nodes (dsl 0)"))
    }
    const edges: Array<unknown> = []
    const edgeIndex: Array<number> = []
    if (Array.isArray(rawEdges)) {
      rawEdges.forEach((raw, index) => {
        if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== "string" || typeof raw[1] !== "string") {
          problems.push(
            Problem.error("invalid-document", `/edges/${index}`, 'expected a pair ["from[:port]", "to[:port]"]')
          )
          return
        }
        edgeIndex.push(index)
        edges.push({ from: splitRef(raw[0], "out"), to: splitRef(raw[1], "in") })
      })
    } else if (rawEdges !== undefined) {
      problems.push(Problem.error("invalid-document", "/edges", "expected an array of edge pairs (dsl 0)"))
    }
    const output =
      typeof rawOutput === "string"
        ? { output: splitRef(rawOutput, "out") }
        : rawOutput === undefined
          ? {}
          : { output: rawOutput }
    return {
      document: { dsl: 1, ...rest, nodes, edges, ...output },
      problems,
      toSource: (pointer) => {
        const segments = Problem.segmentsOf(pointer)
        const [head, second, third, ...tail] = segments
        if (head === "nodes" && second !== undefined) {
          const index = nodeIndex.get(second)
          if (index === undefined) return "/nodes"
          if (third === "position") return Problem.pointer("nodes", index, tail[0] === "y" ? "y" : "x")
          if (third === undefined) return Problem.pointer("nodes", index)
          return Problem.pointer("nodes", index, NODE_RENAMES[third] ?? third, ...tail)
        }
        if (head === "edges" && second !== undefined) {
          const index = edgeIndex[Number(second)]
          if (index === undefined) return "/edges"
          if (third === "from") return Problem.pointer("edges", index, 0)
          if (third === "to") return Problem.pointer("edges", index, 1)
          return Problem.pointer("edges", index)
        }
        if (head === "output") return typeof rawOutput === "string" ? "/output" : pointer
        if (head === "dsl") return document.dsl === undefined ? "" : "/dsl"
        return pointer
      }
    }
  }
}

/** Every step, in order. */
export const migrations: ReadonlyArray<Migration> = [v0ToV1]

/** The oldest version this package reads. */
export const OLDEST_VERSION = 0

/**
 * Migrates a document of version `from` to `to`, chaining steps and their pointer maps.
 *
 * @example
 * ```ts
 * import { Migrations } from "@jsonflow/json-dsl"
 * const { document } = Migrations.migrate({ id: "f", version: "1", trigger: { type: "manual" },
 *   nodes: [{ id: "a", type: "noop" }], edges: [["$input", "a"]] }, 0, 1)
 * // document.nodes = { a: { type: "noop" } }
 * ```
 */
export const migrate = (document: JsonObject, from: number, to: number): Stepped => {
  let current: Stepped = { document, problems: [], toSource: (p) => p }
  for (let version = from; version < to; version++) {
    const step = migrations.find((m) => m.from === version)
    if (step === undefined) throw new Error(`no migration from dsl ${version}`)
    const previous = current
    const next = step.migrate(previous.document)
    current = {
      document: next.document,
      problems: [...previous.problems, ...next.problems.map((p) => ({ ...p, path: previous.toSource(p.path) }))],
      toSource: (p) => previous.toSource(next.toSource(p))
    }
  }
  return current
}
