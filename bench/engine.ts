/**
 * `npm run bench:engine`: the engine's per-node overhead, measured against the same steps written by hand.
 *
 * Two shapes: a 10-node linear chain and a 10-wide fan-out joined by one node. Each step does the same
 * trivial work (`{ x: v.x + 1 }`). Baselines: (a) the steps as one `Effect.gen`, (b) plain async functions.
 * Events are on (a subscriber counting them, metadata snapshots). Reports the median of several samples.
 */

import { Compiler, FlowEvents, Node, Registry } from "@jsonflow/core"
import { Effect, Schema } from "effect"

const STEPS = 10
const EXECUTIONS = Number(process.env.BENCH_EXECUTIONS ?? 20_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 7)

type V = { readonly x: number }
const step = (v: V): V => ({ x: v.x + 1 })

const inc = Node.define({
  type: "inc",
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (v) => Effect.succeed(step(v as V))
})
const sum = Node.define({
  type: "sum",
  input: Schema.Record(Schema.String, Schema.Unknown),
  inputMode: "join",
  output: Schema.Unknown,
  run: (inputs) => Effect.succeed({ x: Object.values(inputs).reduce((s: number, v) => s + (v as V).x, 0) })
})
const registry = Registry.make(inc, sum)

const edge = (from: string, to: string, toPort = "in") => ({
  from: { node: from, port: "out" },
  to: { node: to, port: toPort }
})
const ids = Array.from({ length: STEPS }, (_, i) => `n${i}`)
const linearIr = {
  id: "linear",
  version: "1",
  trigger: { type: "manual" },
  nodes: Object.fromEntries(ids.map((id) => [id, { type: "inc" }])),
  edges: ids.map((id, i) => edge(i === 0 ? "$input" : ids[i - 1]!, id)),
  output: { node: ids[STEPS - 1]!, port: "out" }
}
const fanIr = {
  id: "fan",
  version: "1",
  trigger: { type: "manual" },
  nodes: { ...Object.fromEntries(ids.map((id) => [id, { type: "inc" }])), join: { type: "sum" } },
  edges: [...ids.map((id) => edge("$input", id)), ...ids.map((id) => edge(id, "join", id))],
  output: { node: "join", port: "out" }
}

const compile = (ir: unknown) => {
  const outcome = Compiler.compileSync(ir, registry)
  if (outcome._tag === "Failed") throw outcome.error
  return outcome.flow
}
const linear = compile(linearIr)
const fan = compile(fanIr)

let events = 0
const eventsLayer = FlowEvents.layer([() => void events++], { snapshots: "metadata" })

const handLinear = (v: V) =>
  Effect.gen(function* () {
    let current = v
    for (let i = 0; i < STEPS; i++) current = yield* Effect.succeed(step(current))
    return current
  })
const handFan = (v: V) =>
  Effect.gen(function* () {
    const results = yield* Effect.all(
      ids.map(() => Effect.succeed(step(v))),
      { concurrency: 16 }
    )
    return { x: results.reduce((s, r) => s + r.x, 0) }
  })
const plainLinear = async (v: V) => {
  let current = v
  for (let i = 0; i < STEPS; i++) current = await Promise.resolve(step(current))
  return current
}
const plainFan = async (v: V) => {
  const results = await Promise.all(ids.map(async () => step(v)))
  return { x: results.reduce((s, r) => s + r.x, 0) }
}

/** µs per execution of `effect` run EXECUTIONS times in one fiber. */
const timeEffect = async (make: () => Effect.Effect<unknown, unknown>) => {
  const program = Effect.gen(function* () {
    for (let i = 0; i < EXECUTIONS; i++) yield* make()
  }).pipe(Effect.provide(eventsLayer))
  const t0 = performance.now()
  await Effect.runPromise(program as Effect.Effect<void, unknown>)
  return ((performance.now() - t0) * 1000) / EXECUTIONS
}
const timePlain = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now()
  for (let i = 0; i < EXECUTIONS; i++) await fn()
  return ((performance.now() - t0) * 1000) / EXECUTIONS
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const input: V = { x: 0 }
const shapes = [
  {
    name: `linear ${STEPS} nodes`,
    engine: () => timeEffect(() => linear.run(input)),
    hand: () => timeEffect(() => handLinear(input)),
    plain: () => timePlain(() => plainLinear(input)),
    nodes: STEPS
  },
  {
    name: `fan-out ${STEPS} + join`,
    engine: () => timeEffect(() => fan.run(input)),
    hand: () => timeEffect(() => handFan(input)),
    plain: () => timePlain(() => plainFan(input)),
    nodes: STEPS + 1
  }
]

// Correctness first: the engine must compute what the hand-written code computes.
const check = await Effect.runPromise(
  Effect.all([linear.run(input), fan.run(input), handLinear(input), handFan(input)])
)
if (
  JSON.stringify(check[0].output) !== JSON.stringify(check[2]) ||
  JSON.stringify(check[1].output) !== JSON.stringify(check[3])
) {
  throw new Error(`engine and hand-written results differ: ${JSON.stringify(check)}`)
}

console.log(`node ${process.version}, ${EXECUTIONS} executions per sample, median of ${SAMPLES} samples, events on\n`)
console.log("shape                  engine µs/exec  Effect.gen µs  async µs  overhead µs/node  engine/Effect.gen")
for (const shape of shapes) {
  const engine: Array<number> = []
  const hand: Array<number> = []
  const plain: Array<number> = []
  await shape.engine() // warm-up
  await shape.hand()
  await shape.plain()
  for (let i = 0; i < SAMPLES; i++) {
    // Alternate so drift on this shared machine hits all variants alike.
    engine.push(await shape.engine())
    hand.push(await shape.hand())
    plain.push(await shape.plain())
  }
  const e = median(engine)
  const h = median(hand)
  const p = median(plain)
  console.log(
    `${shape.name.padEnd(22)} ${e.toFixed(1).padStart(14)} ${h.toFixed(1).padStart(14)} ${p.toFixed(1).padStart(9)} ${((e - p) / shape.nodes).toFixed(2).padStart(17)} ${(e / h).toFixed(2).padStart(18)}`
  )
}
console.log(`\nevents emitted: ${events}`)
