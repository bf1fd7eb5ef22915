/**
 * Swapping services: the CRM connector's live layer replaced by a fake for a test, the events service
 * given a subscriber, and a node type replaced on purpose with `Registry.override`.
 */
import { Builtins, Compiler, Flow, FlowEvents, Node, Registry } from "@jsonflow/core"
import { Effect, Layer, Schema } from "effect"
import { Crm, CrmError, signup } from "./crm-connector.ts"

// A fake Crm: same interface, no network. A flow cannot tell it from the live layer.
const fakeCrm = Layer.succeed(Crm, {
  upsert: (contact) =>
    contact.email.endsWith("@down.test")
      ? Effect.fail(new CrmError({ status: 503, reason: "maintenance", retryable: true }))
      : Effect.succeed({ id: "fake-1", created: true })
})

// Another service: every event of every execution, to a subscriber (here: count node attempts).
let attempts = 0
const events = FlowEvents.layer([(event) => (event._tag === "NodeStarted" ? attempts++ : undefined)])

const services = Layer.merge(fakeCrm, events)

// A node type replaced on purpose: a `delay` that does not wait, so a JSON flow's test runs at once.
const instant = Node.define({
  type: "delay",
  config: Schema.Struct({ ms: Schema.Number }),
  input: Schema.Unknown,
  output: Schema.Unknown,
  run: (input) => Effect.succeed(input)
})
const testRegistry = Registry.override(Builtins.registry, Registry.make(instant))
const slow = {
  id: "slow",
  version: "1",
  trigger: { type: "manual" },
  nodes: { wait: { type: "delay", config: { ms: 60_000 } } },
  edges: [{ from: { node: "$input", port: "out" }, to: { node: "wait", port: "in" } }],
  output: { node: "wait", port: "out" }
}

if (import.meta.main) {
  const ok = await Effect.runPromise(
    Flow.run(signup, { email: "ada@example.com", name: "Ada" }).pipe(Effect.provide(services))
  )
  console.log(JSON.stringify(ok.output), `attempts: ${attempts}`)
  attempts = 0
  // The fake's failure is retryable: the node's policy ({ maxAttempts: 3 }) tries three times.
  const down = await Effect.runPromise(
    Effect.flip(Flow.run(signup, { email: "bob@down.test", name: "Bob" })).pipe(Effect.provide(services))
  )
  if (down._tag === "NodeFailed")
    console.log(down.nodeId, down.attempts, down.error._tag, JSON.stringify(down.error.details))
  const started = performance.now()
  const waited = await Effect.runPromise(Effect.flatMap(Compiler.compile(slow, testRegistry), (c) => c.run("now")))
  console.log(
    JSON.stringify(waited.output),
    `in ${performance.now() - started < 1_000 ? "under a second" : "too long"}`
  )
}
