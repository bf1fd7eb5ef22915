import { Redis } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const RedisLive = Redis.layer({ host: "cache.internal", port: 6379, credential: "cache", keyPrefix: "shop:" })
// Or { mode: "cluster", nodes: [{ host, port }] } or { mode: "sentinel", sentinels: [{ host, port }], name: "mymaster" }

// Cache an order for a minute, and append an event to a stream.
const remember = Flow.make({
  id: "remember-order",
  input: Schema.Struct({ key: Schema.String, value: Schema.Unknown })
})
  .node("save", Redis.set, { encoding: "json", ttlMs: 60_000 }, (p) => p.$input)
  .map(
    "event",
    (p) => p.save.out,
    { fields: { stream: { value: "order-events" }, "fields.key": "$trigger.key" } },
    Schema.Struct({ stream: Schema.String, fields: Schema.Record(Schema.String, Schema.Unknown) })
  )
  .node("log", Redis.xadd, { maxLen: 100_000 }, (p) => p.event.out)
  .build()

export const result = await Effect.runPromise(
  Flow.run(remember, { key: "order:42", value: { total: 99.5 } }).pipe(Effect.provide(RedisLive))
)
