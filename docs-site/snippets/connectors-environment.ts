// A JSON flow on real connectors: the settings (a runner's `connectors` section) give the node types and
// the layer; the flow file gives the graph. Needs Redis on 127.0.0.1:6379 (or REDIS_HOST / REDIS_PORT).
import { readFile } from "node:fs/promises"
import { environment, validate } from "@jsonflow/connectors"
import { Builtins, Compiler, Registry } from "@jsonflow/core"
import { Load } from "@jsonflow/json-dsl"
import { Effect } from "effect"

// Settings name credentials, never hold them: a password would be the credential "cache"
// (JSONFLOW_CREDENTIAL_CACHE_PASSWORD), written here as `credential: "cache"`.
const settings = {
  redis: {
    host: process.env.REDIS_HOST ?? "127.0.0.1",
    port: Number(process.env.REDIS_PORT ?? 6379),
    keyPrefix: process.env.KEY_PREFIX ?? "docs:"
  }
}

// Every settings problem at once, each at its JSON Pointer (`/redis/port`). Without this check, the
// layer would fail when built, with the first problem.
const checked = validate(settings)
if (Array.isArray(checked)) {
  for (const problem of checked) console.error(problem.message)
  process.exit(1)
}
const connectors = environment(settings)
const registry = Registry.merge(Builtins.registry, connectors.registry) // redis.*, plus the built-ins

const text = await readFile(new URL("./connectors-redis.flow.json", import.meta.url), "utf8")
const loaded = Load.load(text, registry)
if (loaded._tag === "Failed") {
  for (const p of loaded.problems) console.error(`connectors-redis.flow.json${p.path}: ${p.message}`)
  process.exit(1)
}

const program = Effect.gen(function* () {
  const compiled = yield* Compiler.compile(loaded.flow, registry)
  // Compiled against a registry built from data, the flow's services are `unknown`: connectors.layer
  // serves all of them (building it opens the clients, its end closes them).
  const run = (compiled as Compiler.CompiledFlow<never>).run({ key: "order:42", value: { total: 99.5 } })
  return yield* run
}).pipe(Effect.provide(connectors.layer))

const result = await Effect.runPromise(program)
console.log(JSON.stringify(result.output)) // {"found":true,"value":{"total":99.5}}
