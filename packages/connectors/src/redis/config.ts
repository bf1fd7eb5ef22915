/**
 * Redis connection settings as a Schema, so a runner can read them from a config file and a designer can
 * show them. Three shapes share the common fields: a single node (the default), a cluster (seed nodes) and
 * a sentinel group (sentinels + master name). Secrets are never part of the config: `credential` names a
 * credential whose `password` (and optional `username`) fields are resolved through `Credentials`.
 *
 * @module redis/config
 */
import { Schema } from "effect"

const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
const Millis = Schema.Int.check(Schema.isGreaterThan(0))

/** `host:port` of a cluster seed node or a sentinel. */
export const RedisAddress = Schema.Struct({ host: Schema.String, port: Port })
export type RedisAddress = typeof RedisAddress.Type

/** TLS towards Redis: `true` for the platform defaults, or the options below. */
export const RedisTls = Schema.Union([
  Schema.Boolean,
  Schema.Struct({
    /** Default `true`: reject servers whose certificate does not verify. */
    rejectUnauthorized: Schema.optionalKey(Schema.Boolean),
    /** SNI / certificate host name, when it differs from `host`. */
    servername: Schema.optionalKey(Schema.String)
  })
])
export type RedisTls = typeof RedisTls.Type

const common = {
  /** Credential name; fields `password` and optional `username` (ACL user). */
  credential: Schema.optionalKey(Schema.String),
  /** Prefix added to every key (and stream/list/hash name) this client touches. Default: none. */
  keyPrefix: Schema.optionalKey(Schema.String),
  tls: Schema.optionalKey(RedisTls),
  /** Time to establish the connection when the layer starts. Default 5000 ms. */
  connectTimeoutMs: Schema.optionalKey(Millis),
  /** Time a command may take before it fails with `RedisTimeout`. Default 5000 ms. */
  commandTimeoutMs: Schema.optionalKey(Millis),
  /** `CLIENT SETNAME` of the connections (shows in `CLIENT LIST`). Default `jsonflow`. */
  connectionName: Schema.optionalKey(Schema.String)
}

/** One Redis server (the default mode). */
export const StandaloneConfig = Schema.Struct({
  mode: Schema.optionalKey(Schema.Literal("standalone")),
  /** Default `127.0.0.1`. */
  host: Schema.optionalKey(Schema.String),
  /** Default 6379. */
  port: Schema.optionalKey(Port),
  /** Database index. Default 0. */
  db: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  ...common
})

/** A Redis Cluster, reached through one or more seed nodes. */
export const ClusterConfig = Schema.Struct({
  mode: Schema.Literal("cluster"),
  nodes: Schema.NonEmptyArray(RedisAddress),
  ...common
})

/** A master (or replica) found through Redis Sentinel. */
export const SentinelConfig = Schema.Struct({
  mode: Schema.Literal("sentinel"),
  sentinels: Schema.NonEmptyArray(RedisAddress),
  /** The master group name (`sentinel monitor <name> ...`). */
  name: Schema.String,
  /** Connect to the master (default) or to a replica. */
  role: Schema.optionalKey(Schema.Literals(["master", "replica"])),
  /** Credential of the sentinels themselves, when they require a password. */
  sentinelCredential: Schema.optionalKey(Schema.String),
  db: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  ...common
})

/**
 * Settings of the Redis client.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Redis } from "@jsonflow/connectors"
 * Schema.decodeUnknownSync(Redis.RedisConfig)({ host: "127.0.0.1", port: 6379, credential: "cache" })
 * Schema.decodeUnknownSync(Redis.RedisConfig)({ mode: "cluster", nodes: [{ host: "10.0.0.1", port: 7000 }] })
 * ```
 */
export const RedisConfig = Schema.Union([StandaloneConfig, ClusterConfig, SentinelConfig])
export type RedisConfig = typeof RedisConfig.Type

/** The documented defaults. */
export const defaults = {
  host: "127.0.0.1",
  port: 6379,
  connectTimeoutMs: 5_000,
  commandTimeoutMs: 5_000,
  connectionName: "jsonflow"
} as const
