// The reference use case end to end, as a builder flow (flow.ts) and as a JSON flow (flow.json): seed a
// table in a schema of its own, load both flows, check that they are the same IR, run each against the
// real PostgreSQL and the loopback receiver, and drop the schema again.
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"
import { environment, Http, Sql } from "@jsonflow/connectors"
import { Builtins, Compiler, Flow, type Ir, Registry } from "@jsonflow/core"
import { FlowFile, Problem } from "@jsonflow/json-dsl"
import { Effect, Layer } from "effect"
import { paidOrdersToCrm } from "./flow.ts"
import { type Received, startReceiver } from "./receiver.ts"

/** The credential holding the database URL: `JSONFLOW_CREDENTIAL_ORDERS_DB_URL`. */
export const DATABASE_CREDENTIAL = "orders-db"

/** The hand-written JSON flow. */
export const FLOW_FILE = fileURLToPath(new URL("./flow.json", import.meta.url))

/** The seed: two paid orders of 100 or more (1 and 4), one too small (2), one not paid (3). */
const ORDERS = [
  [1, "Ada", 250, "paid"],
  [2, "Bob", 40, "paid"],
  [3, "Cy", 900, "open"],
  [4, "Di", 120, "paid"]
] as const

/** The loopback receiver is an internal address: the SSRF guard lets exactly it through. */
const SSRF_ALLOW = ["127.0.0.1/32"]

/** What a run of both flows showed. */
export interface Report {
  /** The schema the table lived in (dropped again). */
  readonly schema: string
  readonly receiverUrl: string
  /** flow.ts and flow.json give the same IR. */
  readonly sameIr: boolean
  readonly builder: { readonly status: number; readonly received: ReadonlyArray<Received> }
  readonly json: { readonly status: number; readonly received: ReadonlyArray<Received> }
}

/** Loads flow.json against `registry`; any load problem is an error naming its JSON Pointer. */
export const loadJsonFlow = (registry: Registry.Registry<unknown>): Ir.Flow => {
  const opened = FlowFile.open(FLOW_FILE, registry)
  const flow = opened.flows[0]
  if (flow === undefined || Problem.hasErrors(opened.problems)) {
    const problems = opened.problems.map((p) => `${p.path || "/"}: ${p.message}`).join("; ")
    throw new Error(`${FLOW_FILE} does not load: ${problems}`)
  }
  return flow.flow
}

/** The flow with its `send` node pointed at `url` (a deployed flow names its real CRM). */
export const pointedAt = (flow: Ir.Flow, url: string): Ir.Flow => {
  const send = flow.nodes.send
  if (send === undefined) throw new Error("the flow has no `send` node")
  return { ...flow, nodes: { ...flow.nodes, send: { ...send, config: { ...(send.config as object), url } } } }
}

/** Creates the schema, its `orders` table and the seed; the scope's end drops the schema. */
const seeded = (schema: string) => {
  const admin = Sql.layer({ credential: DATABASE_CREDENTIAL, applicationName: "jsonflow-reference-setup" })
  // The schema name is generated here, never user data; the values go in as bound parameters.
  const setup = Sql.SqlClient.use((db) =>
    Effect.gen(function* () {
      yield* db.query({ sql: `create schema ${schema}` })
      yield* db.query({
        sql: `create table ${schema}.orders (id int primary key, customer text not null, amount numeric not null, status text not null)`
      })
      for (const row of ORDERS) {
        yield* db.query({ sql: `insert into ${schema}.orders values ($1, $2, $3, $4)`, params: [...row] })
      }
    })
  )
  return Effect.acquireRelease(setup.pipe(Effect.provide(admin)), () =>
    Sql.SqlClient.use((db) => db.query({ sql: `drop schema if exists ${schema} cascade` })).pipe(
      Effect.provide(admin),
      Effect.orDie
    )
  )
}

/**
 * Runs the reference use case: the builder flow through typed layers, the JSON flow through
 * `environment(...)` (the config a runner would read), both against the same seeded table and receiver.
 */
export const runReference = (): Promise<Report> => {
  const schema = `jf_reference_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const sql = { credential: DATABASE_CREDENTIAL, searchPath: schema, applicationName: "jsonflow-reference" }
  const program = Effect.gen(function* () {
    const receiver = yield* Effect.acquireRelease(
      Effect.promise(() => startReceiver()),
      (r) => Effect.promise(() => r.close())
    )
    yield* seeded(schema)

    // The JSON flow gets the node types and services from one config document.
    const connectors = environment({ sql, http: { ssrfGuard: { allow: SSRF_ALLOW } } })
    const registry = Registry.merge(Builtins.registry, connectors.registry)
    const fromJson = loadJsonFlow(registry)
    const sameIr = isDeepStrictEqual(fromJson, paidOrdersToCrm().ir)

    // The builder flow gets typed layers: `Flow.run` checks at compile time that they cover its nodes.
    const typed = Layer.mergeAll(Sql.layer(sql), Http.layer({ ssrfGuard: { allow: SSRF_ALLOW } }))
    const built = yield* Flow.run(paidOrdersToCrm(receiver.url), undefined).pipe(Effect.provide(typed))
    const builder = { status: built.output.status, received: receiver.take() }

    const compiled = yield* Compiler.compile(pointedAt(fromJson, receiver.url), registry)
    // Compiled against a Registry<unknown>, the flow's services are "unknown": connectors.layer serves them.
    const ran = yield* (compiled as Compiler.CompiledFlow<never>).run(undefined).pipe(Effect.provide(connectors.layer))
    const json = { status: (ran.output as { readonly status: number }).status, received: receiver.take() }

    return { schema, receiverUrl: receiver.url, sameIr, builder, json }
  })
  return Effect.runPromise(Effect.scoped(program))
}
