// The worked example of packages/connectors/docs/custom-connector.md: a KV connector used in a builder
// flow (through the promise API) and in a JSON flow. Run: node examples/custom-connector/main.ts
import { Builtins, Compiler, Credentials, Flow, Registry } from "@jsonflow/core"
import { Effect, Layer, Schema } from "effect"
import * as Kv from "./kv/index.ts"
import { startServer } from "./kv/server.ts"

const server = await startServer({ token: "s3cret" })

// The layer: the connector's config, plus where credentials come from (here a record; by default, env vars).
const KvLive = Kv.layer({ port: server.port, credential: "kv" }).pipe(
  Layer.provide(Credentials.layerRecord({ kv: { token: "s3cret" } }))
)

// A builder flow: store a document, count the write, read the document back.
const saveDoc = Flow.make({ id: "save-doc", input: Schema.Struct({ key: Schema.String, value: Schema.Unknown }) })
  .node("put", Kv.put, {}, (p) => p.$input)
  .map("counter", (p) => p.put.out, { fields: { key: { value: "writes" } } }, Schema.Struct({ key: Schema.String }))
  .node("count", Kv.incr, { by: 1 }, (p) => p.counter.out)
  .node("read", Kv.get, {}, (p) => p.put.out)
  .build()

// `toPromise` checks at compile time that KvLive provides everything the flow needs.
const saver = Flow.toPromise(saveDoc, KvLive)
const saved = await saver.run({ key: "doc:1", value: { title: "Hello", tags: ["a", "b"] } })
console.log("builder:", JSON.stringify(saved.output))
await saver.dispose()

// The same node types in a JSON flow, resolved by type name through a registry.
const readDoc = {
  id: "read-doc",
  version: "1",
  trigger: { type: "manual" },
  nodes: { read: { type: "kv.get" } },
  edges: [{ from: { node: "$input", port: "out" }, to: { node: "read", port: "in" } }],
  output: { node: "read", port: "out" }
}
const program = Effect.gen(function* () {
  const compiled = yield* Compiler.compile(readDoc, Registry.merge(Builtins.registry, Kv.registry))
  const doc = yield* compiled.run({ key: "doc:1" })
  const writes = yield* compiled.run({ key: "writes" })
  return { doc: doc.output, writes: writes.output }
})
const { doc, writes } = await Effect.runPromise(program.pipe(Effect.provide(KvLive)))
console.log("json:", JSON.stringify(doc), JSON.stringify(writes))
await server.close()
