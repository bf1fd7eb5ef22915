/**
 * `npm run bench:sandbox`: per-call time of a 6-line transform over ~1 KB and ~100 KB JSON inputs, in one
 * run, for the production sandbox (isolated-vm in a supervised process, fresh module state per call)
 * against a plain in-process function and `node:vm` (a reused context — shared state — and a fresh context
 * per call). Prints median and p99 in µs and the ratio to the plain function; then the throughput of the
 * sandbox with several calls in flight. Not a test: numbers on a shared 2-core machine vary by ±30 %.
 *
 * @module bench/sandbox
 */
import { cpus, loadavg } from "node:os"
import vm from "node:vm"
import { Sandbox } from "@jsonflow/sandbox"
import { Effect } from "effect"

const SOURCE = `export default (input, ctx) => {
  let total = 0
  for (const item of input.items) total += item.qty * item.price
  const skus = input.items.map((item) => item.sku.toUpperCase())
  return { id: input.id, node: ctx.nodeId, total, count: input.items.length, skus }
}`

const transform = (input: Order, ctx: { nodeId: string }) => {
  let total = 0
  for (const item of input.items) total += item.qty * item.price
  const skus = input.items.map((item) => item.sku.toUpperCase())
  return { id: input.id, node: ctx.nodeId, total, count: input.items.length, skus }
}

interface Order {
  readonly id: string
  readonly customer: { readonly name: string; readonly email: string }
  readonly items: ReadonlyArray<{ sku: string; qty: number; price: number; name: string }>
}

const order = (items: number): Order => ({
  id: "order-1",
  customer: { name: "Ann Example", email: "ann@example.com" },
  items: Array.from({ length: items }, (_, i) => ({
    sku: `sku-${i}`,
    qty: (i % 5) + 1,
    price: 9.99 + i,
    name: `item number ${i}`
  }))
})

const small = order(14)
const large = order(1450)

const VM_SCRIPT = `(${transform.toString()})(JSON.parse(inputJson), { nodeId: "bench" })`

interface Stats {
  readonly median: number
  readonly p99: number
}

const stats = (samples: Array<number>): Stats => {
  samples.sort((a, b) => a - b)
  return {
    median: samples[Math.floor(samples.length / 2)]!,
    p99: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]!
  }
}

const SANDBOX = "sandbox (isolated-vm in a process)"

const elapsedUs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1000

/** Times a synchronous call; returns the samples (µs) after the warm-up. */
const measure = (runs: number, warmup: number, call: () => unknown): Array<number> => {
  const samples: Array<number> = []
  for (let i = 0; i < warmup + runs; i++) {
    const start = process.hrtime.bigint()
    call()
    if (i >= warmup) samples.push(elapsedUs(start))
  }
  return samples
}

/** Times an effect, run the way the engine runs nodes: inside a fiber, one after the other. */
const measureEffect = <A, E>(runs: number, warmup: number, call: () => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const samples: Array<number> = []
    for (let i = 0; i < warmup + runs; i++) {
      const start = process.hrtime.bigint()
      yield* call()
      if (i >= warmup) samples.push(elapsedUs(start))
    }
    return samples
  })

// Variants take turns over several rounds, so a burst of load on this shared machine hits them all alike.
const ROUNDS = 5

const main = Effect.gen(function* () {
  const sandbox = yield* Sandbox
  const script = yield* sandbox.compile(SOURCE, { language: "js" })
  const runSandbox = (input: Order) => sandbox.run(script, input, { nodeId: "bench", executionId: "bench" })

  const reused = vm.createContext({ inputJson: "" })
  const reusedScript = new vm.Script(VM_SCRIPT)

  const rows: Array<{ variant: string; size: string; stats: Stats }> = []
  for (const [size, input, runs] of [
    ["1 KB", small, 10_000],
    ["100 KB", large, 1_000]
  ] as const) {
    const json = JSON.stringify(input)
    const variants: ReadonlyArray<readonly [string, () => unknown]> = [
      ["plain function (no copy)", () => transform(input, { nodeId: "bench" })],
      [
        "plain function + JSON in/out",
        () => JSON.parse(JSON.stringify(transform(JSON.parse(json), { nodeId: "bench" })))
      ],
      [
        "node:vm, reused context (state shared!)",
        () => {
          reused.inputJson = JSON.stringify(input)
          return JSON.parse(JSON.stringify(reusedScript.runInContext(reused)))
        }
      ],
      [
        "node:vm, fresh context per call",
        () => {
          const context = vm.createContext({ inputJson: JSON.stringify(input) })
          return JSON.parse(JSON.stringify(reusedScript.runInContext(context)))
        }
      ]
    ]
    const label = `${size} (${json.length} B)`
    const samples = new Map<string, Array<number>>()
    const add = (variant: string, more: Array<number>) =>
      samples.set(variant, [...(samples.get(variant) ?? []), ...more])
    const perRound = Math.ceil(runs / ROUNDS)
    for (let round = 0; round < ROUNDS; round++) {
      const warmup = round === 0 ? Math.floor(runs / 5) : 20
      for (const [variant, call] of variants) {
        add(variant, measure(variant.includes("fresh") ? Math.ceil(perRound / 5) : perRound, warmup, call))
      }
      add(SANDBOX, yield* measureEffect(perRound, warmup, () => runSandbox(input)))
    }
    for (const [variant, all] of samples) rows.push({ variant, size: label, stats: stats(all) })
  }

  const plain = new Map(rows.filter((r) => r.variant.startsWith("plain function (")).map((r) => [r.size, r.stats]))
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")
  console.log(
    `\nSandbox benchmark — ${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ${cpus().length} cores, load average ${load}`
  )
  console.log("| variant | input | median µs | p99 µs | × plain (median) |")
  console.log("|---|---|---:|---:|---:|")
  for (const row of rows) {
    const ratio = row.stats.median / (plain.get(row.size)?.median ?? 1)
    console.log(
      `| ${row.variant} | ${row.size} | ${row.stats.median.toFixed(1)} | ${row.stats.p99.toFixed(1)} | ${ratio.toFixed(1)} |`
    )
  }

  // Throughput with calls in flight at once (as an engine running many executions would have).
  for (const inFlight of [1, 8, 32]) {
    const total = 6000
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: total }, () => small),
      (input) => sandbox.run(script, input, { nodeId: "bench" }),
      { concurrency: inFlight, discard: true }
    )
    const seconds = (performance.now() - started) / 1000
    console.log(`sandbox throughput, 1 KB, ${inFlight} in flight: ${Math.round(total / seconds)} calls/s`)
  }
  // Every call above must have succeeded, on processes that never restarted: otherwise the figures lie.
  const counters = sandbox.stats()
  console.log(
    `sandbox stats: ${JSON.stringify(counters.callsByOutcome)}, ${counters.processRestarts} process restart(s), ${counters.isolatesRecycled} isolate(s) recycled`
  )
  const median1k = rows.find((r) => r.variant === SANDBOX && r.size.startsWith("1 KB"))?.stats.median ?? 0
  console.log(`\nGoal p50 < 100 µs for 1 KB: ${median1k < 100 ? "met" : "NOT met"} (${median1k.toFixed(1)} µs)`)
})

await Effect.runPromise(main.pipe(Effect.scoped, Effect.provide(Sandbox.layer())))
