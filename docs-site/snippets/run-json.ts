import { readFile } from "node:fs/promises"
import { Builtins, Compiler, FlowEvents, Registry } from "@jsonflow/core"
import { Load } from "@jsonflow/json-dsl"
import { Effect } from "effect"
import { vat } from "./vat.ts"

// The JSON names node types; the registry says what they are: the built-ins plus your own.
const registry = Registry.merge(Builtins.registry, Registry.make(vat))

const text = await readFile(new URL("./fixtures/invoice.flow.json", import.meta.url), "utf8")
const loaded = Load.load(text, registry)
if (loaded._tag === "Failed") {
  for (const p of loaded.problems) console.error(`invoice.flow.json${p.path}: ${p.message}`)
  process.exit(1)
}

const { layer, recorder } = FlowEvents.layerMemory()
const program = Effect.gen(function* () {
  const compiled = yield* Compiler.compile(loaded.flow, registry)
  return yield* compiled.run([
    { id: 1, amount: 100, paid: true },
    { id: 2, amount: 50, paid: false },
    { id: 3, amount: 80, paid: true }
  ])
})
const result = await Effect.runPromise(program.pipe(Effect.provide(layer)))
console.log("output:", JSON.stringify(result.output))
for (const e of recorder.trace(result.executionId)) console.log(" ", e._tag, "nodeId" in e ? e.nodeId : "")
