/**
 * The project's reference use case on the real connectors: rows from a PostgreSQL table, filtered, mapped,
 * and POSTed to an HTTP server that records what it received. Once as a builder flow (the whole batch in
 * one POST: `examples/reference-use-case/flow.ts`, the README's example; and one POST per record through
 * forEach), once as the hand-written JSON flow `examples/reference-use-case/flow.json`.
 */
import { assert, it } from "@effect/vitest"
import { Builtins, Compiler, Flow, Registry } from "@jsonflow/core"
import { Effect, Layer, Schema } from "effect"
import { paidOrdersToCrm as batchFlow } from "../../../examples/reference-use-case/flow.ts"
import { loadJsonFlow, pointedAt } from "../../../examples/reference-use-case/reference.ts"
import * as Http from "../src/http/index.ts"
import * as Sql from "../src/sql/index.ts"
import { json, testServer } from "./http/server.ts"
import * as Services from "./services.ts"
import { type TestDatabase, testDatabase } from "./sql/database.ts"

const pg = await Services.postgres()

const Order = Schema.Struct({
  id: Schema.Number,
  customer: Schema.String,
  amount: Schema.Number,
  status: Schema.String
})

const Contact = Schema.Struct({
  externalId: Schema.Number,
  contact: Schema.Struct({ name: Schema.String }),
  total: Schema.Number,
  currency: Schema.String
})

const paidAndBig = {
  all: [
    { path: "status", op: "eq", value: "paid" },
    { path: "amount", op: "gte", value: 100 }
  ]
} as const
const toContact = { externalId: "id", "contact.name": "customer", total: "amount", currency: { value: "EUR" } }

/** The same, one POST per record (forEach with two in flight). */
const perRecordFlow = (url: string) =>
  Flow.make({ id: "paid-orders-to-crm-each", version: "1.0.0" })
    .andThen(
      "orders",
      Sql.queryOf(Order),
      Sql.select(Order)`select id, customer, amount::float8 as amount, status from orders order by id`
    )
    .filter("paid", (p) => p.orders.out, paidAndBig)
    .map("shape", (p) => p.paid.out, { each: true, fields: toContact }, Schema.Array(Contact))
    .forEach(
      "post",
      (p) => p.shape.out,
      (item) => item.andThen("send", Http.request, { method: "POST", url }),
      {
        concurrency: 2
      }
    )
    .build()

const expected = [
  { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" },
  { externalId: 4, contact: { name: "Di" }, total: 120, currency: "EUR" }
]

const seed = (db: TestDatabase) =>
  Effect.promise(async () => {
    await db.admin.unsafe(
      `create table ${db.schema}.orders (id int primary key, customer text, amount numeric, status text)`
    )
    await db.admin.unsafe(
      `insert into ${db.schema}.orders values (1, 'Ada', 250, 'paid'), (2, 'Bob', 40, 'paid'), (3, 'Cy', 900, 'open'), (4, 'Di', 120, 'paid')`
    )
  })

const connectors = (db: TestDatabase) =>
  Layer.mergeAll(
    Sql.layer({ url: Services.postgresUrl, searchPath: db.schema, applicationName: db.appName }),
    // As the runner runs JSON flows: SSRF guard on; the test server's loopback range is allowed explicitly.
    Http.layer({ ssrfGuard: { enabled: true, allow: ["127.0.0.1/32"] } })
  )

Services.describeWith(pg, "reference use case: SQL -> filter -> map -> HTTP POST (real connectors)", () => {
  it.live("builder flow: the server receives exactly the paid orders of 100 or more, mapped", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* seed(db)
      const server = yield* testServer({ "/contacts": json(201, { accepted: true }) })
      const result = yield* Flow.run(batchFlow(`${server.origin}/contacts`), undefined).pipe(
        Effect.provide(connectors(db))
      )
      assert.strictEqual(server.received.length, 1)
      assert.deepStrictEqual(JSON.parse(server.received[0]!.body), expected)
      assert.strictEqual(server.received[0]?.headers["content-type"], "application/json")
      assert.deepStrictEqual(result.output, { status: 201, headers: result.output.headers, body: { accepted: true } })
      assert.isTrue(yield* Effect.promise(() => db.until((c) => c.length === 0)), "the pool closed with the run")
    }).pipe(Effect.scoped)
  )

  it.live("builder flow with forEach: one POST per record", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* seed(db)
      const server = yield* testServer({ "/contacts": json(201, {}) })
      const result = yield* Flow.run(perRecordFlow(`${server.origin}/contacts`), undefined).pipe(
        Effect.provide(connectors(db))
      )
      const bodies = server.received.map((r) => JSON.parse(r.body) as { externalId: number })
      assert.deepStrictEqual(
        bodies.sort((a, b) => a.externalId - b.externalId),
        expected
      )
      assert.deepStrictEqual(
        result.output.map((r) => r.status),
        [201, 201]
      )
    }).pipe(Effect.scoped)
  )

  it.live("the hand-written JSON flow (flow.json) is the builder's IR and POSTs the same", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* seed(db)
      const server = yield* testServer({ "/contacts": json(201, {}) })
      const registry = Registry.merge(Builtins.registry, Registry.merge(Sql.registry, Http.registry))
      const fromJson = loadJsonFlow(registry)
      assert.deepStrictEqual(fromJson, batchFlow().ir, "flow.json and flow.ts are the same IR")
      const compiled = yield* Compiler.compile(pointedAt(fromJson, `${server.origin}/contacts`), registry)
      const result = yield* compiled.run(undefined).pipe(Effect.provide(connectors(db)))
      assert.strictEqual(server.received.length, 1)
      assert.deepStrictEqual(JSON.parse(server.received[0]!.body), expected)
      assert.strictEqual((result.output as { readonly status: number }).status, 201)
    }).pipe(Effect.scoped)
  )

  it.live("a CRM answering 503 to the POST fails the node with a non-retryable HttpStatusError, sent once", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      yield* seed(db)
      const server = yield* testServer({ "/contacts": (_q, r) => r.writeHead(503).end("maintenance") })
      const error = yield* Effect.flip(
        Flow.run(batchFlow(`${server.origin}/contacts`), undefined).pipe(Effect.provide(connectors(db)))
      )
      assert.strictEqual(error._tag, "NodeFailed")
      if (error._tag === "NodeFailed") {
        assert.strictEqual(error.nodeId, "send")
        assert.strictEqual(error.attempts, 1, "a POST answered 503 is not safe to repeat: the engine does not retry")
        assert.strictEqual(error.error._tag, "HttpStatusError")
        assert.isFalse(error.error.retryable)
      }
      assert.strictEqual(server.received.length, 1)
    }).pipe(Effect.scoped)
  )
})
