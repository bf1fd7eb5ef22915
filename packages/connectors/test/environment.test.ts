/**
 * Connector settings as data: every layer checks its options against its Schema (a typed error naming the
 * bad field, never a crash), and `environment(config)` builds the node types and services of exactly the
 * configured connectors, with the HTTP SSRF guard on unless the config turns it off.
 */
import { assert, describe, it } from "@effect/vitest"
import { Builtins, Compiler, Registry } from "@jsonflow/core"
import { Effect, Layer } from "effect"
import * as Grpc from "../src/grpc/index.ts"
import * as Http from "../src/http/index.ts"
import { ConnectorConfigError, environment, validate } from "../src/index.ts"
import * as Mail from "../src/mail/index.ts"
import * as Redis from "../src/redis/index.ts"
import * as Soap from "../src/soap/index.ts"
import * as Sql from "../src/sql/index.ts"
import { json, testServer } from "./http/server.ts"
import * as Services from "./services.ts"
import { testDatabase } from "./sql/database.ts"

const pg = await Services.postgres()

/** Builds a layer and returns how it failed. */
const buildFailure = <E>(layer: Layer.Layer<never, E>) => Effect.flip(Effect.scoped(Layer.build(layer)))

/** A flow compiled against a `Registry<unknown>` needs "unknown" services: the layer serves them. */
const provided = (compiled: Compiler.CompiledFlow<unknown>, layer: Layer.Layer<never, unknown>) =>
  (compiled as Compiler.CompiledFlow<never>).run(undefined).pipe(Effect.provide(layer))

const configError = (error: unknown) => {
  assert.instanceOf(error, ConnectorConfigError)
  const e = error as ConnectorConfigError
  return { connector: e.connector, path: e.path }
}

describe("connector settings", () => {
  it.effect("every layer refuses settings that do not match its Schema, naming the field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Layer.Layer<never, unknown>, string, string]> = [
        [Http.layer({ ssrfGuard: { allow: ["10.0.0.0/33"] } }), "http", "/ssrfGuard/allow/0"],
        [Http.layer({ connectTimeoutMs: "10s" } as never), "http", "/connectTimeoutMs"],
        [Sql.layer({ url: Services.postgresUrl, max: 0 }), "sql", "/max"],
        [Sql.layer({}), "sql", ""],
        [
          Sql.layerDatabases({ databases: { erp: { credential: "erp-db", prepare: "no" as never } } }),
          "sql",
          "/databases/erp/prepare"
        ],
        [Soap.layer({ clients: { orders: {} as never } }), "soap", "/clients/orders/wsdl"],
        [
          Grpc.layer({ clients: { o: { address: "x:1", protoFiles: [] as never, service: "s" } } }),
          "grpc",
          "/clients/o/protoFiles/0"
        ],
        [Redis.layer({ port: 70_000 }), "redis", "/port"],
        [Mail.layer({ host: "smtp.example.com", maxConections: 2 } as never), "mail", "/maxConections"]
      ]
      for (const [layer, connector, path] of cases) {
        assert.deepStrictEqual(configError(yield* buildFailure(layer)), { connector, path }, `${connector} ${path}`)
      }
    })
  )

  it.effect("a SQL url holding a password is refused, and the error does not repeat it", () =>
    Effect.gen(function* () {
      const error = yield* buildFailure(Sql.layer({ url: "postgres://app:s3cret-pw@db.internal/orders" }))
      assert.instanceOf(error, ConnectorConfigError)
      assert.include(error.message, "password")
      assert.notInclude(JSON.stringify(error), "s3cret-pw")
      assert.notInclude(error.message, "s3cret-pw")
    })
  )

  it("validate() checks section by section and names unknown sections", () => {
    const checked = validate({ sql: { credential: "orders-db", max: 0 }, http: { ssrfGuard: true }, ftp: {} })
    assert.isTrue(Array.isArray(checked))
    const errors = checked as ReadonlyArray<ConnectorConfigError>
    assert.deepStrictEqual(
      errors.map((e) => [e.connector, e.path]),
      [
        ["sql", "/sql/max"],
        ["connectors", "/ftp"]
      ]
    )
    assert.strictEqual(errors[0]?.message, "sql connector config at /sql/max: expected a value greater than 0, got 0")
    const several = validate({ sql: { databases: { default: { credential: "a" }, erp: { credential: "b" } } } })
    assert.deepStrictEqual(several, { sql: { databases: { default: { credential: "a" }, erp: { credential: "b" } } } })
  })

  it.effect("environment({}) adds no node types and no services; bad settings fail its layer", () =>
    Effect.gen(function* () {
      const empty = environment({})
      assert.strictEqual(empty.registry.definitions.size, 0)
      yield* Effect.scoped(Layer.build(empty.layer))
      const bad = environment({ redis: { port: 0 } })
      assert.deepStrictEqual([...bad.registry.definitions.keys()].sort(), [...Redis.registry.definitions.keys()].sort())
      assert.deepStrictEqual(configError(yield* buildFailure(bad.layer)), { connector: "redis", path: "/redis/port" })
    })
  )
})

const flowJson = (url: string) => ({
  id: "ping",
  version: "1",
  trigger: { type: "manual" },
  nodes: {
    one: { type: "sql.query", config: { sql: "select 1 as n" } },
    post: { type: "http.request", config: { method: "POST", url } }
  },
  edges: [
    { from: { node: "$input", port: "out" }, to: { node: "one", port: "in" } },
    { from: { node: "one", port: "out" }, to: { node: "post", port: "in" } }
  ],
  output: { node: "post", port: "out" }
})

Services.describeWith(pg, "environment(config) on real connectors", () => {
  it.live("serves exactly the configured connectors; the SSRF guard is on unless allowed", () =>
    Effect.gen(function* () {
      const db = yield* testDatabase
      const server = yield* testServer({ "/ping": json(200, { pong: true }) })
      const sql = { url: Services.postgresUrl, applicationName: db.appName }
      const guarded = environment({ sql, http: {} })
      assert.deepStrictEqual([...guarded.registry.definitions.keys()].sort(), [
        "http.request",
        "sql.query",
        "sql.stream",
        "sql.transaction"
      ])
      const registry = Registry.merge(Builtins.registry, guarded.registry)
      const compiled = yield* Compiler.compile(flowJson(`${server.origin}/ping`), registry)
      const denied = (yield* Effect.flip(provided(compiled, guarded.layer))) as {
        readonly _tag: string
        readonly error?: { readonly _tag: string }
      }
      assert.strictEqual(denied.error?._tag ?? denied._tag, "HttpTargetDenied")
      assert.strictEqual(server.received.length, 0, "nothing reached the loopback server")

      const allowed = environment({ sql, http: { ssrfGuard: { allow: ["127.0.0.1/32"] } } })
      const result = yield* provided(compiled, allowed.layer)
      assert.deepStrictEqual((result.output as { body: unknown }).body, { pong: true })
      assert.deepStrictEqual(JSON.parse(server.received[0]!.body), [{ n: 1 }])
      assert.isTrue(yield* Effect.promise(() => db.until((c) => c.length === 0)), "the pool closed with the layer")
    }).pipe(Effect.scoped)
  )

  it.live("several SQL databases by name; nodes choose with `database`", () =>
    Effect.gen(function* () {
      const main = yield* testDatabase
      const erp = yield* testDatabase
      yield* Effect.promise(() => erp.admin.unsafe(`create table ${erp.schema}.invoices (id int)`))
      yield* Effect.promise(() => erp.admin.unsafe(`insert into ${erp.schema}.invoices values (7)`))
      const connectors = environment({
        sql: {
          databases: {
            default: { url: Services.postgresUrl, applicationName: main.appName },
            erp: { url: Services.postgresUrl, applicationName: erp.appName, searchPath: erp.schema }
          }
        }
      })
      const appName = "select current_setting('application_name') as app"
      // Two branches from the input and no declared output: the result holds both nodes' rows by id.
      const flow = {
        id: "two-databases",
        version: "1",
        trigger: { type: "manual" },
        nodes: {
          invoices: { type: "sql.query", config: { database: "erp", sql: `${appName}, id from invoices` } },
          orders: { type: "sql.query", config: { sql: appName } }
        },
        edges: [
          { from: { node: "$input", port: "out" }, to: { node: "invoices", port: "in" } },
          { from: { node: "$input", port: "out" }, to: { node: "orders", port: "in" } }
        ]
      }
      const compiled = yield* Compiler.compile(flow, Registry.merge(Builtins.registry, connectors.registry))
      const result = yield* provided(compiled, connectors.layer)
      assert.deepStrictEqual(result.output, {
        invoices: [{ app: erp.appName, id: 7 }],
        orders: [{ app: main.appName }]
      })
      assert.isTrue(yield* Effect.promise(() => erp.until((c) => c.length === 0)), "both pools closed")
      assert.isTrue(yield* Effect.promise(() => main.until((c) => c.length === 0)))
    }).pipe(Effect.scoped)
  )
})
