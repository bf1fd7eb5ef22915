/**
 * `noop`: passes its input through unchanged. Useful as a named junction or a placeholder.
 *
 * @module noop
 */
import { Effect, Schema } from "effect"
import * as Node from "../Node.ts"

const defined = Node.define({
  type: "noop",
  description: "Passes its input through unchanged.",
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input) => Effect.succeed(input)
})

/**
 * @example
 * ```json
 * { "type": "noop" }
 * ```
 */
export const noop: typeof defined = { ...defined, prepareSync: () => (input) => input }
