/**
 * Where the audit goes, from one string: `postgres://…` (or `postgresql://…`) is the PostgreSQL store (a
 * `schema` query parameter picks the schema of its tables, e.g. `postgres://host/db?schema=audit`), a
 * path is an embedded store directory, and nothing means `JSONFLOW_AUDIT` or else the default embedded
 * store `.jsonflow/audit` under the working directory. The CLI and the runner read the same setting.
 *
 * @module Config
 */
import { isAbsolute, resolve } from "node:path"
import type { Effect, Layer, Scope } from "effect"
import type { Sink } from "./Sink.ts"
import type { AuditStore, StoreError } from "./Store.ts"
import * as Embedded from "./sinks/embedded.ts"
import * as Postgres from "./sinks/postgres.ts"

/** The store a setting names. */
export type Target =
  | { readonly _tag: "Postgres"; readonly url: string; readonly schema?: string }
  | { readonly _tag: "Embedded"; readonly dataDir: string }

/**
 * Reads a setting.
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/audit"
 * Config.target(undefined, process.cwd()) // { _tag: "Embedded", dataDir: "<cwd>/.jsonflow/audit" }
 * ```
 */
export const target = (
  setting: string | undefined,
  cwd: string,
  env: Readonly<Record<string, string | undefined>> = process.env
): Target => {
  const value = setting ?? env.JSONFLOW_AUDIT
  if (value !== undefined && /^postgres(ql)?:\/\//.test(value)) {
    const url = new URL(value)
    const schema = url.searchParams.get("schema")
    url.searchParams.delete("schema")
    return { _tag: "Postgres", url: url.toString(), ...(schema === null ? {} : { schema }) }
  }
  const dir = value ?? Embedded.DEFAULT_DIR
  return { _tag: "Embedded", dataDir: isAbsolute(dir) ? dir : resolve(cwd, dir) }
}

/**
 * The `AuditStore` layer of a setting (queries, replay). An embedded store held by another live process is
 * read through that process's live query socket (see `Embedded.openStore`).
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/audit"
 * const StoreLive = Config.storeLayer(Config.target("postgres://postgres@127.0.0.1:5432/app", process.cwd()))
 * ```
 */
export const storeLayer = (t: Target): Layer.Layer<AuditStore, StoreError> =>
  t._tag === "Postgres" ? Postgres.layerStore(postgresOptions(t)) : Embedded.layerStore({ dataDir: t.dataDir })

/**
 * The sink of a setting (recording). `throughOwner`: an embedded store held by another live process (a
 * running `jsonflow serve`) is written through its live query socket instead of failing; for short runs
 * such as `jsonflow replay`, not for a second runner.
 *
 * @example
 * ```ts
 * import { Audit, Config } from "@jsonflow/audit"
 * const AuditLive = Audit.layer({ sinks: [Config.sink(Config.target(undefined, process.cwd()))] })
 * ```
 */
export const sink = (
  t: Target,
  options: { readonly throughOwner?: boolean } = {}
): Effect.Effect<Sink, StoreError, Scope.Scope> =>
  t._tag === "Postgres"
    ? Postgres.sink(postgresOptions(t))
    : Embedded.sink({
        dataDir: t.dataDir,
        ...(options.throughOwner === undefined ? {} : { throughOwner: options.throughOwner })
      })

/** The PostgreSQL options of a target. */
export const postgresOptions = (t: Extract<Target, { readonly _tag: "Postgres" }>): Postgres.PostgresOptions => ({
  url: t.url,
  ...(t.schema === undefined ? {} : { schema: t.schema })
})
