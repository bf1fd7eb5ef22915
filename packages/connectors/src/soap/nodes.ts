/**
 * The `soap.call` node type: calls one operation of a named SOAP client. The node input is the operation's
 * arguments (an object shaped like its input message); the output is the operation's result as a plain
 * object (numbers and dates as the WSDL types them, repeated elements as arrays).
 *
 * @module soap/nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import { SoapClients } from "./client.ts"

/** Config of `soap.call`. */
export const CallConfig = Schema.Struct({
  /** A client name from the layer's `clients`. */
  client: Schema.String,
  /** `Operation`, or `Service.Port.Operation` when several ports define it. */
  operation: Schema.String,
  /** Overrides the client's time limit for this node. */
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** Overrides the client's `idempotent`: may a call with an unknown outcome be retried? */
  idempotent: Schema.optionalKey(Schema.Boolean)
})
export type CallConfig = typeof CallConfig.Type

/**
 * `soap.call`: calls a SOAP operation; faults become `SoapFault` (with code and string).
 *
 * @example
 * ```json
 * { "type": "soap.call", "config": { "client": "orders", "operation": "GetOrder", "timeoutMs": 5000 } }
 * ```
 */
export const call = Node.define({
  type: "soap.call",
  description: "Calls an operation of a SOAP web service (input = arguments, output = result).",
  config: CallConfig,
  input: Schema.Record(Schema.String, Schema.Unknown),
  output: Schema.Unknown,
  run: (args, config) =>
    Effect.map(
      SoapClients.use((soap) =>
        soap.call(config.client, config.operation, args, {
          ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
          ...(config.idempotent === undefined ? {} : { idempotent: config.idempotent })
        })
      ),
      (response) => response.result
    )
})

/** Every SOAP node definition. */
export const definitions = [call] as const
