/**
 * The worker thread that owns an embedded PGlite database: PGlite runs PostgreSQL compiled to WebAssembly
 * on the thread that calls it, so keeping it here keeps the database's CPU off the thread that runs flows.
 * Messages: `{ id, kind: "query" | "tx" | "close", ... }`; replies `{ id, ok, rows | error }`.
 *
 * @module pgliteThread
 */
import { parentPort, workerData } from "node:worker_threads"
import { PGlite } from "@electric-sql/pglite"
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm"

interface Statement {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

type Request =
  | { readonly id: number; readonly kind: "query"; readonly text: string; readonly params: ReadonlyArray<unknown> }
  | { readonly id: number; readonly kind: "tx"; readonly statements: ReadonlyArray<Statement> }
  | { readonly id: number; readonly kind: "close" }

const port = parentPort!
const { dataDir } = workerData as { readonly dataDir: string }

// PGlite may throw what is not an Error (an Emscripten status object): keep whatever says what happened.
const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null) {
    const message = (error as { readonly message?: unknown }).message
    if (typeof message === "string") return message
    try {
      return JSON.stringify(error)
    } catch {
      return String(error)
    }
  }
  return String(error)
}

const failure = (error: unknown) => ({
  message: describe(error),
  code: (error as { code?: unknown } | null)?.code
})

// pg_trgm serves the error text search (a trigram index; see the migrations).
const ready = PGlite.create(dataDir === ":memory:" ? undefined : dataDir, { extensions: { pg_trgm } })
// One request at a time, in order: PGlite has a single connection.
let chain: Promise<unknown> = ready

port.on("message", (request: Request) => {
  chain = chain.then(async () => {
    const db = await ready
    try {
      if (request.kind === "query") {
        const result = await db.query(request.text, [...request.params])
        port.postMessage({ id: request.id, ok: true, rows: result.rows })
      } else if (request.kind === "tx") {
        await db.transaction(async (tx) => {
          for (const statement of request.statements) await tx.query(statement.text, [...statement.params])
        })
        port.postMessage({ id: request.id, ok: true, rows: [] })
      } else {
        await db.close()
        port.postMessage({ id: request.id, ok: true, rows: [] })
      }
    } catch (error) {
      port.postMessage({ id: request.id, ok: false, error: failure(error) })
    }
  })
})

ready.then(
  () => port.postMessage({ id: 0, ok: true, rows: [] }),
  (error: unknown) => port.postMessage({ id: 0, ok: false, error: failure(error) })
)
