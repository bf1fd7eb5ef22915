/**
 * `join` and `merge`: the nodes with several named input ports.
 *
 * `join` waits for all its active inputs and emits an object keyed by input port name (a port whose branch
 * was skipped is absent). `merge` emits the first active input (in edge order): use it to bring the branches
 * of a switch back together.
 *
 * @module join
 */
import { Effect, Schema } from "effect"
import * as Node from "../Node.ts"

const Inputs = Schema.Record(Schema.String, Schema.Unknown)

const definedJoin = Node.define({
  type: "join",
  description: "Waits for every active input and emits { <input port>: value }.",
  input: Inputs,
  inputMode: "join",
  output: Inputs,
  run: (input) => Effect.succeed(input)
})

const definedMerge = Node.define({
  type: "merge",
  description: "Emits the first active input: brings the branches of a switch back together.",
  input: Inputs,
  inputMode: "join",
  output: Schema.Unknown,
  run: (input) => Effect.succeed(Object.values(input)[0])
})

/**
 * @example
 * ```json
 * { "edges": [{ "from": { "node": "a", "port": "out" }, "to": { "node": "both", "port": "left" } },
 *             { "from": { "node": "b", "port": "out" }, "to": { "node": "both", "port": "right" } }] }
 * ```
 */
export const join: typeof definedJoin = { ...definedJoin, prepareSync: () => (input) => input }

/**
 * @example
 * ```json
 * { "type": "merge" }
 * ```
 */
export const merge: typeof definedMerge = { ...definedMerge, prepareSync: () => (input) => Object.values(input)[0] }
