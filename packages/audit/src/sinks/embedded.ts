/**
 * The embedded store, the default: PostgreSQL compiled to WebAssembly (PGlite) in a data directory
 * (`.jsonflow/audit` unless told otherwise), so a developer needs no server and the queries are those of the
 * PostgreSQL store, unchanged. The database runs on a worker thread of its own, off the thread that runs
 * flows. One process at a time may open a directory (a lock file says which); within a process, opening
 * it twice shares one database.
 *
 * @example
 * ```ts
 * import { Audit, Embedded } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Embedded.sink()] }) // .jsonflow/audit
 * ```
 *
 * @module embedded
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { Worker } from "node:worker_threads"
import { Effect, Layer, type Scope } from "effect"
import type { Sink } from "../Sink.ts"
import {
  AuditStore,
  type AuditStoreShape,
  make,
  migrate,
  type SqlDriver,
  type Statement,
  StoreError,
  sink as storeSink
} from "../Store.ts"

/** The default data directory, relative to the working directory. */
export const DEFAULT_DIR = ".jsonflow/audit"

export interface EmbeddedOptions {
  /** Data directory (default `.jsonflow/audit`); `:memory:` keeps nothing on disk. */
  readonly dataDir?: string
  /** Entries per write (default 2,000). */
  readonly batchSize?: number
}

interface Reply {
  readonly id: number
  readonly ok: boolean
  readonly rows?: ReadonlyArray<Record<string, unknown>>
  readonly error?: { readonly message: string; readonly code?: unknown }
}

const threadDriver = (dataDir: string): Promise<SqlDriver> =>
  new Promise((resolveDriver, reject) => {
    const worker = new Worker(new URL("../internal/pgliteThread.ts", import.meta.url), { workerData: { dataDir } })
    const pending = new Map<
      number,
      { ok: (rows: ReadonlyArray<Record<string, unknown>>) => void; ko: (e: Error) => void }
    >()
    let nextId = 1
    let started = false
    // The thread keeps the process alive only while a request is outstanding.
    worker.unref()
    const errorOf = (reply: Reply) =>
      Object.assign(new Error(reply.error?.message ?? "embedded store failed"), { code: reply.error?.code })
    worker.on("message", (reply: Reply) => {
      if (reply.id === 0) {
        started = true
        if (reply.ok) resolveDriver(driver)
        else reject(errorOf(reply))
        return
      }
      const waiter = pending.get(reply.id)
      if (waiter === undefined) return
      pending.delete(reply.id)
      if (pending.size === 0) worker.unref()
      if (reply.ok) waiter.ok(reply.rows ?? [])
      else waiter.ko(errorOf(reply))
    })
    worker.on("error", (error) => {
      if (!started) reject(error)
      for (const waiter of pending.values()) waiter.ko(error)
      pending.clear()
    })
    const call = (message: Record<string, unknown>) =>
      new Promise<ReadonlyArray<Record<string, unknown>>>((ok, ko) => {
        const id = nextId++
        pending.set(id, { ok, ko })
        worker.ref()
        worker.postMessage({ ...message, id })
      })
    const driver: SqlDriver = {
      name: "embedded",
      query: (text, params = []) => call({ kind: "query", text, params }),
      transaction: async (statements: ReadonlyArray<Statement>) => {
        await call({ kind: "tx", statements })
      },
      close: async () => {
        await call({ kind: "close" }).catch(() => undefined)
        await worker.terminate()
      }
    }
  })

interface Shared {
  readonly driver: Promise<SqlDriver>
  refs: number
}
const open = new Map<string, Shared>()

const lockPath = (dir: string) => `${dir}.lock`

const takeLock = (dir: string) => {
  const path = lockPath(dir)
  mkdirSync(dirname(path), { recursive: true })
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, "utf8").trim())
    let alive = false
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0)
        alive = true
      } catch (error) {
        alive = (error as NodeJS.ErrnoException).code === "EPERM"
      }
    }
    if (alive) {
      throw new Error(
        `the embedded audit store ${dir} is open in process ${pid}; stop it, or point both at PostgreSQL (--audit postgres://...)`
      )
    }
  }
  writeFileSync(path, String(process.pid))
}

const acquire = (dataDir: string): Effect.Effect<SqlDriver, StoreError, Scope.Scope> => {
  const dir = dataDir === ":memory:" ? dataDir : resolve(dataDir)
  return Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        let shared = dir === ":memory:" ? undefined : open.get(dir)
        if (shared === undefined) {
          if (dir !== ":memory:") takeLock(dir)
          shared = { driver: threadDriver(dir), refs: 0 }
          if (dir !== ":memory:") open.set(dir, shared)
        }
        shared.refs++
        try {
          const driver = await shared.driver
          return { driver, shared }
        } catch (error) {
          shared.refs--
          open.delete(dir)
          if (dir !== ":memory:") rmSync(lockPath(dir), { force: true })
          throw error
        }
      },
      catch: (error) =>
        new StoreError({
          operation: "open",
          reason: error instanceof Error ? error.message : String(error),
          retryable: false
        })
    }),
    ({ driver, shared }) =>
      Effect.promise(async () => {
        if (--shared.refs > 0) return
        open.delete(dir)
        await driver.close().catch(() => undefined)
        if (dir !== ":memory:") rmSync(lockPath(dir), { force: true })
      })
  ).pipe(Effect.map(({ driver }) => driver))
}

/**
 * Opens the embedded store (migrated); it closes with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Embedded } from "@jsonflow/audit"
 * const recent = Effect.scoped(Effect.flatMap(Embedded.openStore(), (store) => store.listExecutions({ limit: 10 })))
 * ```
 */
export const openStore = (options: EmbeddedOptions = {}): Effect.Effect<AuditStoreShape, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const driver = yield* acquire(options.dataDir ?? DEFAULT_DIR)
    yield* migrate(driver)
    return make(driver)
  })

/**
 * An audit sink writing to the embedded store.
 *
 * @example
 * ```ts
 * import { Audit, Embedded } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Embedded.sink({ dataDir: "/var/lib/flows/audit" })] })
 * ```
 */
export const sink = (options: EmbeddedOptions = {}): Effect.Effect<Sink, StoreError, Scope.Scope> =>
  Effect.map(openStore(options), (store) => ({ ...storeSink(store, options.batchSize ?? 2_000), store }))

/**
 * The {@link AuditStore} service over the embedded store, for queries and replay.
 *
 * @example
 * ```ts
 * import { Embedded } from "@jsonflow/audit"
 * const StoreLive = Embedded.layerStore({ dataDir: ".jsonflow/audit" })
 * ```
 */
export const layerStore = (options: EmbeddedOptions = {}): Layer.Layer<AuditStore, StoreError> =>
  Layer.effect(AuditStore, openStore(options))
