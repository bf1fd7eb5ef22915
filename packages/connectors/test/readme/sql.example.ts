import { Sql } from "@jsonflow/connectors"
import { Flow } from "@jsonflow/core"
import { Effect, Schema, Stream } from "effect"

// The URL comes from credential "orders-db" (JSONFLOW_CREDENTIAL_ORDERS_DB_URL), never from the flow.
const SqlLive = Sql.layer({ credential: "orders-db", max: 10, statementTimeoutMs: 10_000 })

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, amount: Schema.Number })

// Values are bound parameters: `${...}` constants and `Sql.input("min")` (a field of the node input).
const bigOrders = Flow.make({ id: "big-orders", input: Schema.Struct({ min: Schema.Number }) })
  .node(
    "load",
    Sql.queryOf(Order),
    Sql.select(Order)`
      select id, customer, amount::float8 as amount
      from orders where status = ${"paid"} and amount >= ${Sql.input("min")}`,
    (p) => p.$input
  )
  .build()

export const orders = await Effect.runPromise(Flow.run(bigOrders, { min: 100 }).pipe(Effect.provide(SqlLive)))

// In Effect code: a transaction, and a large result streamed through a cursor in batches of 1000.
export const program = Effect.gen(function* () {
  const db = yield* Sql.SqlClient
  yield* db.transaction(
    (tx) =>
      Effect.andThen(
        tx.query(Sql.sql`update accounts set balance = balance - ${50} where id = ${"a"}`),
        tx.query(Sql.sql`update accounts set balance = balance + ${50} where id = ${"b"}`)
      ),
    { isolation: "serializable" }
  )
  yield* Stream.runForEach(db.stream(Sql.sql`select * from events`, { batchSize: 1_000 }), (batch) =>
    Effect.log(`got ${batch.length} events`)
  )
}).pipe(Effect.provide(SqlLive))
