/**
 * soap, @grpc/grpc-js + @grpc/proto-loader and nodemailer are optional peer dependencies. Each case runs a
 * fresh Node process whose resolve hook records every import of those libraries and makes the blocked ones
 * unresolvable (Node's own "Cannot find package" error, as on an install without them). Importing
 * `@jsonflow/connectors` and its subpaths and compiling a flow against their registries must import none
 * of them; building the layer must then fail with the typed `MissingPackage`, not crash.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

// Runs in the child process (an ES module given to `node -e`). Its parameters come in JSONFLOW_CASE.
const child = `
import { registerHooks } from "node:module"
const spec = JSON.parse(process.env.JSONFLOW_CASE)
const optional = ["soap", "@grpc/grpc-js", "@grpc/proto-loader", "nodemailer", "bullmq"]
const seen = []
registerHooks({
  resolve(specifier, context, nextResolve) {
    const hit = optional.find((name) => specifier === name || specifier.startsWith(name + "/"))
    if (hit !== undefined) {
      seen.push(specifier)
      // Resolved from a directory with no node_modules: Node's real error for a package that is not installed.
      if (spec.blocked.includes(hit)) return nextResolve(specifier, { ...context, parentURL: "file:///jsonflow-nowhere/x.js" })
    }
    return nextResolve(specifier, context)
  }
})
const { Cause, Effect, Exit, Layer } = await import("effect")
const { Builtins, Compiler, Registry } = await import("@jsonflow/core")
const root = await import("@jsonflow/connectors")
const family = await import("@jsonflow/connectors/" + spec.family)
const { environment } = await import("@jsonflow/connectors/environment")
const registry = Registry.merge(Builtins.registry, Registry.merge(family.registry, root[spec.namespace].registry))
const flow = {
  id: "optional", version: "1", trigger: { type: "manual" },
  nodes: { call: { type: spec.nodeType, config: spec.nodeConfig } },
  edges: [{ from: { node: "$input", port: "out" }, to: { node: "call", port: "in" } }]
}
const compiled = await Effect.runPromise(Effect.result(Compiler.compile(flow, registry)))
const beforeLayer = [...seen]
const failureOf = async (layer) => {
  const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(layer)))
  if (Exit.isSuccess(exit)) return { built: true }
  const fail = exit.cause.reasons.find(Cause.isFailReason)
  if (fail === undefined) return { defect: Cause.pretty(exit.cause) }
  const e = fail.error
  return { _tag: e._tag, package: e.package, feature: e.feature, install: e.install, retryable: e.retryable, message: e.message }
}
const direct = await failureOf(family.layer(spec.layerConfig))
const viaEnvironment = await failureOf(environment({ [spec.family]: spec.layerConfig }).layer)
process.stdout.write(JSON.stringify({ compiled: compiled._tag, beforeLayer, seen, direct, viaEnvironment }))
`

interface Case {
  readonly family: "soap" | "grpc" | "mail"
  readonly namespace: "Soap" | "Grpc" | "Mail"
  readonly blocked: ReadonlyArray<string>
  readonly nodeType: string
  readonly nodeConfig: unknown
  readonly layerConfig: unknown
}

interface Report {
  readonly compiled: string
  readonly beforeLayer: ReadonlyArray<string>
  readonly seen: ReadonlyArray<string>
  readonly direct: Readonly<Record<string, unknown>>
  readonly viaEnvironment: Readonly<Record<string, unknown>>
}

const run = async (spec: Case): Promise<Report> => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@jsonflow/source", "--input-type=module", "-e", child],
    { cwd: packageDir, env: { ...process.env, JSONFLOW_CASE: JSON.stringify(spec) }, timeout: 30_000 }
  )
  return JSON.parse(stdout) as Report
}

const unique = (specifiers: ReadonlyArray<string>) => [...new Set(specifiers)]

const missing = (pkg: string, feature: string, install: string) => ({
  _tag: "MissingPackage",
  package: pkg,
  feature,
  install,
  retryable: false,
  message: `${feature} needs the "${pkg}" package, which is not installed: ${install}`
})

const grpcInstall = "npm install @grpc/grpc-js@^1.14.7 @grpc/proto-loader@^0.8.1"
const grpcCase = (blocked: ReadonlyArray<string>): Case => ({
  family: "grpc",
  namespace: "Grpc",
  blocked,
  nodeType: "grpc.unary",
  nodeConfig: { client: "orders", method: "GetOrder" },
  layerConfig: { clients: { orders: { address: "127.0.0.1:1", protoFiles: ["orders.proto"], service: "shop.Orders" } } }
})

describe("optional protocol libraries", () => {
  it("soap: importing the connectors and compiling soap.call loads no library; the layer fails with MissingPackage", async () => {
    const report = await run({
      family: "soap",
      namespace: "Soap",
      blocked: ["soap"],
      nodeType: "soap.call",
      nodeConfig: { client: "orders", operation: "GetOrder" },
      layerConfig: { clients: { orders: { wsdl: "http://127.0.0.1:1/orders?wsdl" } } }
    })
    assert.strictEqual(report.compiled, "Success")
    assert.deepStrictEqual(report.beforeLayer, [])
    assert.deepStrictEqual(unique(report.seen), ["soap"], "building the layer asked for soap, and only soap")
    const expected = missing("soap", "the SOAP connector", "npm install soap@^1.13.0")
    assert.deepStrictEqual(report.direct, expected)
    assert.deepStrictEqual(report.viaEnvironment, expected)
  })

  it("grpc: no library at import; a missing @grpc/grpc-js fails the layer with MissingPackage", async () => {
    const report = await run(grpcCase(["@grpc/grpc-js", "@grpc/proto-loader"]))
    assert.strictEqual(report.compiled, "Success")
    assert.deepStrictEqual(report.beforeLayer, [])
    assert.deepStrictEqual(unique(report.seen), ["@grpc/grpc-js"])
    const expected = missing("@grpc/grpc-js", "the gRPC connector", grpcInstall)
    assert.deepStrictEqual(report.direct, expected)
    assert.deepStrictEqual(report.viaEnvironment, expected)
  })

  it("grpc: with grpc-js installed but not @grpc/proto-loader, MissingPackage names the loader", async () => {
    const report = await run(grpcCase(["@grpc/proto-loader"]))
    assert.deepStrictEqual(report.beforeLayer, [])
    assert.deepStrictEqual(unique(report.seen), ["@grpc/grpc-js", "@grpc/proto-loader"])
    assert.deepStrictEqual(report.direct, missing("@grpc/proto-loader", "the gRPC connector", grpcInstall))
  })

  it("mail: importing the connectors and compiling mail.send loads no nodemailer; the layer fails with MissingPackage", async () => {
    const report = await run({
      family: "mail",
      namespace: "Mail",
      blocked: ["nodemailer"],
      nodeType: "mail.send",
      nodeConfig: { from: "flows@example.com" },
      layerConfig: { host: "127.0.0.1", port: 1 }
    })
    assert.strictEqual(report.compiled, "Success")
    assert.deepStrictEqual(report.beforeLayer, [])
    assert.deepStrictEqual(unique(report.seen), ["nodemailer"])
    const expected = missing("nodemailer", "the mail connector", "npm install nodemailer@^10.6.0")
    assert.deepStrictEqual(report.direct, expected)
    assert.deepStrictEqual(report.viaEnvironment, expected)
  })
})
