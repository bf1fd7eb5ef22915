/**
 * `npm run bench:connectors`: what the connector nodes cost over their bare libraries.
 *
 * - HTTP: the `http.request` node (POST a JSON body, decode the JSON reply) against the same request made
 *   with a bare undici `Agent`, both to one keep-alive echo server running in a worker thread.
 * - SQL: the `sql.query` node (`select ... where id = :id`, rows out) against the same statement with bare
 *   postgres.js (`sql.unsafe(text, [id], { prepare: true })`), both against the local PostgreSQL.
 *
 * Same process, same server, same concurrency (CONCURRENCY in flight, connections = CONCURRENCY), in rounds
 * of one sample per variant (rotating order). Reports, as medians over rounds: wall time per operation,
 * and the main thread's busy time per operation (event-loop utilization: the client-side CPU cost, which
 * other load on a shared machine disturbs much less than wall time). Ratios are node / bare taken within
 * each round, then the median (so drift in machine load cancels out; goal: at most
 * 1.2). "floor" is the bare call wrapped in `Effect.promise` and run the way the node is run (what any
 * Effect-based node pays); "flow" runs the node inside a compiled one-node flow (what the engine adds). Needs PostgreSQL at JSONFLOW_BENCH_POSTGRES_URL (default the CI database);
 * without it, the SQL part is skipped.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { isMainThread, parentPort, Worker } from "node:worker_threads"
import { Http, Sql } from "@jsonflow/connectors"
import { Compiler, type Registry } from "@jsonflow/core"
import { Effect, type Layer, ManagedRuntime, Schema } from "effect"
import postgres from "postgres"
import { Agent } from "undici"

const OPS = Number(process.env.BENCH_OPS ?? 1_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 25)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8)
const PG_URL = process.env.JSONFLOW_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"

if (!isMainThread) {
  // The echo server: parse the JSON body, answer it back as JSON.
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = JSON.stringify({ echo: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      response.end(body)
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, "127.0.0.1", () => parentPort!.postMessage((server.address() as AddressInfo).port))
} else {
  await main()
}

async function main() {
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

  interface Sample {
    /** Wall µs per operation. */
    readonly wall: number
    /** Main-thread busy µs per operation. */
    readonly busy: number
  }

  const measure = async (run: () => Promise<unknown>): Promise<Sample> => {
    const elu = performance.eventLoopUtilization()
    const t0 = performance.now()
    await run()
    const wall = performance.now() - t0
    const busy = performance.eventLoopUtilization(elu).active
    return { wall: (wall * 1000) / OPS, busy: (busy * 1000) / OPS }
  }

  /** OPS operations, CONCURRENCY at a time, as plain promises. */
  const timePromises = (op: (i: number) => Promise<unknown>) => {
    let next = 0
    const worker = async () => {
      while (next < OPS) await op(next++)
    }
    return measure(() => Promise.all(Array.from({ length: CONCURRENCY }, worker)))
  }

  /**
   * OPS effects on a runtime holding the connector's layer: CONCURRENCY fibers, each running operations one
   * after the other, the way the bare side runs CONCURRENCY async workers.
   */
  const timeEffects = <R>(
    runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
    op: (i: number) => Effect.Effect<unknown, unknown, R>
  ) => {
    let next = 0
    const worker = Effect.gen(function* () {
      while (next < OPS) yield* op(next++)
    })
    const workers = Array.from({ length: CONCURRENCY }, () => worker)
    return measure(() => runtime.runPromise(Effect.all(workers, { concurrency: "unbounded", discard: true })))
  }

  type Variant = "bare" | "floor" | "node" | "flow"
  const variants: ReadonlyArray<Variant> = ["bare", "floor", "node", "flow"]
  interface Row {
    readonly name: string
    /** Median µs per operation. */
    readonly wall: Record<Variant, number>
    readonly busy: Record<Variant, number>
    /** Median over rounds of (variant / bare) within the same round: robust to drift in machine load. */
    readonly wallRatio: Record<Variant, number>
    readonly busyRatio: Record<Variant, number>
  }

  /** Rounds of one sample per variant (order rotating), after a warm-up; medians of values and of paired ratios. */
  const compare = async (name: string, run: Record<Variant, () => Promise<Sample>>): Promise<Row> => {
    for (const v of variants) await run[v]()
    const rounds: Array<Record<Variant, Sample>> = []
    for (let i = 0; i < SAMPLES; i++) {
      const round: Partial<Record<Variant, Sample>> = {}
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(i + k) % variants.length]!
        round[v] = await run[v]()
      }
      rounds.push(round as Record<Variant, Sample>)
    }
    const per = (f: (r: Record<Variant, Sample>, v: Variant) => number) =>
      Object.fromEntries(variants.map((v) => [v, median(rounds.map((r) => f(r, v)))])) as Record<Variant, number>
    return {
      name,
      wall: per((r, v) => r[v].wall),
      busy: per((r, v) => r[v].busy),
      wallRatio: per((r, v) => r[v].wall / r.bare.wall),
      busyRatio: per((r, v) => r[v].busy / r.bare.busy)
    }
  }

  const oneNodeFlow = <R>(type: string, config: unknown, registry: Registry.Registry<R>) => {
    const outcome = Compiler.compileSync(
      {
        id: `bench-${type}`,
        version: "1",
        trigger: { type: "manual" },
        nodes: { step: { type, config } },
        edges: [{ from: { node: "$input", port: "out" }, to: { node: "step", port: "in" } }],
        output: { node: "step", port: "out" }
      },
      registry
    )
    if (outcome._tag === "Failed") throw outcome.error
    return outcome.flow
  }

  const context = {
    executionId: "bench",
    flowId: "bench",
    flowVersion: "1",
    nodeId: "step",
    nodeType: "bench",
    attempt: 1,
    trigger: undefined,
    variables: {},
    setVariable: () => {},
    outputOf: () => undefined,
    reply: () => true,
    runSubflow: () => Effect.die("no sub-flow")
  }

  const rows: Array<Row> = []

  // --- HTTP -------------------------------------------------------------------------------------------
  const worker = new Worker(new URL(import.meta.url))
  const port = await new Promise<number>((resolve) => worker.once("message", resolve))
  const url = `http://127.0.0.1:${port}/echo`
  const payload = { id: 42, name: "Ada Lovelace", tags: ["a", "b"], amount: 1234.5 }

  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 60_000 })
  const bareCall = async () => {
    const response = await agent.request({
      origin: `http://127.0.0.1:${port}`,
      path: "/echo",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload)
    })
    const body = await response.body.json()
    if (response.statusCode !== 200 || body === null) throw new Error("bad echo")
  }
  const bareHttp = () => timePromises(bareCall)
  const httpConfig = Schema.decodeUnknownSync(Http.HttpRequestConfig)({ method: "POST", url })
  const httpRuntime = ManagedRuntime.make(
    Http.layer({ connectionsPerOrigin: CONCURRENCY, keepAliveTimeoutMs: 60_000 }) as Layer.Layer<Http.HttpClient>
  )
  const floorHttp = () => timeEffects(httpRuntime, () => Effect.promise(bareCall))
  const nodeHttp = () => timeEffects(httpRuntime, () => Http.request.run(payload, httpConfig, context))
  const httpFlow = oneNodeFlow("http.request", { method: "POST", url }, Http.registry)
  const flowHttp = () => timeEffects(httpRuntime, () => httpFlow.run(payload))
  rows.push(await compare("HTTP POST JSON", { bare: bareHttp, floor: floorHttp, node: nodeHttp, flow: flowHttp }))
  await httpRuntime.dispose()
  await agent.close()
  await worker.terminate()

  // --- SQL --------------------------------------------------------------------------------------------
  const schema = `jf_bench_${process.pid}`
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 })
  const available = await admin`select 1`.then(
    () => true,
    (error: Error) => {
      console.log(`SQL part skipped: PostgreSQL at ${PG_URL} is unreachable (${error.message})`)
      return false
    }
  )
  if (available) {
    await admin.unsafe(`create schema ${schema}`)
    await admin.unsafe(`create table ${schema}.items (id int primary key, name text, amount float8)`)
    await admin.unsafe(`insert into ${schema}.items select n, 'item ' || n, n * 1.5 from generate_series(1, 1000) n`)
    const text = `select id, name, amount from ${schema}.items where id = $1`
    // The bare client gets the connector's pool settings, so the comparison isolates what the node adds.
    const bare = postgres(PG_URL, {
      max: CONCURRENCY,
      idle_timeout: Sql.DEFAULTS.idleTimeoutSeconds,
      connect_timeout: Sql.DEFAULTS.connectTimeoutSeconds,
      onnotice: () => {},
      connection: { application_name: "jsonflow-bench", statement_timeout: Sql.DEFAULTS.statementTimeoutMs }
    })
    const bareQuery = async (i: number) => {
      const result = await bare.unsafe(text, [(i % 1000) + 1], { prepare: true })
      if (result.length !== 1) throw new Error("bad row")
    }
    const bareSql = () => timePromises(bareQuery)
    const sqlConfig = Schema.decodeUnknownSync(Sql.QueryConfig)({
      sql: `select id, name, amount from ${schema}.items where id = :id`
    })
    const sqlRuntime = ManagedRuntime.make(
      Sql.layer({ url: PG_URL, max: CONCURRENCY }) as Layer.Layer<Sql.SqlClient, unknown>
    )
    const floorSql = () => timeEffects(sqlRuntime, (i) => Effect.promise(() => bareQuery(i)))
    // What the engine calls for a single-output node: `runValue` (the value, without `{ port, value }`).
    const runQuery = Sql.query.runValue ?? Sql.query.run
    const nodeSql = () => timeEffects(sqlRuntime, (i) => runQuery({ id: (i % 1000) + 1 }, sqlConfig, context))
    const sqlFlow = oneNodeFlow("sql.query", { sql: sqlConfig.sql }, Sql.registry)
    const flowSql = () => timeEffects(sqlRuntime, (i) => sqlFlow.run({ id: (i % 1000) + 1 }))
    rows.push(await compare("SQL select by id", { bare: bareSql, floor: floorSql, node: nodeSql, flow: flowSql }))
    await sqlRuntime.dispose()
    await bare.end()
    await admin.unsafe(`drop schema ${schema} cascade`)
  }
  await admin.end()

  const loads = (await import("node:os")).loadavg().map((l) => l.toFixed(1))
  console.log(
    `node ${process.version}, ${OPS} operations per sample, ${CONCURRENCY} in flight, median of ${SAMPLES} samples, load ${loads.join(" ")}\n`
  )
  const f = (n: number) => n.toFixed(1).padStart(6)
  const r = (n: number) => `(${n.toFixed(2)})`.padStart(6)
  const cells = (m: Record<Variant, number>, q: Record<Variant, number>) =>
    `${f(m.bare)} ${f(m.floor)} ${r(q.floor)} ${f(m.node)} ${r(q.node)} ${f(m.flow)} ${r(q.flow)}`
  console.log("µs per operation (median ratio to bare within a round); floor = the bare call in Effect.promise")
  console.log(
    "                 |                   wall time                   |      main-thread busy time (client CPU)"
  )
  console.log(
    "case             |   bare  floor          node          flow        |   bare  floor          node          flow"
  )
  for (const row of rows) {
    console.log(`${row.name.padEnd(16)} | ${cells(row.wall, row.wallRatio)} | ${cells(row.busy, row.busyRatio)}`)
  }
  const worst = Math.max(...rows.map((row) => row.wallRatio.node))
  console.log(`\ngoal: node/bare wall time <= 1.20 -> ${worst <= 1.2 ? "met" : "NOT met"} (worst ${worst.toFixed(3)})`)
}
