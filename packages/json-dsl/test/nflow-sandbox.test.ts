import { Compiler, Registry } from "@jsonflow/core"
import { Sandbox } from "@jsonflow/sandbox"
import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Execute, HttpRequest, Nflow } from "../src/index.ts"
import { fixture, modulesDir } from "./support/nflow.ts"

/** The production path: nFlow code boxes run in the isolated-vm sandbox. */
const runner: Nflow.JsNode.ScriptRunner<Sandbox> = {
  run: (source, input, context) =>
    Sandbox.use((sandbox) =>
      Effect.map(
        sandbox.run(source, input, { nodeId: context.nodeId, executionId: context.executionId }),
        (r) => r.output
      )
    )
}
const registry = Registry.merge(Nflow.nativeRegistry, Nflow.registry(runner))
const runtime = ManagedRuntime.make(Sandbox.layer() as Layer.Layer<Sandbox, unknown>)
afterAll(() => runtime.dispose())

const imported = Nflow.importExport(fixture("nflow/loops.json"), { modules: modulesDir() })
const request = (method: string, path: string, extra: Partial<HttpRequest.HttpRequest> = {}) => {
  const routed = Execute.route(imported.flows, (f) => f.flow, method, path)
  if (routed === undefined) throw new Error("no route")
  const compiled = Compiler.compileSync(routed.flow.flow, registry)
  if (compiled._tag === "Failed") throw compiled.error
  return runtime.runPromise(
    Execute.runRequest(compiled.flow, HttpRequest.make({ method, path, params: routed.params, ...extra }))
  )
}

describe("nFlow code boxes in the isolated-vm sandbox", () => {
  it("runs scripts with the nFlow contract (loops, custom modules, sloppy globals, templates, errors)", async () => {
    expect(await request("GET", "/sum")).toMatchObject({ status: 200, body: 10 })
    expect(await request("GET", "/custom/ada")).toMatchObject({ status: 200, body: "hello ada!" })
    expect(await request("GET", "/page/go")).toMatchObject({ status: 200, body: "<h1>A &amp; B</h1>" })
    expect(await request("GET", "/boom")).toMatchObject({ status: 500, body: { actor: { id: "27" } } })
    expect(await request("PUT", "/echo", { body: { a: 1 }, headers: { authorization: "Bearer t" } })).toMatchObject({
      status: 200,
      body: { body: { a: 1 }, auth: ["Bearer t"], method: "PUT" }
    })
  })
})
