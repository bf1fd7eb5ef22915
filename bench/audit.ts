/**
 * `npm run bench:audit`: what recording every execution costs. One flow (an order: decode, price 20 lines,
 * route on the total, approve or queue, reply) runs at saturation with audit off, then recorded to the
 * embedded store, to PostgreSQL and to the Redis stream bus (full snapshots, redaction on: the defaults).
 * Prints throughput, p99 latency and the ratio to audit off; then the PostgreSQL writer's sustained rate
 * (events/s through the buffer into the table) and the audit worker's (Redis stream to PostgreSQL).
 *
 * Saturation: `CONCURRENCY` executions in flight, a turn of the event loop between rounds, as a server
 * has between requests. Audit off runs first and last; ratios are to the mean of the two (shared machine). Needs PostgreSQL and Redis (`BENCH_PG`, `BENCH_REDIS`); modes whose service is
 * down are skipped.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Buffer, Embedded, Postgres, Redaction, RedisBus, type Sink, Worker } from "@jsonflow/audit"
import { Flow, type FlowEvents, Node } from "@jsonflow/core"
import { Effect, Exit, Fiber, Layer, ManagedRuntime, Schema, Scope } from "effect"
import { Redis } from "ioredis"
import postgres from "postgres"

const PG = process.env.BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test"
const REDIS = process.env.BENCH_REDIS ?? "redis://127.0.0.1:6379"
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const WRITER_EVENTS = Number(process.env.BENCH_WRITER_EVENTS ?? 200_000)

// --- the flow --------------------------------------------------------------------------------------------
const Line = Schema.Struct({ sku: Schema.String, qty: Schema.Number, price: Schema.Number })
const Order = Schema.Struct({
  id: Schema.String,
  customer: Schema.Struct({ id: Schema.String, country: Schema.String }),
  lines: Schema.Array(Line)
})
type Order = typeof Order.Type
const Priced = Schema.Struct({ id: Schema.String, country: Schema.String, total: Schema.Number, lines: Schema.Number })

const decode = Node.define({
  type: "bench.decode",
  input: Schema.Unknown,
  output: Order,
  run: (raw) => Effect.sync(() => Schema.decodeUnknownSync(Order)(raw))
})
const price = Node.define({
  type: "bench.price",
  input: Order,
  output: Priced,
  run: (order: Order) =>
    Effect.sync(() => {
      let total = 0
      for (const line of order.lines) total += Math.round(line.qty * line.price * 1.2 * 100) / 100
      return { id: order.id, country: order.customer.country, total, lines: order.lines.length }
    })
})
const decide = (status: string) =>
  Node.define({
    type: `bench.${status}`,
    input: Priced,
    output: Schema.Struct({ id: Schema.String, status: Schema.String, total: Schema.Number }),
    run: (p) => Effect.succeed({ id: p.id, status, total: p.total })
  })
// The I/O-bound variant waits 2 ms in `price`, like a connector call (an HTTP or SQL round trip).
const fetchPrices = Node.define({
  type: "bench.fetchPrices",
  input: Order,
  output: Priced,
  run: (order: Order) => Effect.andThen(Effect.sleep(2), price.runValue!(order, undefined as never, undefined as never))
})
const makeFlow = (io: boolean) =>
  Flow.make({ id: io ? "bench-orders-io" : "bench-orders", input: Schema.Unknown })
    .andThen("decode", decode, {})
    .andThen("price", io ? fetchPrices : price, {})
    .switch("route", (p) => p.price.out, { big: { path: "total", op: "gt", value: 5_000 } })
    .node("approve", decide("approved"), {}, (p) => p.route.default)
    .node("review", decide("review"), {}, (p) => p.route.big)
    .merge("decision", (p) => [p.approve.out, p.review.out])
    .respond("reply", (p) => p.decision.out, { status: 200 })
    .build()

const order = (i: number) => ({
  id: `o-${i}`,
  customer: { id: `c-${i % 97}`, country: i % 2 === 0 ? "DE" : "FR" },
  lines: Array.from({ length: 20 }, (_, j) => ({ sku: `sku-${j}`, qty: 1 + ((i + j) % 5), price: 10 + j * 7.5 }))
})

// --- helpers ---------------------------------------------------------------------------------------------
const up = (url: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port: p } = new URL(url)
    const socket = connect({ host: hostname, port: Number(p || port) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => resolve(false))
  })
const pgUp = await up(PG, 5432)
const redisUp = await up(REDIS, 6379)
const quantile = (xs: Array<number>, q: number) => xs.sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!
const turn = () => new Promise((resolve) => setImmediate(resolve))
const dir = mkdtempSync(join(tmpdir(), "bench-audit-"))
const schema = `bench_audit_${process.pid}`
const stream = `jsonflow:audit:bench:${process.pid}`

interface Result {
  readonly mode: string
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly events: number
  readonly note: string
}

type BenchFlow = ReturnType<typeof makeFlow>

const saturate = async (
  mode: string,
  flow: BenchFlow,
  concurrency: number,
  layer: Layer.Layer<never, unknown> | undefined
): Promise<Result> => {
  const runtime = ManagedRuntime.make((layer ?? Layer.empty) as Layer.Layer<never, unknown>)
  const compiled = await runtime.runPromise(Flow.compile(flow))
  const once = (i: number) => {
    const started = performance.now()
    return Effect.map(compiled.run(order(i)), () => performance.now() - started)
  }
  const round = (from: number) =>
    runtime.runPromise(
      Effect.forEach(
        Array.from({ length: concurrency }, (_, k) => from + k),
        once,
        { concurrency: "unbounded" }
      )
    )
  // Warm-up, then the measured window.
  for (let i = 0, t = performance.now(); performance.now() - t < 1_000; i += concurrency) {
    await round(i)
    await turn()
  }
  const latencies: Array<number> = []
  const t0 = performance.now()
  let n = 0
  while (performance.now() - t0 < SECONDS * 1_000) {
    latencies.push(...(await round(n)))
    n += concurrency
    await turn()
  }
  const elapsed = (performance.now() - t0) / 1_000
  let note = ""
  let events = 0
  if (layer !== undefined) {
    const audit = await (runtime as unknown as ManagedRuntime.ManagedRuntime<Audit.Audit, unknown>).runPromise(
      Effect.service(Audit.Audit)
    )
    const drainStart = performance.now()
    await runtime.runPromise(audit.flush.pipe(Effect.timeout("120 seconds")))
    const c = audit.counters()[0]!
    events = c.written
    note = `drained ${((performance.now() - drainStart) / 1_000).toFixed(1)} s after; spilled ${c.spilled}, dropped ${c.dropped}`
  }
  await runtime.dispose()
  return {
    mode,
    perSecond: latencies.length / elapsed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    events,
    note
  }
}

const auditLayer = (
  sink: Effect.Effect<Sink.Sink, unknown, Scope.Scope>,
  flow: BenchFlow,
  snapshots: "full" | "metadata" = "full"
) =>
  Audit.layer({
    sinks: [sink],
    flows: [flow.ir],
    snapshots,
    buffer: { journalDir: join(dir, "journal") }
  }) as unknown as Layer.Layer<never, unknown>

// --- run -------------------------------------------------------------------------------------------------
console.log(
  `node ${process.version}; ${SECONDS} s per mode after 1 s of warm-up; 7-node flow (6 run per execution, 14 events), redaction on`
)
const variants = [
  {
    title: "I/O-bound flow (price waits 2 ms, like a connector call), 256 in flight, full snapshots",
    io: true,
    concurrency: 256,
    snapshots: "full" as const
  },
  {
    title: `CPU-bound flow (no I/O: the worst case), ${CONCURRENCY} in flight, full snapshots`,
    io: false,
    concurrency: CONCURRENCY,
    snapshots: "full" as const
  },
  {
    title: `CPU-bound flow, ${CONCURRENCY} in flight, metadata snapshots (types and sizes only)`,
    io: false,
    concurrency: CONCURRENCY,
    snapshots: "metadata" as const
  }
]
for (const variant of variants) {
  const flow = makeFlow(variant.io)
  const modes: Array<[string, () => Layer.Layer<never, unknown> | undefined, boolean]> = [
    ["audit off", () => undefined, true],
    [
      "embedded (PGlite)",
      () =>
        auditLayer(
          Embedded.sink({ dataDir: join(dir, `embedded-${variant.io}-${variant.snapshots}`) }),
          flow,
          variant.snapshots
        ),
      true
    ],
    ["PostgreSQL", () => auditLayer(Postgres.sink({ url: PG, schema }), flow, variant.snapshots), pgUp],
    ["Redis bus", () => auditLayer(RedisBus.sink({ url: REDIS, stream }), flow, variant.snapshots), redisUp]
  ]
  const results: Array<Result> = []
  console.log(`\n${variant.title}`)
  for (const [mode, layer, available] of modes) {
    if (!available) {
      console.log(`${mode}: skipped (service not reachable)`)
      continue
    }
    results.push(await saturate(mode, flow, variant.concurrency, layer()))
  }
  // Audit off again at the end: the machine is shared, so the ratio uses the mean of both runs.
  const offAgain = await saturate("audit off (again)", flow, variant.concurrency, undefined)
  results.push(offAgain)
  const off = { ...results[0]!, perSecond: (results[0]!.perSecond + offAgain.perSecond) / 2 }
  // µs added: the main-thread time recording costs per execution at saturation (1/rate - 1/rate off).
  console.log("mode                exec/s   ratio  µs added   p50 ms   p99 ms   events written")
  for (const r of results) {
    const added = r.mode.startsWith("audit off") ? "" : (1e6 / r.perSecond - 1e6 / off.perSecond).toFixed(0)
    console.log(
      `${r.mode.padEnd(18)} ${r.perSecond.toFixed(0).padStart(7)}  ${(r.perSecond / off.perSecond).toFixed(2).padStart(6)}  ${added.padStart(8)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${r.events ? `${r.events} (${r.note})` : ""}`
    )
  }
}

// The PostgreSQL writer on its own: synthetic node events through the buffer into the table.
if (pgUp) {
  const writerSchema = `${schema}_writer`
  const event = (i: number): FlowEvents.FlowEvent => ({
    _tag: "NodeSucceeded",
    eventId: `w${i >> 4}:${i & 15}`,
    seq: i & 15,
    executionId: `w${i >> 4}`,
    flowId: "bench-orders",
    flowVersion: "1",
    at: Date.now(),
    nodeId: `n${i & 15}`,
    nodeType: "bench.price",
    attempt: 1,
    durationMs: 0.05,
    ports: ["out"],
    output: { id: `o-${i}`, total: 1234.5, status: "approved" }
  })
  for (const sync of [true, false]) {
    const rate = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* Postgres.sink({
            url: PG,
            schema: `${writerSchema}_${sync ? "sync" : "async"}`,
            synchronousCommit: sync
          })
          const channel = yield* Buffer.make(sink, Redaction.make(), {
            capacity: WRITER_EVENTS + 1,
            journalDir: join(dir, "writer")
          })
          const t0 = performance.now()
          for (let i = 0; i < WRITER_EVENTS; i++) channel.offer(event(i))
          yield* channel.flush
          return WRITER_EVENTS / ((performance.now() - t0) / 1_000)
        })
      )
    )
    console.log(
      `\nPostgreSQL writer (buffer + sink defaults: batches of 2,000, 4 in flight; synchronous_commit ${sync ? "on" : "off"}): ${rate.toFixed(0)} node events/s`
    )
  }
  if (redisUp) {
    // The audit worker drains what the Redis bus mode left in the stream into PostgreSQL.
    const redis = new Redis(REDIS)
    const backlog = (await redis.xlen(stream)) * 500
    const scope = await Effect.runPromise(Scope.make())
    const store = await Effect.runPromise(Scope.provide(Postgres.open({ url: PG, schema: `${schema}_worker` }), scope))
    const stats: Worker.WorkerStats = { batches: 0, entries: 0, claimed: 0, deadLettered: 0, failures: 0 }
    const t0 = performance.now()
    const fiber = Effect.runFork(
      Scope.provide(Worker.run({ store, redis: REDIS, stream, count: 20, blockMs: 50 }, stats), scope)
    )
    // A window of at most 10 s is enough for a rate; what is left of the backlog is deleted below.
    while ((await redis.xlen(stream)) > 0 && performance.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 50))
    const seconds = (performance.now() - t0) / 1_000
    await Effect.runPromise(Fiber.interrupt(fiber))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    console.log(
      `audit worker (Redis stream -> PostgreSQL, one process): ${(stats.entries / seconds).toFixed(0)} events/s (${stats.entries} of ~${backlog} backlog events in ${seconds.toFixed(1)} s)`
    )
    await redis.del(stream)
    await redis.quit()
  }
  const sql = postgres(PG, { max: 1, onnotice: () => {} })
  for (const s of [schema, `${writerSchema}_sync`, `${writerSchema}_async`, `${schema}_worker`]) {
    await sql.unsafe(`drop schema if exists "${s}" cascade`)
  }
  await sql.end()
}
rmSync(dir, { recursive: true, force: true })
