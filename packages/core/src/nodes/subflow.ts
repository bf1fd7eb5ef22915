/**
 * `subflow`: calls another flow by id (and optionally version) with this node's input; emits its output.
 * The called flow is compiled with the caller (compile option `flows`), runs as a child execution, and a
 * failure inside it fails this node.
 *
 * @module subflow
 */
import { Schema } from "effect"
import * as Node from "../Node.ts"

export const SubflowConfig = Schema.Struct({ flow: Schema.String, version: Schema.optionalKey(Schema.String) })

/**
 * @example
 * ```json
 * { "type": "subflow", "config": { "flow": "enrich-customer", "version": "3" } }
 * ```
 */
export const subflow = Node.define({
  type: "subflow",
  description: "Calls another flow with the input and emits its output.",
  config: SubflowConfig,
  input: Schema.Unknown,
  output: Schema.Unknown,
  subflow: (config) => ({
    _tag: "Ref",
    flowId: config.flow,
    ...(config.version === undefined ? {} : { version: config.version })
  }),
  run: (input, _config, context) => context.runSubflow(input)
})
