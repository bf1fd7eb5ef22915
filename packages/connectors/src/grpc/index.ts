/**
 * `@jsonflow/connectors/grpc`: gRPC with `@grpc/grpc-js` and `@grpc/proto-loader`. A scoped `GrpcClients`
 * service (named channels, `.proto` files loaded once and cached, TLS or plaintext, metadata and bearer
 * tokens by credential name, deadlines), unary calls and server streams (as Effect `Stream`s), the
 * `grpc.unary` and `grpc.serverStream` node types, and status codes mapped to typed, retry-aware errors.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Flow } from "@jsonflow/core"
 * import { Grpc } from "@jsonflow/connectors"
 *
 * const flow = Flow.make({ id: "order", input: Schema.Struct({ id: Schema.Number }) })
 *   .node("get", Grpc.unary, { client: "orders", method: "GetOrder" }, (p) => p.$input)
 *   .build()
 * const program = Flow.run(flow, { id: 42 }).pipe(
 *   Effect.provide(Grpc.layer({ clients: { orders: { address: "127.0.0.1:50051", protoFiles: ["orders.proto"], service: "shop.Orders" } } }))
 * )
 * ```
 *
 * @module grpc
 */
import { Registry } from "@jsonflow/core"
import { definitions } from "./nodes.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export * from "./client.ts"
export * from "./config.ts"
export * from "./errors.ts"
export * from "./nodes.ts"

/** A registry holding `grpc.unary` and `grpc.serverStream`, to merge into the registry JSON flows use. */
export const registry = Registry.make(...definitions)
