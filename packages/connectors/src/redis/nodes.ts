/**
 * Redis node types, one per command: `redis.get`, `redis.set`, `redis.del`, `redis.hget`, `redis.hset`,
 * `redis.hgetall`, `redis.lpush`, `redis.rpush`, `redis.lrange`, `redis.lpop`, `redis.publish`,
 * `redis.xadd`, `redis.xrange` and `redis.xread`.
 *
 * The node **input** is the request (keys and values, which usually come from the data); the **config** holds
 * the fixed options (encoding, TTL, counts). With `encoding: "json"` values are stored as JSON text and parsed
 * on the way back; with the default `"string"`, strings, numbers and booleans are stored as text and read back
 * as strings.
 *
 * @module redis/nodes
 */
import { Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import { RedisClient, type StreamEntry } from "./client.ts"
import { RedisValueError } from "./errors.ts"

/** How node values map to Redis strings. */
export const Encoding = Schema.Literals(["string", "json"])
export type Encoding = typeof Encoding.Type

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Key = Schema.String.check(Schema.isMinLength(1))
const EncodingConfig = Schema.Struct({ encoding: Schema.optionalKey(Encoding) })
const Found = Schema.Struct({ found: Schema.Boolean, value: Schema.Unknown })
const Fields = Schema.Record(Schema.String, Schema.Unknown)

const encode = (
  value: unknown,
  encoding: Encoding | undefined,
  operation: string,
  key: string
): Effect.Effect<string, RedisValueError> => {
  if (encoding === "json") {
    const text = value === undefined ? undefined : JSON.stringify(value)
    return text === undefined
      ? Effect.fail(new RedisValueError({ operation, key, reason: "the value has no JSON form", retryable: false }))
      : Effect.succeed(text)
  }
  if (typeof value === "string") return Effect.succeed(value)
  if (typeof value === "number" || typeof value === "boolean") return Effect.succeed(String(value))
  return Effect.fail(
    new RedisValueError({
      operation,
      key,
      reason: `with encoding "string" the value must be a string, number or boolean (got ${value === null ? "null" : typeof value}); use encoding "json" for structured values`,
      retryable: false
    })
  )
}

const decode = (
  raw: string,
  encoding: Encoding | undefined,
  operation: string,
  key: string
): Effect.Effect<unknown, RedisValueError> =>
  encoding === "json"
    ? Effect.try({
        try: (): unknown => JSON.parse(raw),
        catch: () =>
          new RedisValueError({ operation, key, reason: "the stored value is not valid JSON", retryable: false })
      })
    : Effect.succeed(raw)

const encodeFields = (
  fields: Readonly<Record<string, unknown>>,
  encoding: Encoding | undefined,
  operation: string,
  key: string
) =>
  Effect.map(
    Effect.forEach(Object.entries(fields), ([name, value]) =>
      Effect.map(encode(value, encoding, operation, `${key}.${name}`), (text) => [name, text] as const)
    ),
    (pairs) => Object.fromEntries(pairs)
  )

const decodeFields = (
  fields: Readonly<Record<string, string>>,
  encoding: Encoding | undefined,
  operation: string,
  key: string
) =>
  Effect.map(
    Effect.forEach(Object.entries(fields), ([name, raw]) =>
      Effect.map(decode(raw, encoding, operation, `${key}.${name}`), (value) => [name, value] as const)
    ),
    (pairs): Record<string, unknown> => Object.fromEntries(pairs)
  )

const decodeEntries = (
  entries: ReadonlyArray<StreamEntry>,
  encoding: Encoding | undefined,
  operation: string,
  stream: string
) =>
  Effect.forEach(entries, (entry) =>
    Effect.map(decodeFields(entry.fields, encoding, operation, `${stream}/${entry.id}`), (fields) => ({
      id: entry.id,
      fields
    }))
  )

const StreamEntrySchema = Schema.Struct({ id: Schema.String, fields: Fields })

/**
 * `redis.get`: reads a string key.
 *
 * @example
 * ```json
 * { "type": "redis.get", "config": { "encoding": "json" } }
 * ```
 */
export const get = Node.define({
  type: "redis.get",
  description: "Reads a key (GET). Emits { found, value }; value is null when the key is absent.",
  config: EncodingConfig,
  input: Schema.Struct({ key: Key }),
  output: Found,
  run: ({ key }, config) =>
    Effect.gen(function* () {
      const raw = yield* (yield* RedisClient).get(key)
      if (raw === null) return { found: false, value: null }
      return { found: true, value: yield* decode(raw, config.encoding, "get", key) }
    })
})

/**
 * `redis.set`: writes a key, optionally with a TTL and an NX/XX condition.
 *
 * @example
 * ```json
 * { "type": "redis.set", "config": { "encoding": "json", "ttlMs": 60000 } }
 * ```
 */
export const set = Node.define({
  type: "redis.set",
  description: "Writes a key (SET) with an optional TTL (config ttlMs, or input ttlMs) and NX/XX condition.",
  config: Schema.Struct({
    encoding: Schema.optionalKey(Encoding),
    ttlMs: Schema.optionalKey(PositiveInt),
    condition: Schema.optionalKey(Schema.Literals(["NX", "XX"]))
  }),
  input: Schema.Struct({ key: Key, value: Schema.Unknown, ttlMs: Schema.optionalKey(PositiveInt) }),
  output: Schema.Struct({ written: Schema.Boolean }),
  run: (input, config) =>
    Effect.gen(function* () {
      const value = yield* encode(input.value, config.encoding, "set", input.key)
      const ttlMs = input.ttlMs ?? config.ttlMs
      const written = yield* (yield* RedisClient).set(input.key, value, {
        ...(ttlMs === undefined ? {} : { ttlMs }),
        ...(config.condition === undefined ? {} : { condition: config.condition })
      })
      return { written }
    })
})

/**
 * `redis.del`: deletes keys.
 *
 * @example
 * ```json
 * { "type": "redis.del" }
 * ```
 */
export const del = Node.define({
  type: "redis.del",
  description: "Deletes keys (DEL). Emits { deleted }.",
  input: Schema.Struct({ keys: Schema.Array(Key) }),
  output: Schema.Struct({ deleted: Schema.Number }),
  run: ({ keys }) =>
    Effect.map(
      RedisClient.use((redis) => redis.del(keys)),
      (deleted) => ({ deleted })
    )
})

/**
 * `redis.hget`: reads one field of a hash.
 *
 * @example
 * ```json
 * { "type": "redis.hget", "config": { "encoding": "string" } }
 * ```
 */
export const hget = Node.define({
  type: "redis.hget",
  description: "Reads one hash field (HGET). Emits { found, value }.",
  config: EncodingConfig,
  input: Schema.Struct({ key: Key, field: Schema.String }),
  output: Found,
  run: ({ key, field }, config) =>
    Effect.gen(function* () {
      const raw = yield* (yield* RedisClient).hget(key, field)
      if (raw === null) return { found: false, value: null }
      return { found: true, value: yield* decode(raw, config.encoding, "hget", `${key}.${field}`) }
    })
})

/**
 * `redis.hset`: writes fields of a hash.
 *
 * @example
 * ```json
 * { "type": "redis.hset", "config": { "encoding": "json" } }
 * ```
 */
export const hset = Node.define({
  type: "redis.hset",
  description: "Writes hash fields (HSET). Emits { added }: the number of new fields.",
  config: EncodingConfig,
  input: Schema.Struct({ key: Key, fields: Fields }),
  output: Schema.Struct({ added: Schema.Number }),
  run: ({ key, fields }, config) =>
    Effect.gen(function* () {
      const encoded = yield* encodeFields(fields, config.encoding, "hset", key)
      return { added: yield* (yield* RedisClient).hset(key, encoded) }
    })
})

/**
 * `redis.hgetall`: reads a whole hash (an empty object when absent).
 *
 * @example
 * ```json
 * { "type": "redis.hgetall" }
 * ```
 */
export const hgetall = Node.define({
  type: "redis.hgetall",
  description: "Reads every field of a hash (HGETALL); {} when the key is absent.",
  config: EncodingConfig,
  input: Schema.Struct({ key: Key }),
  output: Fields,
  run: ({ key }, config) =>
    Effect.flatMap(
      RedisClient.use((redis) => redis.hgetall(key)),
      (fields) => decodeFields(fields, config.encoding, "hgetall", key)
    )
})

const push = <const Type extends string>(type: Type, side: "lpush" | "rpush") =>
  Node.define({
    type,
    description: `Adds values to the ${side === "lpush" ? "head" : "tail"} of a list (${side.toUpperCase()}). Emits { length }.`,
    config: EncodingConfig,
    input: Schema.Struct({ key: Key, values: Schema.Array(Schema.Unknown).check(Schema.isMinLength(1)) }),
    output: Schema.Struct({ length: Schema.Number }),
    run: ({ key, values }, config) =>
      Effect.gen(function* () {
        const encoded = yield* Effect.forEach(values, (value) => encode(value, config.encoding, side, key))
        const redis = yield* RedisClient
        return { length: yield* redis[side](key, encoded) }
      })
  })

/**
 * `redis.lpush`: adds values to the head of a list.
 *
 * @example
 * ```json
 * { "type": "redis.lpush", "config": { "encoding": "json" } }
 * ```
 */
export const lpush = push("redis.lpush", "lpush")

/**
 * `redis.rpush`: adds values to the tail of a list (a FIFO queue with `redis.lpop`).
 *
 * @example
 * ```json
 * { "type": "redis.rpush", "config": { "encoding": "json" } }
 * ```
 */
export const rpush = push("redis.rpush", "rpush")

/**
 * `redis.lrange`: reads a range of a list (default: all of it).
 *
 * @example
 * ```json
 * { "type": "redis.lrange", "config": { "encoding": "json" } }
 * ```
 */
export const lrange = Node.define({
  type: "redis.lrange",
  description: "Reads list elements start..stop (LRANGE; default 0..-1, the whole list).",
  config: EncodingConfig,
  input: Schema.Struct({ key: Key, start: Schema.optionalKey(Schema.Int), stop: Schema.optionalKey(Schema.Int) }),
  output: Schema.Array(Schema.Unknown),
  run: ({ key, start, stop }, config) =>
    Effect.flatMap(
      RedisClient.use((redis) => redis.lrange(key, start ?? 0, stop ?? -1)),
      (values) => Effect.forEach(values, (raw) => decode(raw, config.encoding, "lrange", key))
    )
})

/**
 * `redis.lpop`: removes and returns up to `count` values from the head of a list.
 *
 * @example
 * ```json
 * { "type": "redis.lpop", "config": { "encoding": "json", "count": 10 } }
 * ```
 */
export const lpop = Node.define({
  type: "redis.lpop",
  description: "Removes and returns up to count (default 1) values from the head of a list (LPOP); [] when empty.",
  config: Schema.Struct({ encoding: Schema.optionalKey(Encoding), count: Schema.optionalKey(PositiveInt) }),
  input: Schema.Struct({ key: Key, count: Schema.optionalKey(PositiveInt) }),
  output: Schema.Array(Schema.Unknown),
  run: (input, config) =>
    Effect.flatMap(
      RedisClient.use((redis) => redis.lpop(input.key, input.count ?? config.count ?? 1)),
      (values) => Effect.forEach(values, (raw) => decode(raw, config.encoding, "lpop", input.key))
    )
})

/**
 * `redis.publish`: publishes a message on a channel.
 *
 * @example
 * ```json
 * { "type": "redis.publish", "config": { "encoding": "json" } }
 * ```
 */
export const publish = Node.define({
  type: "redis.publish",
  description: "Publishes a message on a channel (PUBLISH). Emits { receivers }.",
  config: EncodingConfig,
  input: Schema.Struct({ channel: Key, message: Schema.Unknown }),
  output: Schema.Struct({ receivers: Schema.Number }),
  run: ({ channel, message }, config) =>
    Effect.gen(function* () {
      const text = yield* encode(message, config.encoding, "publish", channel)
      return { receivers: yield* (yield* RedisClient).publish(channel, text) }
    })
})

/**
 * `redis.xadd`: appends an entry to a stream.
 *
 * @example
 * ```json
 * { "type": "redis.xadd", "config": { "encoding": "json", "maxLen": 100000 } }
 * ```
 */
export const xadd = Node.define({
  type: "redis.xadd",
  description: "Appends an entry to a stream (XADD), optionally capped at about maxLen entries. Emits { id }.",
  config: Schema.Struct({
    encoding: Schema.optionalKey(Encoding),
    maxLen: Schema.optionalKey(PositiveInt),
    /** Default true: `MAXLEN ~` (cheap, approximate trimming). */
    approximate: Schema.optionalKey(Schema.Boolean)
  }),
  input: Schema.Struct({ stream: Key, fields: Fields, id: Schema.optionalKey(Schema.String) }),
  output: Schema.Struct({ id: Schema.String }),
  run: (input, config) =>
    Effect.gen(function* () {
      const fields = yield* encodeFields(input.fields, config.encoding, "xadd", input.stream)
      const id = yield* (yield* RedisClient).xadd(input.stream, fields, {
        ...(input.id === undefined ? {} : { id: input.id }),
        ...(config.maxLen === undefined ? {} : { maxLen: config.maxLen }),
        ...(config.approximate === undefined ? {} : { approximate: config.approximate })
      })
      return { id }
    })
})

/**
 * `redis.xrange`: reads stream entries between two ids.
 *
 * @example
 * ```json
 * { "type": "redis.xrange", "config": { "encoding": "json", "count": 100 } }
 * ```
 */
export const xrange = Node.define({
  type: "redis.xrange",
  description: "Reads stream entries between start and end ids (XRANGE; default - to +), at most count.",
  config: Schema.Struct({ encoding: Schema.optionalKey(Encoding), count: Schema.optionalKey(PositiveInt) }),
  input: Schema.Struct({
    stream: Key,
    start: Schema.optionalKey(Schema.String),
    end: Schema.optionalKey(Schema.String)
  }),
  output: Schema.Array(StreamEntrySchema),
  run: (input, config) =>
    Effect.flatMap(
      RedisClient.use((redis) =>
        redis.xrange(input.stream, {
          ...(input.start === undefined ? {} : { start: input.start }),
          ...(input.end === undefined ? {} : { end: input.end }),
          ...(config.count === undefined ? {} : { count: config.count })
        })
      ),
      (entries) => decodeEntries(entries, config.encoding, "xrange", input.stream)
    )
})

/**
 * `redis.xread`: reads entries after `lastId`, optionally blocking up to `blockMs` for new ones. Emits the
 * entries and the id to pass as `lastId` next time (unchanged when nothing arrived).
 *
 * @example
 * ```json
 * { "type": "redis.xread", "config": { "encoding": "json", "count": 100, "blockMs": 5000 } }
 * ```
 */
export const xread = Node.define({
  type: "redis.xread",
  description: "Reads stream entries after lastId (XREAD), blocking up to blockMs when set. Emits { entries, lastId }.",
  config: Schema.Struct({
    encoding: Schema.optionalKey(Encoding),
    count: Schema.optionalKey(PositiveInt),
    blockMs: Schema.optionalKey(NonNegativeInt)
  }),
  input: Schema.Struct({ stream: Key, lastId: Schema.String }),
  output: Schema.Struct({ entries: Schema.Array(StreamEntrySchema), lastId: Schema.String }),
  run: (input, config) =>
    Effect.gen(function* () {
      const replies = yield* (yield* RedisClient).xread(
        { [input.stream]: input.lastId },
        {
          ...(config.count === undefined ? {} : { count: config.count }),
          ...(config.blockMs === undefined ? {} : { blockMs: config.blockMs })
        }
      )
      const raw = replies.find((r) => r.stream === input.stream)?.entries ?? []
      const entries = yield* decodeEntries(raw, config.encoding, "xread", input.stream)
      return { entries, lastId: entries.at(-1)?.id ?? input.lastId }
    })
})

/** Every Redis node definition (for a registry). */
export const definitions = [
  get,
  set,
  del,
  hget,
  hset,
  hgetall,
  lpush,
  rpush,
  lrange,
  lpop,
  publish,
  xadd,
  xrange,
  xread
] as const
