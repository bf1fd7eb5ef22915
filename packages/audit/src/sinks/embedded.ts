/**
 * The embedded store, the default: PostgreSQL compiled to WebAssembly (PGlite) in a data directory
 * (`.jsonflow/audit` unless told otherwise), so a developer needs no server and the queries are those of the
 * PostgreSQL store, unchanged. The database runs on a worker thread of its own, off the thread that runs
 * flows. One process at a time may open a directory (the lock file `<dir>.lock` says which); within a
 * process, opening it twice shares one database. While it is open, that process serves the live query
 * path (`Remote`) on the unix socket `<dir>.sock`, mode 0600, so other processes of the same user read
 * (`jsonflow executions list` while `jsonflow serve` runs) through it.
 *
 * @example
 * ```ts
 * import { Audit, Embedded } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Embedded.sink()] }) // .jsonflow/audit
 * ```
 *
 * @module embedded
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { Worker } from "node:worker_threads"
import { Effect, Layer, type Scope } from "effect"
import * as Remote from "../Remote.ts"
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
  /**
   * When another live process holds the directory, go through its live query socket instead of failing.
   * Default: true for {@link openStore} and {@link layerStore} (queries, replay), false for {@link sink}
   * (a second runner must not quietly depend on the first; `jsonflow replay` sets it to record its run).
   */
  readonly throughOwner?: boolean
  /** Serve the live query path on `<dataDir>.sock` while this process holds the directory (default true). */
  readonly serve?: boolean
}

interface Reply {
  readonly id: number
  readonly ok: boolean
  readonly rows?: ReadonlyArray<Record<string, unknown>>
  readonly error?: { readonly message: string; readonly code?: unknown }
}

// The sources run as .ts in the workspace, the published package as compiled .js.
const threadModule = new URL(
  `../internal/pgliteThread${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`,
  import.meta.url
)

const threadDriver = (dataDir: string): Promise<SqlDriver> =>
  new Promise((resolveDriver, reject) => {
    const worker = new Worker(threadModule, { workerData: { dataDir } })
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

interface Opened {
  readonly driver: SqlDriver
  readonly store: AuditStoreShape
  readonly server: Remote.SocketServer | undefined
}
interface Shared {
  readonly opened: Promise<Opened>
  refs: number
}
const open = new Map<string, Shared>()

const lockPath = (dir: string) => `${dir}.lock`

// Symbolic links resolved: one directory has one lock whatever path names it, and PGlite's file system
// cannot open a data directory through a link.
const canonical = (dataDir: string): string => {
  const dir = resolve(dataDir)
  try {
    return realpathSync(dir)
  } catch {
    try {
      return join(realpathSync(dirname(dir)), basename(dir))
    } catch {
      return dir
    }
  }
}

/** Who holds an embedded store directory, as its lock file says. */
export interface Owner {
  readonly pid: number
  /** The unix socket serving the live query path (see `Remote`), once the owner listens. */
  readonly socket?: string
  /** Why the owner could not serve it. */
  readonly socketError?: string
}

// The lock holds `{"pid":N,"socket":"…","protocol":1}`; older versions wrote the pid alone.
const readLockFile = (path: string): Owner | undefined => {
  let text: string
  try {
    text = readFileSync(path, "utf8").trim()
  } catch {
    return undefined
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) }
  try {
    const parsed = JSON.parse(text) as { readonly pid?: unknown; readonly socket?: unknown; socketError?: unknown }
    if (typeof parsed.pid !== "number") return undefined
    return {
      pid: parsed.pid,
      ...(typeof parsed.socket === "string" ? { socket: parsed.socket } : {}),
      ...(typeof parsed.socketError === "string" ? { socketError: parsed.socketError } : {})
    }
  } catch {
    return undefined
  }
}

const isAlive = (pid: number) => {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * The live process holding an embedded store directory, if any (its lock file names a process that runs).
 *
 * @example
 * ```ts
 * import { Embedded } from "@jsonflow/audit"
 * const owner = Embedded.owner(".jsonflow/audit") // { pid: 4242, socket: "/srv/app/.jsonflow/audit.sock" }
 * ```
 */
export const owner = (dataDir: string = DEFAULT_DIR): Owner | undefined => {
  if (dataDir === ":memory:") return undefined
  const found = readLockFile(lockPath(canonical(dataDir)))
  return found !== undefined && isAlive(found.pid) ? found : undefined
}

const heldError = (dir: string, held: Owner, detail: string) =>
  new Error(
    `the embedded audit store ${dir} is open in process ${held.pid}${detail}; stop it, or point both at PostgreSQL (--audit postgres://...)`
  )

// Unix sockets have a short path limit (108 bytes on Linux, 104 on macOS): a deep directory gets a private
// temporary directory (mode 0700) instead, which the lock file names all the same.
const SOCKET_PATH_MAX = 100
const SOCKET_TEMP_PREFIX = "jsonflow-audit-"

const takeLock = (dir: string) => {
  const path = lockPath(dir)
  mkdirSync(dirname(path), { recursive: true })
  const held = readLockFile(path)
  if (held !== undefined && isAlive(held.pid)) throw heldError(dir, held, "")
  // A dead owner's private socket directory (see socketPathFor) is removed; a socket beside the directory
  // is replaced when this process listens.
  const stale = held?.socket === undefined ? undefined : dirname(held.socket)
  if (stale !== undefined && dirname(stale) === tmpdir() && basename(stale).startsWith(SOCKET_TEMP_PREFIX)) {
    rmSync(stale, { recursive: true, force: true })
  }
  writeFileSync(path, JSON.stringify({ pid: process.pid }))
}

const socketPathFor = (dir: string): { readonly path: string; readonly tempDir?: string } => {
  const beside = `${dir}.sock`
  if (Buffer.byteLength(beside) <= SOCKET_PATH_MAX) return { path: beside }
  const tempDir = mkdtempSync(join(tmpdir(), SOCKET_TEMP_PREFIX))
  return { path: join(tempDir, "audit.sock"), tempDir }
}

// The live query path is a convenience: when it cannot be served the store still opens, and the lock file
// says why, for the reader's error.
const serveLive = async (dir: string, store: AuditStoreShape): Promise<Remote.SocketServer | undefined> => {
  // Windows named pipes have no file mode to keep other users out: no live query path there.
  if (process.platform === "win32") return undefined
  const { path, tempDir } = socketPathFor(dir)
  const dropTemp = () => {
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true })
  }
  let server: Remote.SocketServer
  try {
    server = await Remote.serveSocket(Remote.handler(store, { allowWrite: true }), path)
  } catch (error) {
    dropTemp()
    const socketError = error instanceof Error ? error.message : String(error)
    writeFileSync(lockPath(dir), JSON.stringify({ pid: process.pid, socketError }))
    return undefined
  }
  writeFileSync(lockPath(dir), JSON.stringify({ pid: process.pid, socket: path, protocol: Remote.PROTOCOL }))
  return { socketPath: path, close: () => server.close().finally(dropTemp) }
}

const openLocal = async (dir: string, serve: boolean): Promise<Opened> => {
  const driver = await threadDriver(dir)
  try {
    await Effect.runPromise(migrate(driver))
    const store = make(driver)
    const server = serve && dir !== ":memory:" ? await serveLive(dir, store) : undefined
    return { driver, store, server }
  } catch (error) {
    await driver.close().catch(() => undefined)
    throw error
  }
}

const storeErrorOf = (operation: string) => (error: unknown) =>
  error instanceof StoreError
    ? error
    : new StoreError({ operation, reason: error instanceof Error ? error.message : String(error), retryable: false })

const acquire = (dir: string, serve: boolean): Effect.Effect<AuditStoreShape, StoreError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        let shared = dir === ":memory:" ? undefined : open.get(dir)
        if (shared === undefined) {
          if (dir !== ":memory:") takeLock(dir)
          shared = { opened: openLocal(dir, serve), refs: 0 }
          if (dir !== ":memory:") open.set(dir, shared)
        }
        shared.refs++
        try {
          return { opened: await shared.opened, shared }
        } catch (error) {
          shared.refs--
          open.delete(dir)
          if (dir !== ":memory:") rmSync(lockPath(dir), { force: true })
          throw error
        }
      },
      catch: storeErrorOf("open")
    }),
    ({ opened, shared }) =>
      Effect.promise(async () => {
        if (--shared.refs > 0) return
        open.delete(dir)
        await opened.server?.close().catch(() => undefined)
        await opened.driver.close().catch(() => undefined)
        if (dir !== ":memory:") rmSync(lockPath(dir), { force: true })
      })
  ).pipe(Effect.map(({ opened }) => opened.store))

// Another live process holds the directory: read (and, for a sink, write) through its socket.
const throughOwner = (dir: string, held: Owner): Effect.Effect<AuditStoreShape, StoreError> => {
  if (held.socket === undefined) {
    return Effect.fail(
      storeErrorOf("open")(
        heldError(
          dir,
          held,
          held.socketError === undefined
            ? " (it is starting, or it serves no live query path)"
            : ` and could not serve its live query path (${held.socketError})`
        )
      )
    )
  }
  const options = { socketPath: held.socket, name: "embedded" }
  return Remote.hello(options).pipe(
    Effect.mapError((error) =>
      storeErrorOf("open")(heldError(dir, held, ` and its live query socket does not answer (${error.reason})`))
    ),
    Effect.map(() => Remote.client(options))
  )
}

/**
 * Opens the embedded store (migrated); it closes with the scope. The process that opens a directory first
 * holds it and serves the live query path on the unix socket `<dataDir>.sock` (mode 0600, named in the
 * lock file `<dataDir>.lock`); opening it from another process while that one runs gives a
 * {@link Remote.client} through it (unless `throughOwner` is false), so `jsonflow executions list` works
 * while `jsonflow serve` records.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Embedded } from "@jsonflow/audit"
 * const recent = Effect.scoped(Effect.flatMap(Embedded.openStore(), (store) => store.listExecutions({ limit: 10 })))
 * ```
 */
export const openStore = (options: EmbeddedOptions = {}): Effect.Effect<AuditStoreShape, StoreError, Scope.Scope> =>
  Effect.suspend(() => {
    const dataDir = options.dataDir ?? DEFAULT_DIR
    const dir = dataDir === ":memory:" ? dataDir : canonical(dataDir)
    if (dir !== ":memory:" && !open.has(dir) && options.throughOwner !== false) {
      const held = readLockFile(lockPath(dir))
      if (held !== undefined && isAlive(held.pid)) return throughOwner(dir, held)
    }
    return acquire(dir, options.serve !== false)
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
  Effect.map(openStore({ ...options, throughOwner: options.throughOwner ?? false }), (store) => ({
    ...storeSink(store, options.batchSize ?? 2_000),
    store
  }))

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
