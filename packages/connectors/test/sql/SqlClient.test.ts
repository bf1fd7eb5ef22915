import { assert, it } from "@effect/vitest"
import { Credentials } from "@jsonflow/core"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import * as Sql from "../../src/sql/index.ts"
import * as Services from "../services.ts"
import { type TestDatabase, testDatabase } from "./database.ts"

const pg = await Services.postgres()

const withDb = <A, E>(
  db: TestDatabase,
  options: Partial<Sql.SqlClientOptions>,
  use: (client: Sql.SqlClientShape) => Effect.Effect<A, E>
) =>
  Sql.SqlClient.use(use).pipe(
    Effect.provide(Sql.layer({ url: Services.postgresUrl, applicationName: db.appName, ...options }))
  )

const until = (db: TestDatabase, check: Parameters<TestDatabase["until"]>[0]) => Effect.promise(() => db.until(check))

Services.describeWith(pg, "SqlClient (PostgreSQL)", () => {
  it.live("binds named, positional and template parameters; user data never becomes SQL", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* Effect.promise(() => db.admin.unsafe(`create table ${db.schema}.people (id int primary key, name text)`))
      const evil = "x'); drop table people; --"
      const rows = yield* withDb(db, {}, (client) =>
        Effect.gen(function* () {
          yield* client.query(
            { sql: `insert into ${db.schema}.people values (:id, :name)` },
            { input: { id: 1, name: evil } }
          )
          yield* client.query({ sql: `insert into ${db.schema}.people values ($1, $2)`, params: [2, "Bob"] })
          // The template binds every value; only the (test-controlled) schema name is put into the text.
          const template = Sql.sql`insert into PEOPLE values (${3}, ${Sql.input("name")})`
          assert.deepStrictEqual(template, { sql: "insert into PEOPLE values (:_1, :name)", params: { _1: 3 } })
          yield* client.query(
            { ...template, sql: template.sql.replace("PEOPLE", `${db.schema}.people`) },
            { input: { name: "Cy" } }
          )
          return yield* client.query({ sql: `select id, name from ${db.schema}.people order by id` })
        })
      )
      assert.deepStrictEqual(rows.rows, [
        { id: 1, name: evil },
        { id: 2, name: "Bob" },
        { id: 3, name: "Cy" }
      ])
      assert.strictEqual(rows.count, 3)
      assert.strictEqual(rows.command, "SELECT")
    }).pipe(Effect.scoped)
  )

  it.live("keeps rows and parameters plain JSON data: ISO dates, base64 bytea, objects as JSON", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const result = yield* withDb(db, {}, (client) =>
        client.query({
          sql: [
            "select timestamptz '2026-01-02 03:04:05.678+02' as at, timestamp '2026-01-02 03:04:05' as local,",
            "date '2026-01-02' as day, :bytes::bytea as bytes, :doc::jsonb as doc, :note::text as text, 7::int8 as big"
          ].join(" "),
          params: { doc: { a: [1, "two"] }, note: { a: [1, "two"] }, bytes: Buffer.from([0, 255]).toString("base64") }
        })
      )
      assert.deepStrictEqual(result.rows[0], {
        at: "2026-01-02T01:04:05.678Z",
        local: "2026-01-02T03:04:05",
        day: "2026-01-02",
        bytes: Buffer.from([0, 255]).toString("base64"),
        doc: { a: [1, "two"] },
        text: '{"a":[1,"two"]}',
        big: "7"
      })
    }).pipe(Effect.scoped)
  )

  it.live("server errors carry the SQLSTATE and say whether a retry is safe", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* Effect.promise(() => db.admin.unsafe(`create table ${db.schema}.u (id int primary key)`))
      const raise = (state: string) => ({
        sql: `do $$ begin raise exception 'provoked' using errcode = '${state}'; end $$`
      })
      const [unique, syntax, serialization, deadlock] = yield* withDb(db, {}, (client) =>
        Effect.all([
          Effect.flip(client.query({ sql: `insert into ${db.schema}.u values (1), (1)` })),
          Effect.flip(client.query({ sql: "selec 1" })),
          Effect.flip(client.query(raise("40001"))),
          Effect.flip(client.query(raise("40P01")))
        ])
      )
      assert.strictEqual(unique._tag, "SqlError")
      if (unique._tag === "SqlError") {
        assert.strictEqual(unique.sqlstate, "23505")
        assert.strictEqual(unique.constraint, "u_pkey")
        assert.strictEqual(unique.table, "u")
      }
      assert.isFalse(unique.retryable)
      assert.deepStrictEqual(syntax._tag === "SqlError" ? [syntax.sqlstate, syntax.retryable] : [], ["42601", false])
      assert.deepStrictEqual(
        serialization._tag === "SqlError" ? [serialization.sqlstate, serialization.retryable] : [],
        ["40001", true]
      )
      assert.deepStrictEqual(deadlock._tag === "SqlError" ? [deadlock.sqlstate, deadlock.retryable] : [], [
        "40P01",
        true
      ])
    }).pipe(Effect.scoped)
  )

  it.live("a client deadline cancels the statement on the server; statement_timeout is reported too", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const started = Date.now()
          const error = yield* Effect.flip(client.query({ sql: "select pg_sleep(5)" }, { timeoutMs: 150 }))
          assert.strictEqual(error._tag, "SqlTimeout")
          assert.isTrue(error.retryable)
          if (error._tag === "SqlTimeout") assert.strictEqual(error.source, "client")
          assert.isBelow(Date.now() - started, 2_000)
          assert.isTrue(yield* until(db, (c) => c.every((x) => x.state === "idle")), "no statement left running")
          const again = yield* client.query({ sql: "select 1 as one" })
          assert.deepStrictEqual(again.rows, [{ one: 1 }], "the single pooled connection is usable again")
        })
      )
      const server = yield* withDb(db, { statementTimeoutMs: 100 }, (client) =>
        Effect.flip(client.query({ sql: "select pg_sleep(5)" }))
      )
      assert.deepStrictEqual(server._tag === "SqlTimeout" ? server.source : server._tag, "server")
    }).pipe(Effect.scoped)
  )

  it.live("interrupting the fiber cancels the running statement and frees the connection", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(client.query({ sql: "select pg_sleep(30)" }))
          assert.isTrue(yield* until(db, (c) => c.some((x) => x.state === "active" && x.query.includes("pg_sleep"))))
          yield* Fiber.interrupt(fiber)
          assert.isTrue(yield* until(db, (c) => c.length === 1 && c[0]?.state === "idle"))
          assert.deepStrictEqual((yield* client.query({ sql: "select 2 as two" })).rows, [{ two: 2 }])
        })
      )
      assert.isTrue(yield* until(db, (c) => c.length === 0), "closing the layer closed the pool")
    }).pipe(Effect.scoped)
  )

  it.live("pool exhaustion: a waiting statement times out, leaves the queue, and the pool never grows", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const holder = yield* Effect.forkChild(client.query({ sql: "select pg_sleep(30)" }))
          assert.isTrue(yield* until(db, (c) => c.some((x) => x.state === "active")))
          const waiting = yield* Effect.flip(client.query({ sql: "select 1" }, { timeoutMs: 150 }))
          assert.strictEqual(waiting._tag, "SqlTimeout")
          assert.strictEqual((yield* Effect.promise(() => db.connections())).length, 1)
          yield* Fiber.interrupt(holder)
          assert.deepStrictEqual((yield* client.query({ sql: "select 3 as three" })).rows, [{ three: 3 }])
        })
      )
      assert.isTrue(yield* until(db, (c) => c.length === 0))
    }).pipe(Effect.scoped)
  )

  it.live("a statement that timed out waiting for a connection never runs later (a transaction holds the slot)", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const table = `${db.schema}.audit`
      yield* Effect.promise(() => db.admin.unsafe(`create table ${table} (n int)`))
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const entered = yield* Deferred.make<void>()
          const holder = yield* Effect.forkChild(
            client.transaction((tx) =>
              Effect.andThen(Deferred.succeed(entered, undefined), tx.query({ sql: "select pg_sleep(0.5)" }))
            )
          )
          yield* Deferred.await(entered)
          const waited = yield* Effect.flip(
            client.query({ sql: `insert into ${table} values (1)` }, { timeoutMs: 100 })
          )
          assert.strictEqual(waited._tag, "SqlTimeout")
          assert.isTrue(waited.retryable, "it never left the line, so repeating it is safe")
          yield* Fiber.join(holder)
          yield* client.query({ sql: "select pg_sleep(0.2)" })
          const rows = yield* Effect.promise(() => db.admin.unsafe(`select count(*)::int as c from ${table}`))
          assert.strictEqual(rows[0]?.c, 0, "the timed-out insert was never sent")
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("a write past its client deadline is cancelled on the server: retryable, and nothing was written", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const table = `${db.schema}.slow`
      yield* Effect.promise(() => db.admin.unsafe(`create table ${table} (n int)`))
      const error = yield* withDb(db, {}, (client) =>
        Effect.flip(client.query({ sql: `insert into ${table} select 1 from pg_sleep(5)` }, { timeoutMs: 150 }))
      )
      assert.strictEqual(error._tag, "SqlTimeout")
      assert.isTrue(error.retryable, "the server confirmed the cancel: the insert rolled back")
      const rows = yield* Effect.promise(() => db.admin.unsafe(`select count(*)::int as c from ${table}`))
      assert.strictEqual(rows[0]?.c, 0)
    }).pipe(Effect.scoped)
  )

  it.live("a connection lost mid-statement is a retryable SqlConnectionError; the next statement runs", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const running = yield* Effect.forkChild(Effect.flip(client.query({ sql: "select pg_sleep(10)" })))
          assert.isTrue(yield* until(db, (c) => c.some((x) => x.state === "active" && x.query.includes("pg_sleep"))))
          // A second connection kills the backend, as a failover or an operator would.
          yield* Effect.promise(
            () =>
              db.admin`select pg_terminate_backend(pid) from pg_stat_activity
                       where application_name = ${db.appName} and query like '%pg_sleep%'`
          )
          const error = yield* Fiber.join(running)
          assert.strictEqual(error._tag, "SqlConnectionError")
          assert.isTrue(error.retryable)
          // Either the server's 57P01 message or the closed socket reaches the client first.
          if (error._tag === "SqlConnectionError") assert.include(["57P01", "CONNECTION_CLOSED"], error.code)
          const again = yield* client.query({ sql: "select 4 as four" })
          assert.deepStrictEqual(again.rows, [{ four: 4 }], "the pool opened a new connection")
          assert.strictEqual((yield* Effect.promise(() => db.connections())).length, 1)
        })
      )
      assert.isTrue(yield* until(db, (c) => c.length === 0), "closing the layer closed the pool")
    }).pipe(Effect.scoped)
  )

  it.live("an unreachable server fails the layer with a retryable SqlConnectionError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Sql.SqlClient.use(() => Effect.void).pipe(
          Effect.provide(Sql.layer({ url: "postgres://postgres@127.0.0.1:1/test", connectTimeoutSeconds: 2 }))
        )
      )
      assert.strictEqual(error._tag, "SqlConnectionError")
      assert.isTrue(error.retryable)
      if (error._tag === "SqlConnectionError") assert.strictEqual(error.code, "ECONNREFUSED")
    })
  )

  it.live("the URL comes from a credential by name (the password field overrides the URL's)", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const result = yield* Sql.SqlClient.use((client) => client.query({ sql: "select current_user as who" })).pipe(
        Effect.provide(
          Sql.layer({ credential: "orders-db", applicationName: db.appName }).pipe(
            Layer.provide(Credentials.layerRecord({ "orders-db": { url: Services.postgresUrl, password: "unused" } }))
          )
        )
      )
      assert.deepStrictEqual(result.rows, [{ who: "postgres" }])
      const missing = yield* Effect.flip(
        Sql.SqlClient.use(() => Effect.void).pipe(
          Effect.provide(Sql.layer({ credential: "nope" }).pipe(Layer.provide(Credentials.layerRecord({}))))
        )
      )
      assert.strictEqual(missing._tag, "CredentialNotFound")
    }).pipe(Effect.scoped)
  )

  it.live("transactions commit on success and roll back on failure and on interruption", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const table = `${db.schema}.ledger`
      yield* Effect.promise(() => db.admin.unsafe(`create table ${table} (n int)`))
      const insert = (n: number) => ({ sql: `insert into ${table} values (:n)`, params: { n } })
      const count = () => Effect.promise(() => db.admin.unsafe(`select count(*)::int as c from ${table}`))
      yield* withDb(db, {}, (client) =>
        Effect.gen(function* () {
          yield* client.transaction((tx) => Effect.andThen(tx.query(insert(1)), tx.query(insert(2))))
          assert.strictEqual((yield* count())[0]?.c, 2)
          const failed = yield* Effect.flip(
            client.transaction((tx) => Effect.andThen(tx.query(insert(3)), tx.query({ sql: "select 1/0" })))
          )
          assert.deepStrictEqual(failed._tag === "SqlError" ? failed.sqlstate : failed._tag, "22012")
          assert.strictEqual((yield* count())[0]?.c, 2, "the insert before the failure was rolled back")
          const entered = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(
            client.transaction((tx) =>
              tx
                .query(insert(4))
                .pipe(
                  Effect.andThen(Deferred.succeed(entered, undefined)),
                  Effect.andThen(tx.query({ sql: "select pg_sleep(30)" }))
                )
            )
          )
          yield* Deferred.await(entered)
          yield* Fiber.interrupt(fiber)
          assert.strictEqual((yield* count())[0]?.c, 2, "an interrupted transaction was rolled back")
          assert.isTrue(yield* until(db, (c) => c.every((x) => x.state === "idle")), "nothing is left in a transaction")
        })
      )
    }).pipe(Effect.scoped)
  )

  it.live("concurrent serializable transactions: the loser fails with a retryable 40001", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const table = `${db.schema}.duty`
      yield* Effect.promise(() => db.admin.unsafe(`create table ${table} (doctor text, on_call boolean)`))
      yield* Effect.promise(() => db.admin.unsafe(`insert into ${table} values ('a', true), ('b', true)`))
      const outcomes = yield* withDb(db, {}, (client) =>
        Effect.gen(function* () {
          const bothRead = yield* Deferred.make<void>()
          let reads = 0
          // Classic write skew: each checks that someone else stays on call, then goes off call.
          const goOffCall = (doctor: string) =>
            client.transaction(
              (tx) =>
                Effect.gen(function* () {
                  yield* tx.query({ sql: `select count(*) from ${table} where on_call` })
                  if (++reads === 2) yield* Deferred.succeed(bothRead, undefined)
                  yield* Deferred.await(bothRead)
                  yield* tx.query({
                    sql: `update ${table} set on_call = false where doctor = :d`,
                    params: { d: doctor }
                  })
                }),
              { isolation: "serializable" }
            )
          return yield* Effect.all([Effect.result(goOffCall("a")), Effect.result(goOffCall("b"))], {
            concurrency: 2
          })
        })
      )
      const failures = outcomes.filter((o) => o._tag === "Failure")
      assert.strictEqual(failures.length, 1, "exactly one transaction loses")
      const failure = failures[0]
      if (failure?._tag === "Failure") {
        assert.deepStrictEqual(failure.failure._tag === "SqlError" ? failure.failure.sqlstate : "", "40001")
        assert.isTrue(failure.failure.retryable)
      }
    }).pipe(Effect.scoped)
  )

  it.live("streams a large result in batches through a cursor; stopping early gives the connection back", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* withDb(db, { max: 1 }, (client) =>
        Effect.gen(function* () {
          const statement = { sql: "select n from generate_series(1, :total) as n", params: { total: 2_000 } }
          const batches = yield* Stream.runCollect(client.stream(statement, { batchSize: 300 }))
          assert.deepStrictEqual(
            batches.map((b) => b.length),
            [300, 300, 300, 300, 300, 300, 200]
          )
          assert.deepStrictEqual(batches[6]?.at(-1), { n: 2_000 })
          const firstTwo = yield* Stream.runCollect(Stream.take(client.stream(statement, { batchSize: 100 }), 2))
          assert.strictEqual(firstTwo.length, 2)
          assert.deepStrictEqual((yield* client.query({ sql: "select 4 as four" })).rows, [{ four: 4 }])
          const slow = client.stream(
            { sql: "select n, pg_sleep(0.05) from generate_series(1, 1000) as n" },
            { batchSize: 10 }
          )
          const fiber = yield* Effect.forkChild(Stream.runDrain(slow))
          assert.isTrue(yield* until(db, (c) => c.some((x) => x.state === "active")))
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual((yield* client.query({ sql: "select 5 as five" })).rows, [{ five: 5 }])
          const failed = yield* Effect.flip(Stream.runDrain(client.stream({ sql: "select 1/0" })))
          assert.strictEqual(failed._tag, "SqlError")
        })
      )
      assert.isTrue(yield* until(db, (c) => c.length === 0))
    }).pipe(Effect.scoped)
  )
})
