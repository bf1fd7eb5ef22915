// Streams 96 readings (a day, quarter-hourly) from the gRPC meter service into PostgreSQL, in a schema
// created for this run and dropped at the end. Run: node examples/grpc-to-postgres/main.ts
// Database: DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test.
import { randomUUID } from "node:crypto"
import { Flow } from "@jsonflow/core"
import { startMeterServer } from "./meter-server.ts"
import { createSchema, importReadings, pipelineLayer } from "./pipeline.ts"

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `grpc_example_${randomUUID().slice(0, 8)}`

const meters = await startMeterServer()
const db = await createSchema(databaseUrl, schema)
const flow = Flow.toPromise(importReadings, pipelineLayer({ grpcAddress: meters.address, databaseUrl, schema }))
try {
  const result = await flow.run({ meter_id: "m-1", count: 96 })
  console.log(`streamed ${meters.sent().length} readings, ran ${result.output.length} inserts`)
  const rows = await db.rows()
  const total = rows.reduce((sum, row) => sum + row.kwh, 0)
  console.log(
    `table ${schema.replace(/_[0-9a-f]{8}$/, "_<run>")}.readings: ${rows.length} rows, ${total.toFixed(3)} kWh`
  )
  console.log("first:", JSON.stringify(rows[0]))
  console.log("last: ", JSON.stringify(rows.at(-1)))
} finally {
  await flow.dispose()
  await db.drop()
  await meters.close()
}
