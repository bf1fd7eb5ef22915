/**
 * The pipeline: a server-streaming gRPC call (`grpc.serverStream`) whose messages a `forEach` inserts into
 * PostgreSQL, four at a time, plus the schema it writes to. The flow names no schema: the SQL layer's
 * `searchPath` decides, so the same flow writes to a per-run schema here and to `public` elsewhere.
 *
 * @module pipeline
 */
import * as Grpc from "@jsonflow/connectors/grpc"
import * as Sql from "@jsonflow/connectors/sql"
import { Flow } from "@jsonflow/core"
import { Layer, Schema } from "effect"
import postgres from "postgres"
import { protoFile, SERVICE } from "./meter-server.ts"

export const Request = Schema.Struct({
  meter_id: Schema.String,
  count: Schema.Int.check(Schema.isGreaterThan(0)),
  fail_after: Schema.optionalKey(Schema.Int)
})

export const importReadings = Flow.make({ id: "import-meter-readings", input: Request })
  .node(
    "readings",
    Grpc.serverStream,
    { client: "meters", method: "StreamReadings", maxItems: 10_000 },
    (p) => p.$input
  )
  .forEach(
    "store",
    (p) => p.readings.out,
    // One insert per message; `on conflict do nothing` makes a retried insert harmless.
    (reading) =>
      reading.andThen(
        "insert",
        Sql.query,
        Sql.sql`insert into readings (meter_id, seq, kwh, taken_ms)
                values (${Sql.input("meter_id")}, ${Sql.input("seq")}, ${Sql.input("kwh")}, ${Sql.input("taken_ms")})
                on conflict (meter_id, seq) do nothing`,
        { retry: { maxAttempts: 3, initialDelayMs: 100 } }
      ),
    { concurrency: 4 }
  )
  .build()

/**
 * The layers the flow needs: the gRPC client `meters` and a PostgreSQL pool whose `search_path` is `schema`.
 *
 * @example
 * ```ts
 * const layer = pipelineLayer({ grpcAddress: "meters.internal:50051", databaseUrl, schema: "metering" })
 * ```
 */
export const pipelineLayer = (options: {
  readonly grpcAddress: string
  readonly databaseUrl: string
  readonly schema: string
}) =>
  Layer.mergeAll(
    Grpc.layer({ clients: { meters: { address: options.grpcAddress, protoFiles: [protoFile], service: SERVICE } } }),
    Sql.layer({ url: options.databaseUrl, searchPath: options.schema, max: 4 })
  )

/**
 * Creates `schema` and its `readings` table; `drop` removes the schema with everything in it.
 *
 * @example
 * ```ts
 * const db = await createSchema(url, "grpc_example_1a2b")
 * await db.drop()
 * ```
 */
export const createSchema = async (databaseUrl: string, schema: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`not a plain schema name: ${schema}`)
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  await sql.unsafe(`create schema ${schema}`)
  await sql.unsafe(`create table ${schema}.readings (
    meter_id text not null,
    seq int not null,
    kwh double precision not null,
    taken_ms bigint not null,
    primary key (meter_id, seq)
  )`)
  return {
    /** The stored readings in stream order, with int64 as text (as gRPC delivers it). */
    rows: () =>
      sql.unsafe(
        `select meter_id, seq, kwh, taken_ms::text as taken_ms from ${schema}.readings order by meter_id, seq`
      ) as Promise<Array<{ meter_id: string; seq: number; kwh: number; taken_ms: string }>>,
    drop: async () => {
      await sql.unsafe(`drop schema if exists ${schema} cascade`)
      await sql.end()
    }
  }
}
