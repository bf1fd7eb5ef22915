/**
 * gRPC settings as a Schema. A layer serves several named clients, each one channel to one service of a
 * `.proto` contract; node configs refer to a client by name. Secrets (bearer tokens, client keys) come
 * from credentials by name, never from the config.
 *
 * @module grpc/config
 */
import { Schema } from "effect"

const Millis = Schema.Int.check(Schema.isGreaterThan(0))

/** TLS towards the server. */
export const GrpcTls = Schema.Struct({
  /** PEM file of the CA(s) to trust; default: the system's roots. */
  caFile: Schema.optionalKey(Schema.String),
  /**
   * Credential holding PEM texts: `ca` (roots, instead of `caFile`), and `cert` + `key` for mutual TLS.
   */
  credential: Schema.optionalKey(Schema.String),
  /** Expect this name in the server certificate instead of the address' host. */
  serverName: Schema.optionalKey(Schema.String)
})
export type GrpcTls = typeof GrpcTls.Type

/** How `.proto` messages map to JSON-like objects (`@grpc/proto-loader` options). */
export const LoaderOptions = Schema.Struct({
  /** Keep field names as written in the `.proto` (`created_ms`) instead of camelCase. Default true. */
  keepCase: Schema.optionalKey(Schema.Boolean),
  /** 64-bit integers as decimal strings (default, lossless) or numbers. */
  longs: Schema.optionalKey(Schema.Literals(["String", "Number"])),
  /** Enums as their names (default) or numbers. */
  enums: Schema.optionalKey(Schema.Literals(["String", "Number"])),
  /** Fill absent fields with their defaults (default true). */
  defaults: Schema.optionalKey(Schema.Boolean),
  /** Add a virtual field naming the set member of each `oneof` (default true). */
  oneofs: Schema.optionalKey(Schema.Boolean)
})
export type LoaderOptions = typeof LoaderOptions.Type

/** One gRPC service. */
export const GrpcClientConfig = Schema.Struct({
  /** `host:port` (or any gRPC target, e.g. `dns:///orders.internal:443`). */
  address: Schema.String,
  /** The `.proto` file(s) defining the service; loaded once per process (per files + options) and cached. */
  protoFiles: Schema.NonEmptyArray(Schema.String),
  /** Where `import`s in the `.proto` files are looked up. */
  includeDirs: Schema.optionalKey(Schema.Array(Schema.String)),
  /** The fully qualified service name, e.g. `shop.orders.v1.Orders`. */
  service: Schema.String,
  /** `true` or TLS options: TLS; absent or `false`: plaintext (insecure; for a trusted network only). */
  tls: Schema.optionalKey(Schema.Union([Schema.Boolean, GrpcTls])),
  /** Metadata sent with every call (`x-tenant: acme`). */
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** A token from a credential (field `token`) sent as `<header>: <scheme> <token>` with every call. */
  auth: Schema.optionalKey(
    Schema.Struct({
      credential: Schema.String,
      /** Default `authorization`. */
      header: Schema.optionalKey(Schema.String),
      /** Default `Bearer`; `""` sends the bare token. */
      scheme: Schema.optionalKey(Schema.String)
    })
  ),
  /** Deadline of a call. Default 30000 ms. */
  deadlineMs: Schema.optionalKey(Millis),
  loader: Schema.optionalKey(LoaderOptions),
  /** Raw channel options (`grpc.keepalive_time_ms`, `grpc.max_receive_message_length`, ...). */
  channelOptions: Schema.optionalKey(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number])))
})
export type GrpcClientConfig = typeof GrpcClientConfig.Type

/**
 * Settings of the gRPC layer: named clients.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Grpc } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Grpc.GrpcConfig)({
 *   clients: { orders: { address: "orders.internal:443", protoFiles: ["protos/orders.proto"], service: "shop.Orders", tls: true } }
 * })
 * ```
 */
export const GrpcConfig = Schema.Struct({ clients: Schema.Record(Schema.String, GrpcClientConfig) })
export type GrpcConfig = typeof GrpcConfig.Type

/** The documented defaults. */
export const defaults = {
  deadlineMs: 30_000,
  authHeader: "authorization",
  authScheme: "Bearer",
  loader: { keepCase: true, longs: "String", enums: "String", defaults: true, oneofs: true },
  maxItems: 1_000
} as const
