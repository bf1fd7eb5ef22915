import { assert, it } from "@effect/vitest"
import { Builtins, Compiler, Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import * as Sql from "../../src/sql/index.ts"
import { runOut } from "../context.ts"
import * as Services from "../services.ts"
import { type TestDatabase, testDatabase } from "./database.ts"

const pg = await Services.postgres()

const clientLayer = (db: TestDatabase) => Sql.layer({ url: Services.postgresUrl, applicationName: db.appName })

const setup = (db: TestDatabase, ...statements: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    for (const statement of statements) await db.admin.unsafe(statement.replaceAll("$S", db.schema))
  })

Services.describeWith(pg, "SQL nodes (PostgreSQL)", () => {
  it.live("sql.query binds :name from the input and params, and checks rows against `rows`", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* setup(
        db,
        "create table $S.orders (id int, customer text, amount numeric, status text)",
        "insert into $S.orders values (1, 'Ada', 250, 'paid'), (2, 'Bob', 40, 'paid'), (3, 'Cy', 900, 'open')"
      )
      const config = Schema.decodeUnknownSync(Sql.QueryConfig)({
        sql: `select id, customer, amount::float8 as amount from ${db.schema}.orders where status = :status and amount >= :min order by id`,
        params: { min: 100 },
        rows: Sql.rowsOf(Schema.Struct({ id: Schema.Number, customer: Schema.String, amount: Schema.Number }))
      })
      const rows = yield* runOut(Sql.query, { status: "paid" }, config).pipe(Effect.provide(clientLayer(db)))
      assert.deepStrictEqual(rows, [{ id: 1, customer: "Ada", amount: 250 }])
      const bad = yield* Effect.flip(
        runOut(Sql.query, { status: "paid" }, { ...config, sql: config.sql.replace("amount::float8", "amount") }).pipe(
          Effect.provide(clientLayer(db))
        )
      )
      assert.strictEqual(bad._tag, "SqlRowsInvalid")
      if (bad._tag === "SqlRowsInvalid") assert.strictEqual(bad.path, "/0/amount", "numeric arrives as a string")
      const missing = yield* Effect.flip(runOut(Sql.query, {}, config).pipe(Effect.provide(clientLayer(db))))
      assert.strictEqual(missing._tag, "SqlParameterError")
    }).pipe(Effect.scoped)
  )

  it.live("sql.transaction runs its statements per input element, all or nothing", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* setup(db, "create table $S.accounts (id text primary key, balance int check (balance >= 0))")
      yield* setup(db, "insert into $S.accounts values ('a', 100), ('b', 0)")
      const config = Schema.decodeUnknownSync(Sql.TransactionConfig)({
        each: true,
        statements: [
          { sql: `update ${db.schema}.accounts set balance = balance - :amount where id = :from` },
          { sql: `update ${db.schema}.accounts set balance = balance + :amount where id = :to returning balance` }
        ]
      })
      const transfer = (input: unknown) => runOut(Sql.transaction, input, config).pipe(Effect.provide(clientLayer(db)))
      const results = yield* transfer([
        { from: "a", to: "b", amount: 30 },
        { from: "a", to: "b", amount: 20 }
      ])
      assert.deepStrictEqual(
        results.map((r) => r.count),
        [1, 1, 1, 1]
      )
      assert.deepStrictEqual(results[3]?.rows, [{ balance: 50 }])
      const overdrawn = yield* Effect.flip(
        transfer([
          { from: "b", to: "a", amount: 10 },
          { from: "a", to: "b", amount: 500 }
        ])
      )
      assert.deepStrictEqual(overdrawn._tag === "SqlError" ? overdrawn.sqlstate : overdrawn._tag, "23514")
      const balances = yield* Effect.promise(() =>
        db.admin.unsafe(`select id, balance from ${db.schema}.accounts order by id`)
      )
      assert.deepStrictEqual(
        balances.map((r) => [r.id, r.balance]),
        [
          ["a", 50],
          ["b", 50]
        ],
        "the first transfer of the failed batch was rolled back too"
      )
      const notArray = yield* Effect.flip(transfer({ from: "a" }))
      assert.strictEqual(notArray._tag, "SqlParameterError")
    }).pipe(Effect.scoped)
  )

  it.live("sql.stream feeds cursor batches into its body graph (here: another SQL node), compiled from JSON", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* setup(db, "create table $S.sink (n int primary key)")
      const flow = {
        id: "copy-numbers",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          copy: {
            type: "sql.stream",
            config: {
              sql: "select n from generate_series(1, :total) as n",
              batchSize: 250,
              concurrency: 2,
              body: {
                nodes: {
                  insert: {
                    type: "sql.transaction",
                    config: { each: true, statements: [{ sql: `insert into ${db.schema}.sink values (:n)` }] }
                  }
                },
                edges: [{ from: { node: "$input", port: "out" }, to: { node: "insert", port: "in" } }]
              }
            }
          }
        },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "copy", port: "in" } }],
        output: { node: "copy", port: "out" }
      }
      const registry = Registry.merge(Builtins.registry, Registry.make(Sql.query, Sql.transaction, Sql.stream))
      const compiled = yield* Compiler.compile(flow, registry)
      const result = yield* compiled.run({ total: 1_000 }).pipe(Effect.provide(clientLayer(db)))
      assert.deepStrictEqual(result.output, { rows: 1_000, batches: 4 })
      const copied = yield* Effect.promise(() => db.admin.unsafe(`select count(*)::int as c from ${db.schema}.sink`))
      assert.strictEqual(copied[0]?.c, 1_000)
      assert.isTrue(yield* Effect.promise(() => db.until((c) => c.length === 0)), "no connection left open")
    }).pipe(Effect.scoped)
  )

  it.live("sql.stream whose body runs SQL fails fast when the pool cannot hold the cursor and the body runs", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* setup(db, "create table $S.seen (n int primary key)")
      const flow = (concurrency: number) => ({
        id: "rows-one-by-one",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          each: {
            type: "sql.stream",
            config: {
              sql: "select n from generate_series(1, 5) as n",
              batchSize: 2,
              per: "row",
              concurrency,
              body: {
                nodes: { insert: { type: "sql.query", config: { sql: `insert into ${db.schema}.seen values (:n)` } } },
                edges: [{ from: { node: "$input", port: "out" }, to: { node: "insert", port: "in" } }]
              }
            }
          }
        },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "each", port: "in" } }],
        output: { node: "each", port: "out" }
      })
      const registry = Registry.merge(Builtins.registry, Sql.registry)
      const pool = (max: number) => Sql.layer({ url: Services.postgresUrl, applicationName: db.appName, max })
      const tooSmall = yield* Effect.flip(
        Effect.flatMap(Compiler.compile(flow(2), registry), (c) => c.run(undefined)).pipe(Effect.provide(pool(2)))
      )
      assert.strictEqual(tooSmall._tag, "NodeFailed")
      const cause = tooSmall._tag === "NodeFailed" ? tooSmall.cause : undefined
      assert.deepStrictEqual(
        cause instanceof Sql.SqlPoolTooSmall ? [cause.max, cause.needed, cause.retryable] : cause,
        [2, 3, false]
      )
      const none = yield* Effect.promise(() => db.admin.unsafe(`select count(*)::int as c from ${db.schema}.seen`))
      assert.strictEqual(none[0]?.c, 0, "it failed before the cursor opened")
      const done = yield* Effect.flatMap(Compiler.compile(flow(2), registry), (c) => c.run(undefined)).pipe(
        Effect.provide(pool(3))
      )
      assert.deepStrictEqual(done.output, { rows: 5, batches: 3 })
      const seen = yield* Effect.promise(() => db.admin.unsafe(`select n from ${db.schema}.seen order by n`))
      assert.deepStrictEqual(
        seen.map((r) => r.n),
        [1, 2, 3, 4, 5]
      )
      assert.isTrue(yield* Effect.promise(() => db.until((c) => c.length === 0)), "no connection left open")
    }).pipe(Effect.scoped)
  )

  it.live("several databases: nodes pick one with `database`; an unknown name is a typed error", () =>
    Effect.gen(function* () {
      const main = yield* testDatabase
      const other = yield* testDatabase
      yield* setup(main, "create table $S.who (name text)", "insert into $S.who values ('main')")
      yield* setup(other, "create table $S.who (name text)", "insert into $S.who values ('other')")
      const live = Sql.layerDatabases({
        databases: {
          default: { url: Services.postgresUrl, searchPath: main.schema, applicationName: main.appName },
          other: { url: Services.postgresUrl, searchPath: other.schema, applicationName: other.appName, max: 2 }
        }
      })
      const read = (database?: string) =>
        runOut(Sql.query, {}, { sql: "select name from who", ...(database === undefined ? {} : { database }) })
      const [fromDefault, fromOther, unknown] = yield* Effect.all([
        read(),
        read("other"),
        Effect.flip(read("erp"))
      ]).pipe(Effect.provide(live))
      assert.deepStrictEqual(fromDefault, [{ name: "main" }])
      assert.deepStrictEqual(fromOther, [{ name: "other" }])
      assert.deepStrictEqual(unknown._tag === "SqlUnknownDatabase" ? [unknown.database, unknown.known] : unknown, [
        "erp",
        ["default", "other"]
      ])
      assert.isTrue(yield* Effect.promise(() => other.until((c) => c.length === 0)), "both pools closed")
      assert.isTrue(yield* Effect.promise(() => main.until((c) => c.length === 0)))
    }).pipe(Effect.scoped)
  )
})
