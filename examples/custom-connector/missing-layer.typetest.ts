// Checked by `tsc` (npm run typecheck), never run: a flow that uses a KV node needs the KvClient service,
// and running it without a layer that provides it is a compile error, not a runtime surprise.
import { Flow } from "@jsonflow/core"
import { Effect, Schema } from "effect"
import * as Kv from "./kv/index.ts"

const readDoc = Flow.make({ id: "read-doc", input: Schema.Struct({ key: Schema.String }) })
  .node("read", Kv.get, {}, (p) => p.$input)
  .build()

export const withoutTheLayer = () => {
  // @ts-expect-error Effect<..., KvClient> is not Effect<..., never>: the KvClient layer is missing
  Effect.runPromise(Flow.run(readDoc, { key: "doc:1" }))
  // @ts-expect-error the promise API needs a layer that provides KvClient
  Flow.toPromise(readDoc)
}

export const withTheLayer = () =>
  Effect.runPromise(Flow.run(readDoc, { key: "doc:1" }).pipe(Effect.provide(Kv.layer({ port: 7070 }))))

// Wiring a port of the wrong type is a compile error too: kv.incr wants { key: string }.
export const wrongInput = () =>
  Flow.make({ id: "bad", input: Schema.Struct({ id: Schema.Number }) })
    // @ts-expect-error { id: number } is not { key: string }
    .node("count", Kv.incr, {}, (p) => p.$input)
