/**
 * The queue trigger's dedupe key: the value at a JSON Pointer (RFC 6901) in a job's input, turned into
 * the BullMQ deduplication id of the flow. Producers outside the runner that add jobs to the queue with
 * the BullMQ API pass the same id (`deduplication: { id: dedupeIdOf(flowId, value), ttl }`) to be
 * deduplicated with the runner's own enqueues.
 *
 * @module dedupe
 */
import { createHash } from "node:crypto"
import { DedupeKeyMissing } from "./IdempotencyError.ts"

const unescapeSegment = (segment: string) => segment.replace(/~1/g, "/").replace(/~0/g, "~")

/**
 * The value at `pointer` in `value`, or `undefined` when a segment is missing.
 *
 * @example
 * ```ts
 * valueAt({ order: { id: 7 } }, "/order/id") // 7
 * ```
 */
export const valueAt = (value: unknown, pointer: string): unknown => {
  if (pointer === "") return value
  let current = value
  for (const segment of pointer.slice(1).split("/").map(unescapeSegment)) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined
      current = current[Number(segment)]
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment]
    } else return undefined
  }
  return current
}

/**
 * The BullMQ deduplication id of a key value for a flow: `7` and `"7"` are one key.
 *
 * @example
 * ```ts
 * dedupeIdOf("orders", 7) === dedupeIdOf("orders", "7") // true
 * ```
 */
export const dedupeIdOf = (flowId: string, key: string | number): string =>
  `${flowId}-${createHash("sha256")
    .update(`${flowId}\u0000${String(key)}`)
    .digest("hex")
    .slice(0, 40)}`

/**
 * The deduplication id of an input, or the typed reason it has none.
 *
 * @example
 * ```ts
 * dedupeOf("orders", "/orderId", { orderId: 7 }) // { _tag: "Key", id: "orders-…" }
 * ```
 */
export const dedupeOf = (
  flowId: string,
  pointer: string,
  input: unknown
): { readonly _tag: "Key"; readonly id: string } | { readonly _tag: "Missing"; readonly error: DedupeKeyMissing } => {
  const key = valueAt(input, pointer)
  if (typeof key === "string" && key !== "") return { _tag: "Key", id: dedupeIdOf(flowId, key) }
  if (typeof key === "number" && Number.isFinite(key)) return { _tag: "Key", id: dedupeIdOf(flowId, key) }
  const problem =
    key === undefined
      ? "absent"
      : key === ""
        ? "an empty string"
        : `a ${key === null ? "null" : Array.isArray(key) ? "array" : typeof key}, not a string or finite number`
  return { _tag: "Missing", error: new DedupeKeyMissing({ flowId, pointer, problem }) }
}
