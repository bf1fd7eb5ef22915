/**
 * Idempotent HTTP routes: a flow whose HTTP trigger declares `idempotency` runs at most once per key (the
 * `Idempotency-Key` header, or the header it names) within the window, whichever replica a request lands
 * on when they share the Redis store.
 *
 * - The first request with a key claims it (atomically), runs (or enqueues), and its reply is stored.
 * - A repeat after that gets the stored reply (status, headers, body) with `Idempotent-Replayed: true`.
 * - A repeat while the first still runs waits for its reply, up to the flow's time limit, or gets 409
 *   (`inFlight: "reject"`, or the wait ran out).
 * - A repeat whose method, path, query or body differs gets 422 `IdempotencyKeyReused`.
 * - Only replies below 500 are stored: a 5xx (a node failure, a timeout, a shutdown) releases the key, so
 *   the client's retry runs again; a request waiting on it then claims the key and runs.
 * - The store unreachable: 503 (fail closed; running without the guarantee could run twice).
 *
 * @module idempotent
 */
import { createHash, randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect } from "effect"
import type * as Config from "../Config.ts"
import {
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  type IdempotencyStoreError,
  IdempotentReplyNotStored
} from "../idempotency/IdempotencyError.ts"
import type {
  Completed,
  IdempotencyRecord,
  IdempotencyStoreShape,
  Pending,
  ScopedKey
} from "../idempotency/IdempotencyStore.ts"
import type { FlowEntry } from "../internal/flowTable.ts"
import type { Logger } from "../ops/logger.ts"
import { type Rendered, renderJson, sendRendered } from "./reply.ts"

/** The response header marking a replayed reply. */
export const REPLAYED_HEADER = "idempotent-replayed"

/** Keys longer than this are refused (400): a key names a request, it does not carry data. */
export const MAX_KEY_LENGTH = 255

// A claim outlives the execution's time limit by this much: a replica that dies mid-way blocks its key
// for no longer than that.
const CLAIM_MARGIN_MS = 15_000

/** The idempotency settings of one flow: its trigger's over the runner's defaults. */
export interface Settings {
  /** Lower-cased. */
  readonly header: string
  readonly windowMs: number
  readonly inFlight: "wait" | "reject"
  readonly required: boolean
}

/**
 * The settings of an entry, or `undefined` when its trigger declares no idempotency.
 *
 * @example
 * ```ts
 * settingsOf(entry, config.idempotency)?.header // "idempotency-key"
 * ```
 */
export const settingsOf = (entry: FlowEntry, defaults: Config.Resolved["idempotency"]): Settings | undefined => {
  const trigger = entry.ir.trigger
  if (trigger.type !== "http" || trigger.idempotency === undefined) return undefined
  const own = trigger.idempotency
  return {
    header: (own.header ?? defaults.header).toLowerCase(),
    windowMs: own.windowMs ?? defaults.windowMs,
    inFlight: own.inFlight ?? defaults.inFlight,
    required: own.required ?? false
  }
}

/**
 * The key of a request: `undefined` when it sends none, or the problem with it.
 *
 * @example
 * ```ts
 * keyOf(req, settings) // { _tag: "Key", key: "4f0c..." }
 * ```
 */
export const keyOf = (
  req: IncomingMessage,
  settings: Settings
):
  | { readonly _tag: "Key"; readonly key: string }
  | { readonly _tag: "None" }
  | { readonly _tag: "Bad"; problem: string } => {
  const raw = req.headers[settings.header]
  if (raw === undefined) return settings.required ? { _tag: "Bad", problem: "missing" } : { _tag: "None" }
  const key = (Array.isArray(raw) ? raw.join(", ") : raw).trim()
  if (key === "") return { _tag: "Bad", problem: "empty" }
  if (key.length > MAX_KEY_LENGTH) return { _tag: "Bad", problem: `longer than ${MAX_KEY_LENGTH} characters` }
  return { _tag: "Key", key }
}

// JSON with sorted keys: two bodies that differ only in key order are the same request.
const stable = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/**
 * The fingerprint of a request: what must match for a repeated key to be the same request.
 *
 * @example
 * ```ts
 * fingerprintOf("POST", "/orders", {}, { sku: "a" }) === fingerprintOf("POST", "/orders", {}, { sku: "a" }) // true
 * ```
 */
export const fingerprintOf = (method: string, path: string, query: unknown, body: unknown): string =>
  createHash("sha256")
    .update(stable([method, path, query, body ?? null]))
    .digest("base64url")

/** What {@link serve} needs. */
export interface ServeOptions {
  readonly res: ServerResponse
  readonly entry: FlowEntry
  readonly settings: Settings
  readonly key: string
  readonly fingerprint: string
  readonly store: IdempotencyStoreShape
  readonly maxReplyBytes: number
  readonly logger: Logger
  /** Runs (or enqueues) the request under `executionId` and renders what to answer. */
  readonly execute: (executionId: string) => Promise<Rendered>
  /** Counts the answer's status in the metrics. */
  readonly count: (status: number) => void
}

const run = <A>(effect: Effect.Effect<A, IdempotencyStoreError>) => Effect.runPromise(Effect.result(effect))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Answers one request with a key: claims, runs and stores, or replays, waits, or refuses.
 *
 * @example
 * ```ts
 * await serve({ res, entry, settings, key, fingerprint, store, maxReplyBytes, logger, count,
 *   execute: async (executionId) => renderOutcome(await executor.execute(entry, input, { executionId, ... }), entry.id) })
 * ```
 */
export const serve = async (options: ServeOptions): Promise<void> => {
  const { res, entry, settings, store } = options
  const scoped: ScopedKey = { flowId: entry.id, key: options.key }
  const header = settings.header
  const send = (rendered: Rendered, extra?: Readonly<Record<string, string>>) => {
    options.count(rendered.status)
    sendRendered(res, rendered, extra)
  }
  const refuse = (
    status: number,
    error: IdempotencyKeyInFlight | IdempotencyKeyReused | IdempotentReplyNotStored,
    headers: Readonly<Record<string, string>> = {}
  ) => send(renderJson(status, { error: { ...error, message: error.message } }, headers))
  const unavailable = (error: IdempotencyStoreError) => {
    options.logger.log("error", "idempotency store failed", { flowId: entry.id, error: error.message })
    send(
      renderJson(
        503,
        { error: { _tag: "IdempotencyStoreUnavailable", message: error.message, flowId: entry.id } },
        { "retry-after": "1" }
      )
    )
  }
  // A record that holds the key: the same request or not, finished or not.
  const answerHeld = (record: IdempotencyRecord): "answered" | "pending" => {
    if (record.fingerprint !== options.fingerprint) {
      refuse(422, new IdempotencyKeyReused({ flowId: entry.id, header, executionId: record.executionId }))
      return "answered"
    }
    if (record._tag === "Pending") return "pending"
    if (record.reply === undefined) {
      refuse(
        409,
        new IdempotentReplyNotStored({
          flowId: entry.id,
          executionId: record.executionId,
          maxReplyBytes: options.maxReplyBytes
        })
      )
      return "answered"
    }
    const reply = record.reply
    send(
      { status: reply.status, headers: reply.headers, body: Buffer.from(reply.body, "base64") },
      { [REPLAYED_HEADER]: "true" }
    )
    return "answered"
  }
  const inFlight = (record: Pending) =>
    refuse(409, new IdempotencyKeyInFlight({ flowId: entry.id, header, executionId: record.executionId }), {
      "retry-after": "1"
    })

  const deadline = Date.now() + entry.limits.timeoutMs
  for (;;) {
    const executionId = randomUUID()
    const pending: Pending = {
      _tag: "Pending",
      fingerprint: options.fingerprint,
      executionId,
      owner: randomUUID(),
      startedAt: Date.now()
    }
    const claimed = await run(store.claim(scoped, pending, entry.limits.timeoutMs + CLAIM_MARGIN_MS))
    if (claimed._tag === "Failure") return unavailable(claimed.failure)
    if (claimed.success._tag === "Claimed") return runClaimed(options, scoped, pending, send)
    let record = claimed.success.record
    if (answerHeld(record) === "answered") return
    if (settings.inFlight === "reject") return inFlight(record as Pending)
    // Wait: poll until the first finishes (replay), gives the key up (claim it), or the time runs out.
    let delay = 20
    for (;;) {
      if (Date.now() + delay > deadline) return inFlight(record as Pending)
      await sleep(delay)
      delay = Math.min(delay * 2, 250)
      const got = await run(store.get(scoped))
      if (got._tag === "Failure") return unavailable(got.failure)
      if (got.success === undefined) break // released: claim it
      record = got.success
      if (answerHeld(record) === "answered") return
    }
  }
}

const runClaimed = async (
  options: ServeOptions,
  scoped: ScopedKey,
  pending: Pending,
  send: (rendered: Rendered) => void
) => {
  let rendered: Rendered
  try {
    rendered = await options.execute(pending.executionId)
  } catch (error) {
    await run(options.store.release(scoped, pending.owner))
    throw error
  }
  const log = (message: string, error: IdempotencyStoreError) =>
    options.logger.log("error", message, { flowId: scoped.flowId, error: error.message })
  if (rendered.status >= 500) {
    const released = await run(options.store.release(scoped, pending.owner))
    if (released._tag === "Failure") log("idempotency key not released", released.failure)
  } else {
    const kept = rendered.body.byteLength <= options.maxReplyBytes
    const completed: Completed = {
      _tag: "Completed",
      fingerprint: pending.fingerprint,
      executionId: pending.executionId,
      ...(kept
        ? {
            reply: {
              status: rendered.status,
              headers: rendered.headers,
              body: Buffer.from(rendered.body).toString("base64")
            }
          }
        : {}),
      completedAt: Date.now()
    }
    const stored = await run(options.store.complete(scoped, pending.owner, completed, options.settings.windowMs))
    if (stored._tag === "Failure") log("idempotency reply not stored", stored.failure)
  }
  send(rendered)
}
