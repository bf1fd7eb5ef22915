/**
 * gRPC node types: `grpc.unary` (one request, one response) and `grpc.serverStream` (one request, the
 * streamed responses collected into an array, up to `maxItems`). The node input is the request message;
 * the output is the response message(s) as plain objects.
 *
 * A server stream feeds a for-each by wiring the array into it:
 * `.node("orders", Grpc.serverStream, { client: "orders", method: "ListOrders" }, (p) => p.$input)`
 * `.forEach("each", (p) => p.orders.out, (order) => order.andThen(...))`. Code that needs true streaming
 * (unbounded streams, constant memory) uses `GrpcClients.serverStream`, an Effect `Stream`, directly.
 *
 * @module grpc/nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Schema, Stream } from "effect"
import { GrpcClients } from "./client.ts"
import { defaults } from "./config.ts"
import { GrpcStreamLimit } from "./errors.ts"

const Message = Schema.Record(Schema.String, Schema.Unknown)

const common = {
  /** A client name from the layer's `clients`. */
  client: Schema.String,
  /** A method of the client's service (as written in the `.proto`). */
  method: Schema.String,
  /** Overrides the client's deadline. */
  deadlineMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** Metadata for this node's calls (added to the client's). */
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
}

const callOptions = (config: {
  readonly deadlineMs?: number
  readonly metadata?: Readonly<Record<string, string>>
}) => ({
  ...(config.deadlineMs === undefined ? {} : { deadlineMs: config.deadlineMs }),
  ...(config.metadata === undefined ? {} : { metadata: config.metadata })
})

/** Config of `grpc.unary`. */
export const UnaryConfig = Schema.Struct(common)

/**
 * `grpc.unary`: a unary call; non-OK statuses become `GrpcError` (retryable for UNAVAILABLE,
 * DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED).
 *
 * @example
 * ```json
 * { "type": "grpc.unary", "config": { "client": "orders", "method": "GetOrder", "deadlineMs": 2000 } }
 * ```
 */
export const unary = Node.define({
  type: "grpc.unary",
  description: "Calls a unary gRPC method (input = request message, output = response message).",
  config: UnaryConfig,
  input: Message,
  output: Message,
  run: (request, config) =>
    GrpcClients.use((grpc) => grpc.unary(config.client, config.method, request, callOptions(config)))
})

/** Config of `grpc.serverStream`. */
export const ServerStreamConfig = Schema.Struct({
  ...common,
  /** At most this many messages are collected. Default 1000. */
  maxItems: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** When the stream has more: `fail` (default, `GrpcStreamLimit`) or `truncate` (keep the first `maxItems`, cancel the call). */
  onOverflow: Schema.optionalKey(Schema.Literals(["fail", "truncate"]))
})

/**
 * `grpc.serverStream`: a server-streaming call collected into an array (to feed a for-each).
 *
 * @example
 * ```json
 * { "type": "grpc.serverStream", "config": { "client": "orders", "method": "ListOrders", "maxItems": 500 } }
 * ```
 */
export const serverStream = Node.define({
  type: "grpc.serverStream",
  description: "Calls a server-streaming gRPC method and emits the messages as an array (at most maxItems).",
  config: ServerStreamConfig,
  input: Message,
  output: Schema.Array(Message),
  run: (request, config) =>
    Effect.gen(function* () {
      const maxItems = config.maxItems ?? defaults.maxItems
      const grpc = yield* GrpcClients
      // One message past the cap tells "exactly maxItems" from "more"; taking it ends (cancels) the call.
      const items = yield* grpc
        .serverStream(config.client, config.method, request, callOptions(config))
        .pipe(Stream.take(maxItems + 1), Stream.runCollect)
      if (items.length <= maxItems) return items
      if (config.onOverflow === "truncate") return items.slice(0, maxItems)
      return yield* new GrpcStreamLimit({ client: config.client, method: config.method, maxItems, retryable: false })
    })
})

/** Every gRPC node definition. */
export const definitions = [unary, serverStream] as const
