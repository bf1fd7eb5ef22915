/**
 * `npm run bench:engine`: the engine's per-node overhead, measured against the same steps written by hand.
 *
 * Two shapes, each built from the built-in nodes the engine ships: a 10-node linear chain of `map` nodes, and
 * a 10-wide fan-out of `map` nodes brought together by the built-in `join`. Each `map` copies one field and
 * sets one constant (`{ x: "x", step: { value: i } }`); the baselines do the same work by hand: (a) the steps
 * as one `Effect.gen`, (b) plain async functions. A third and fourth row repeat both shapes with small custom
 * node definitions (`{ x: v.x + 1 }`), which isolates the engine from the `map` node's own interpretation.
 * Events are on (a subscriber counting them, metadata snapshots). Reports the median of several samples.
 *
 * Environment: BENCH_EXECUTIONS (per sample, default 20000), BENCH_SAMPLES (default 7), BENCH_EVENTS=0 to
 * turn events off.
 */

import { Builtins, Compiler, FlowEvents, Node, Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const STEPS = 10
const EXECUTIONS = Number(process.env.BENCH_EXECUTIONS ?? 20_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 7)
const EVENTS = process.env.BENCH_EVENTS !== "0"

type V = { readonly x: number }
type Mapped = { readonly x: number; readonly step: number }

// Custom nodes: the smallest possible node bodies.
const inc = Node.define({
  type: "bench.inc",
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (v) => Effect.succeed({ x: (v as V).x + 1 })
})
const sum = Node.define({
  type: "bench.sum",
  input: Schema.Record(Schema.String, Schema.Unknown),
  inputMode: "join",
  output: Schema.Unknown,
  run: (inputs) => Effect.succeed({ x: Object.values(inputs).reduce((s: number, v) => s + (v as V).x, 0) })
})
const registry = Registry.merge(Builtins.registry, Registry.make(inc, sum))

const edge = (from: string, to: string, toPort = "in") => ({
  from: { node: from, port: "out" },
  to: { node: to, port: toPort }
})
const ids = Array.from({ length: STEPS }, (_, i) => `n${i}`)
const mapNode = (i: number) => ({ type: "map", config: { fields: { x: "x", step: { value: i } } } })
const flowIr = (id: string, nodes: Record<string, unknown>, edges: ReadonlyArray<unknown>, output: string) => ({
  id,
  version: "1",
  trigger: { type: "manual" },
  nodes,
  edges,
  output: { node: output, port: "out" }
})
const linearEdges = ids.map((id, i) => edge(i === 0 ? "$input" : ids[i - 1]!, id))
const fanEdges = [...ids.map((id) => edge("$input", id)), ...ids.map((id) => edge(id, "join", id))]

const compile = (ir: unknown) => {
  const outcome = Compiler.compileSync(ir, registry)
  if (outcome._tag === "Failed") throw outcome.error
  return outcome.flow
}
const mapLinear = compile(
  flowIr("map-linear", Object.fromEntries(ids.map((id, i) => [id, mapNode(i)])), linearEdges, ids[STEPS - 1]!)
)
const mapFan = compile(
  flowIr(
    "map-fan",
    { ...Object.fromEntries(ids.map((id, i) => [id, mapNode(i)])), join: { type: "join" } },
    fanEdges,
    "join"
  )
)
const incLinear = compile(
  flowIr("inc-linear", Object.fromEntries(ids.map((id) => [id, { type: "bench.inc" }])), linearEdges, ids[STEPS - 1]!)
)
const incFan = compile(
  flowIr(
    "inc-fan",
    { ...Object.fromEntries(ids.map((id) => [id, { type: "bench.inc" }])), join: { type: "bench.sum" } },
    fanEdges,
    "join"
  )
)

let events = 0
const eventsLayer = FlowEvents.layer(EVENTS ? [() => void events++] : [], { snapshots: "metadata" })

// The same steps by hand. `map` step i: { x: v.x, step: i }; the join keys the results by node id.
const mapStep = (v: V, i: number): Mapped => ({ x: v.x, step: i })
const incStep = (v: V): V => ({ x: v.x + 1 })
const joinOf = (results: ReadonlyArray<Mapped>) => Object.fromEntries(results.map((r, i) => [ids[i]!, r]))

type Shape = "mapLinear" | "mapFan" | "incLinear" | "incFan"
const hand: Record<Shape, (v: V) => Effect.Effect<unknown>> = {
  mapLinear: (v: V) =>
    Effect.gen(function* () {
      let current: V = v
      for (let i = 0; i < STEPS; i++) current = yield* Effect.succeed(mapStep(current, i))
      return current
    }),
  mapFan: (v: V) =>
    Effect.gen(function* () {
      const results = yield* Effect.all(
        ids.map((_, i) => Effect.succeed(mapStep(v, i))),
        { concurrency: 16 }
      )
      return joinOf(results)
    }),
  incLinear: (v: V) =>
    Effect.gen(function* () {
      let current = v
      for (let i = 0; i < STEPS; i++) current = yield* Effect.succeed(incStep(current))
      return current
    }),
  incFan: (v: V) =>
    Effect.gen(function* () {
      const results = yield* Effect.all(
        ids.map(() => Effect.succeed(incStep(v))),
        { concurrency: 16 }
      )
      return { x: results.reduce((s, r) => s + r.x, 0) }
    })
}
const plain: Record<Shape, (v: V) => Promise<unknown>> = {
  mapLinear: async (v: V) => {
    let current: V = v
    for (let i = 0; i < STEPS; i++) current = await Promise.resolve(mapStep(current, i))
    return current
  },
  mapFan: async (v: V) => joinOf(await Promise.all(ids.map(async (_, i) => mapStep(v, i)))),
  incLinear: async (v: V) => {
    let current = v
    for (let i = 0; i < STEPS; i++) current = await Promise.resolve(incStep(current))
    return current
  },
  incFan: async (v: V) => {
    const results = await Promise.all(ids.map(async () => incStep(v)))
    return { x: results.reduce((s, r) => s + r.x, 0) }
  }
}

/** One sample: µs per execution, by the wall clock and by the CPU time this process used. */
interface Sample {
  readonly wall: number
  readonly cpu: number
}

// CPU time is reported next to wall time: on a shared, loaded machine the wall clock also counts the time
// this process waited for a core, while CPU time counts the work (GC threads included).
const measure = async (run: () => Promise<unknown>): Promise<Sample> => {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const wall = ((performance.now() - t0) * 1000) / EXECUTIONS
  const cpu = process.cpuUsage(cpu0)
  return { wall, cpu: (cpu.user + cpu.system) / EXECUTIONS }
}

/** Runs `make()` EXECUTIONS times in one fiber. */
const timeEffect = (make: () => Effect.Effect<unknown, unknown>) =>
  measure(() =>
    Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < EXECUTIONS; i++) yield* make()
      }).pipe(Effect.provide(eventsLayer)) as Effect.Effect<void, unknown>
    )
  )
const timePlain = (fn: () => Promise<unknown>) =>
  measure(async () => {
    for (let i = 0; i < EXECUTIONS; i++) await fn()
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const input: V = { x: 0 }
const shapes = [
  { name: `map: linear ${STEPS}`, flow: mapLinear, key: "mapLinear", nodes: STEPS },
  { name: `map: fan-out ${STEPS} + join`, flow: mapFan, key: "mapFan", nodes: STEPS + 1 },
  { name: `custom: linear ${STEPS}`, flow: incLinear, key: "incLinear", nodes: STEPS },
  { name: `custom: fan-out ${STEPS} + sum`, flow: incFan, key: "incFan", nodes: STEPS + 1 }
] as const

// Correctness first: the engine must compute what the hand-written code computes.
for (const shape of shapes) {
  const engine = await Effect.runPromise(shape.flow.run(input))
  const byHand = await Effect.runPromise(hand[shape.key](input))
  const byPlain = await plain[shape.key](input)
  if (JSON.stringify(engine.output) !== JSON.stringify(byHand) || JSON.stringify(byHand) !== JSON.stringify(byPlain)) {
    throw new Error(`${shape.name}: engine and hand-written results differ: ${JSON.stringify([engine.output, byHand])}`)
  }
}

console.log(
  `node ${process.version}, ${EXECUTIONS} executions per sample, median of ${SAMPLES} samples, events ${EVENTS ? "on" : "off"}\n`
)
console.log(
  "shape                       clock  engine µs/exec  Effect.gen µs  async µs  overhead µs/node  engine/Effect.gen"
)
for (const shape of shapes) {
  const engine: Array<Sample> = []
  const handTimes: Array<Sample> = []
  const plainTimes: Array<Sample> = []
  const runEngine = () => timeEffect(() => shape.flow.run(input))
  const runHand = () => timeEffect(() => hand[shape.key](input))
  const runPlain = () => timePlain(() => plain[shape.key](input))
  await runEngine() // warm-up
  await runHand()
  await runPlain()
  for (let i = 0; i < SAMPLES; i++) {
    // Alternate so drift on this shared machine hits all variants alike.
    engine.push(await runEngine())
    handTimes.push(await runHand())
    plainTimes.push(await runPlain())
  }
  for (const clock of ["wall", "cpu"] as const) {
    const e = median(engine.map((s) => s[clock]))
    const h = median(handTimes.map((s) => s[clock]))
    const p = median(plainTimes.map((s) => s[clock]))
    console.log(
      `${(clock === "wall" ? shape.name : "").padEnd(27)} ${clock.padEnd(5)} ${e.toFixed(1).padStart(14)} ${h.toFixed(1).padStart(14)} ${p.toFixed(1).padStart(9)} ${((e - p) / shape.nodes).toFixed(2).padStart(17)} ${(e / h).toFixed(2).padStart(18)}`
    )
  }
}
console.log(`\nevents emitted: ${events}`)
