/**
 * The flow intermediate representation (IR): a flow as plain, serializable data.
 *
 * The typed builder produces it, the JSON loader produces it, and the compiler consumes it. Nothing here
 * holds behaviour: node `type` names are resolved against a {@link Registry} at compile time. Two IR
 * values are equal when their content is equal ({@link equals}).
 *
 * @module Ir
 */
import { Equal, Schema } from "effect"

/** The reserved node id of the flow's input: edges from `{ node: "$input", port: "out" }` carry the trigger data. */
export const INPUT_NODE = "$input"
/** The port on which a node's typed failure is emitted when an edge leaves it (try/catch). */
export const ERROR_PORT = "error"
/** The default input port of a node. */
export const IN_PORT = "in"
/** The default output port of a node that declares a single output. */
export const OUT_PORT = "out"

/**
 * A node id: letters, digits, `_`, `-` and `.`, starting with a letter or `_` (so `$input` cannot clash).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Ir } from "@jsonflow/core"
 * Schema.is(Ir.NodeId)("fetch-orders") // true
 * ```
 */
export const NodeId = Schema.String.check(
  Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, {
    message: "a node id starts with a letter or _ and holds only letters, digits, _, - and . (at most 128)"
  })
)

/** A port of a node: `{ node, port }`. */
export const PortRef = Schema.Struct({ node: Schema.String, port: Schema.String })
export type PortRef = typeof PortRef.Type

/** A directed edge from an output port to an input port. */
export const Edge = Schema.Struct({ from: PortRef, to: PortRef })
export type Edge = typeof Edge.Type

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * Per-node retry policy. Only failures marked retryable (`retryable: true` on the error) are retried,
 * with exponential backoff `initialDelayMs * factor^(attempt-1)`, capped at `maxDelayMs`, with full jitter
 * unless `jitter` is false.
 */
export const RetryPolicy = Schema.Struct({
  maxAttempts: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
  initialDelayMs: Schema.optionalKey(NonNegativeInt),
  maxDelayMs: Schema.optionalKey(NonNegativeInt),
  factor: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1))),
  jitter: Schema.optionalKey(Schema.Boolean)
})
export type RetryPolicy = typeof RetryPolicy.Type

/** One node of the flow: its type name, its config (plain JSON, validated by the type's config Schema), and policies. */
export const NodeSpec = Schema.Struct({
  type: Schema.String,
  config: Schema.optionalKey(Schema.Unknown),
  retry: Schema.optionalKey(RetryPolicy),
  timeoutMs: Schema.optionalKey(PositiveInt),
  label: Schema.optionalKey(Schema.String)
})
export type NodeSpec = typeof NodeSpec.Type

/** HTTP methods a trigger may listen on; `ANY` matches every method. */
export const HttpMethod = Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"])
export type HttpMethod = typeof HttpMethod.Type

/**
 * An HTTP trigger's idempotency: a request repeating a key within the window gets the first execution's
 * reply and starts nothing. Unset keys take the runner's `idempotency` defaults.
 *
 * @example
 * ```ts
 * const trigger = { type: "http", method: "POST", path: "/orders", idempotency: { inFlight: "reject" } }
 * ```
 */
export const HttpIdempotency = Schema.Struct({
  header: Schema.optionalKey(
    Schema.String.check(
      Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "a header name such as Idempotency-Key" })
    )
  ).annotate({
    description: "Request header carrying the key (default Idempotency-Key)."
  }),
  windowMs: Schema.optionalKey(PositiveInt).annotate({
    description: "How long a finished reply is replayed for the same key (default 24 h)."
  }),
  inFlight: Schema.optionalKey(Schema.Literals(["wait", "reject"])).annotate({
    description: "A repeat while the first is running: wait for its reply (default), or reject with 409."
  }),
  required: Schema.optionalKey(Schema.Boolean).annotate({
    description: "Refuse requests without the header with 400 (default false: they run as usual)."
  })
}).annotate({ identifier: "HttpIdempotency" })
export type HttpIdempotency = typeof HttpIdempotency.Type

/**
 * A queue trigger's deduplication: enqueueing a payload whose key (a JSON Pointer into the input) was
 * enqueued within the window adds no job and answers the first job's execution id.
 *
 * @example
 * ```ts
 * const trigger = { type: "queue", queue: "orders", dedupe: { key: "/orderId" } }
 * ```
 */
export const QueueDedupe = Schema.Struct({
  key: Schema.String.check(
    Schema.isPattern(/^(\/([^~/]|~[01])*)+$/, { message: "a JSON Pointer such as /orderId (starting with /)" })
  ).annotate({
    description: "JSON Pointer of the key in the job's input, e.g. /orderId."
  }),
  windowMs: Schema.optionalKey(PositiveInt).annotate({
    description: "How long an enqueued key keeps its duplicates out (default 24 h)."
  })
}).annotate({ identifier: "QueueDedupe" })
export type QueueDedupe = typeof QueueDedupe.Type

/** What starts an execution. The runner interprets triggers; the engine only sees the trigger's data. */
export const Trigger = Schema.Union([
  Schema.Struct({ type: Schema.Literal("manual") }),
  Schema.Struct({
    type: Schema.Literal("http"),
    method: HttpMethod,
    path: Schema.String,
    idempotency: Schema.optionalKey(HttpIdempotency)
  }),
  Schema.Struct({ type: Schema.Literal("cron"), schedule: Schema.String, timezone: Schema.optionalKey(Schema.String) }),
  Schema.Struct({ type: Schema.Literal("queue"), queue: Schema.String, dedupe: Schema.optionalKey(QueueDedupe) })
])
export type Trigger = typeof Trigger.Type

/** How much of a node's input and output the engine copies into its events. */
export const SnapshotPolicy = Schema.Literals(["none", "metadata", "full"])
export type SnapshotPolicy = typeof SnapshotPolicy.Type

/** Flow-wide limits. Defaults: {@link DEFAULT_SETTINGS}. */
export const Settings = Schema.Struct({
  maxSteps: Schema.optionalKey(PositiveInt),
  timeoutMs: Schema.optionalKey(PositiveInt),
  concurrency: Schema.optionalKey(PositiveInt),
  allowCycles: Schema.optionalKey(Schema.Boolean)
})
export type Settings = typeof Settings.Type

/** Defaults applied when a flow's settings leave a value out. */
export const DEFAULT_SETTINGS = {
  maxSteps: 10_000,
  timeoutMs: 300_000,
  concurrency: 16,
  allowCycles: false
} as const

/** A JSON Schema object (draft 2020-12), kept as data. */
export const JsonSchemaObject = Schema.Record(Schema.String, Schema.Unknown)

/**
 * A graph: nodes by id, edges, and optionally the port whose value is the graph's output.
 * A flow is a graph plus identity, trigger and settings; a for-each body is a bare graph.
 */
export const Graph = Schema.Struct({
  nodes: Schema.Record(Schema.String, NodeSpec),
  edges: Schema.Array(Edge),
  output: Schema.optionalKey(PortRef)
})
export type Graph = typeof Graph.Type

/**
 * A whole flow.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Ir } from "@jsonflow/core"
 * const flow = Schema.decodeUnknownSync(Ir.Flow)({
 *   id: "hello", version: "1", trigger: { type: "manual" },
 *   nodes: { greet: { type: "noop" } },
 *   edges: [{ from: { node: "$input", port: "out" }, to: { node: "greet", port: "in" } }]
 * })
 * ```
 */
export const Flow = Schema.Struct({
  id: Schema.String.check(
    Schema.isPattern(/^[A-Za-z0-9_.-]{1,128}$/, { message: "a flow id holds 1-128 of A-Z a-z 0-9 _ . -" })
  ),
  version: Schema.String,
  description: Schema.optionalKey(Schema.String),
  trigger: Trigger,
  input: Schema.optionalKey(JsonSchemaObject),
  nodes: Schema.Record(Schema.String, NodeSpec),
  edges: Schema.Array(Edge),
  output: Schema.optionalKey(PortRef),
  settings: Schema.optionalKey(Settings)
})
export type Flow = typeof Flow.Type

/**
 * Structural equality of two IR values (flows, graphs, nodes, edges).
 *
 * @example
 * ```ts
 * import { Ir } from "@jsonflow/core"
 * Ir.equals({ type: "noop" }, { type: "noop" }) // true
 * ```
 */
export const equals = (a: unknown, b: unknown): boolean => Equal.equals(a, b)

/**
 * Reads `settings` with defaults applied ({@link DEFAULT_SETTINGS} for what is left out).
 *
 * @example
 * ```ts
 * import { Ir } from "@jsonflow/core"
 * Ir.settingsOf({ settings: { concurrency: 4 } })
 * // { maxSteps: 10000, timeoutMs: 300000, concurrency: 4, allowCycles: false }
 * ```
 */
export const settingsOf = (flow: { readonly settings?: Settings }) => ({ ...DEFAULT_SETTINGS, ...flow.settings })
