/**
 * The PostgreSQL config DB: flows as canonical JSON documents with versions. `push` stores a new version
 * and makes it active, `rollback` makes an earlier one active, and every change sends `NOTIFY` on the
 * `<schema>_flows` channel so runners reload at once (LISTEN). Only JSON flows live here: a builder flow is
 * code and ships with the runner image.
 *
 * Tables (created on first use): `<schema>.flow_versions(flow_id, version, document, pushed_at, pushed_by)`
 * and `<schema>.flow_active(flow_id, version, updated_at)`.
 *
 * @module postgres
 */
import postgres from "postgres"

/** One stored version. */
export interface StoredVersion {
  readonly flowId: string
  readonly version: number
  /** The flow's own `version` field. */
  readonly flowVersion: string
  readonly pushedAt: string
  readonly pushedBy: string | null
  readonly active: boolean
}

/** An active flow with its document. */
export interface ActiveFlow {
  readonly flowId: string
  readonly version: number
  readonly document: unknown
}

/** The config DB client. */
export interface ConfigDb {
  readonly ensureSchema: () => Promise<void>
  /** Stores a document as the flow's next version and activates it; resolves to the new version number. */
  readonly push: (flowId: string, document: unknown, pushedBy?: string) => Promise<number>
  /** Flows with their active version. */
  readonly list: () => Promise<ReadonlyArray<StoredVersion>>
  readonly versions: (flowId: string) => Promise<ReadonlyArray<StoredVersion>>
  /** Activates `toVersion`, or the version before the active one; resolves to the now active version. */
  readonly rollback: (flowId: string, toVersion?: number) => Promise<number>
  readonly active: () => Promise<ReadonlyArray<ActiveFlow>>
  /** Calls `onChange` with the flow id on every push or rollback; resolves to an unsubscribe. */
  readonly listen: (onChange: (flowId: string) => void) => Promise<() => Promise<void>>
  readonly close: () => Promise<void>
}

/** A rollback or lookup that cannot be done. */
export class ConfigDbError extends Error {
  override readonly name = "ConfigDbError"
}

interface VersionRow {
  readonly flow_id: string
  readonly version: number
  readonly flow_version: string | null
  readonly pushed_at: Date
  readonly pushed_by: string | null
  readonly active: boolean
}

const toStored = (row: VersionRow): StoredVersion => ({
  flowId: row.flow_id,
  version: row.version,
  flowVersion: row.flow_version ?? "",
  pushedAt: row.pushed_at.toISOString(),
  pushedBy: row.pushed_by,
  active: row.active
})

/**
 * Connects lazily to the config DB.
 *
 * @example
 * ```ts
 * const db = make("postgres://postgres@127.0.0.1:5432/test")
 * await db.ensureSchema()
 * const version = await db.push("orders", JSON.parse(text), "ci")
 * await db.close()
 * ```
 */
export const make = (url: string, schema = "jsonflow"): ConfigDb => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigDbError(`invalid schema name "${schema}"`)
  const sql = postgres(url, { max: 4, onnotice: () => {}, idle_timeout: 30 })
  const channel = `${schema}_flows`
  const versions = sql(`${schema}.flow_versions`)
  const active = sql(`${schema}.flow_active`)
  let ensured: Promise<void> | undefined
  const ensureSchema = () => {
    ensured ??= (async () => {
      await sql.unsafe(`
        create schema if not exists ${schema};
        create table if not exists ${schema}.flow_versions (
          flow_id text not null,
          version integer not null,
          document jsonb not null,
          pushed_at timestamptz not null default now(),
          pushed_by text,
          primary key (flow_id, version)
        );
        create table if not exists ${schema}.flow_active (
          flow_id text primary key,
          version integer not null,
          updated_at timestamptz not null default now()
        );`)
    })().catch((error: unknown) => {
      ensured = undefined
      throw error
    })
    return ensured
  }
  const selectVersions = (flowId: string | undefined) => sql<Array<VersionRow>>`
    select v.flow_id, v.version, v.document->>'version' as flow_version, v.pushed_at, v.pushed_by,
           (a.version = v.version) as active
    from ${versions} v left join ${active} a on a.flow_id = v.flow_id
    where ${flowId === undefined ? sql`a.version = v.version` : sql`v.flow_id = ${flowId}`}
    order by v.flow_id, v.version desc`
  return {
    ensureSchema,
    push: async (flowId, document, pushedBy) => {
      await ensureSchema()
      return sql.begin(async (tx) => {
        // One push at a time per flow: the advisory lock orders concurrent pushes.
        await tx`select pg_advisory_xact_lock(hashtext(${`${schema}:${flowId}`}))`
        const [row] = await tx<Array<{ next: number }>>`
          select coalesce(max(version), 0) + 1 as next from ${versions} where flow_id = ${flowId}`
        const version = row!.next
        await tx`insert into ${versions} (flow_id, version, document, pushed_by)
                 values (${flowId}, ${version}, ${tx.json(document as postgres.JSONValue)}, ${pushedBy ?? null})`
        await tx`insert into ${active} (flow_id, version) values (${flowId}, ${version})
                 on conflict (flow_id) do update set version = excluded.version, updated_at = now()`
        await tx`select pg_notify(${channel}, ${flowId})`
        return version
      })
    },
    list: async () => {
      await ensureSchema()
      return (await selectVersions(undefined)).map(toStored)
    },
    versions: async (flowId) => {
      await ensureSchema()
      return (await selectVersions(flowId)).map(toStored)
    },
    rollback: async (flowId, toVersion) => {
      await ensureSchema()
      return sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext(${`${schema}:${flowId}`}))`
        const [current] = await tx<Array<{ version: number }>>`select version from ${active} where flow_id = ${flowId}`
        if (current === undefined) throw new ConfigDbError(`flow "${flowId}" is not in the config DB`)
        const [target] =
          toVersion === undefined
            ? await tx<Array<{ version: number }>>`
                select version from ${versions} where flow_id = ${flowId} and version < ${current.version}
                order by version desc limit 1`
            : await tx<Array<{ version: number }>>`
                select version from ${versions} where flow_id = ${flowId} and version = ${toVersion}`
        if (target === undefined) {
          throw new ConfigDbError(
            toVersion === undefined
              ? `flow "${flowId}" has no version before ${current.version}`
              : `flow "${flowId}" has no version ${toVersion}`
          )
        }
        await tx`update ${active} set version = ${target.version}, updated_at = now() where flow_id = ${flowId}`
        await tx`select pg_notify(${channel}, ${flowId})`
        return target.version
      })
    },
    active: async () => {
      await ensureSchema()
      const rows = await sql<Array<{ flow_id: string; version: number; document: unknown }>>`
        select v.flow_id, v.version, v.document from ${versions} v
        join ${active} a on a.flow_id = v.flow_id and a.version = v.version order by v.flow_id`
      return rows.map((r) => ({ flowId: r.flow_id, version: r.version, document: r.document }))
    },
    listen: async (onChange) => {
      await ensureSchema()
      const subscription = await sql.listen(channel, (payload) => onChange(payload))
      return () => subscription.unlisten()
    },
    close: () => sql.end({ timeout: 5 })
  }
}
