/**
 * Replay restores what the nodes saw of their execution besides their input: the trigger data (an HTTP
 * request: method, path, params, query, headers, body) and the variables set upstream, as they were when
 * the chosen node started. Credential headers never reach the store; masked ones are left out of the
 * replayed request (and said so), encrypted ones come back with the keyring. On the embedded store and on
 * PostgreSQL (one schema, one set of queries).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Embedded, Postgres, Redaction, Replay, type Sink, Store } from "@jsonflow/audit"
import { Builtins, Compiler, type Ir, Node, Registry } from "@jsonflow/core"
import { Effect, ManagedRuntime, Schema, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshSchema, missingServices, PG_URL, titled } from "./services.ts"

const edge = (from: string, to: string) => ({ from: { node: from, port: "out" }, to: { node: to, port: "in" } })

/** Reads what a node sees of its execution: the variables and the trigger data. */
const label = Node.define({
  type: "test.label",
  input: Schema.Struct({ qty: Schema.Number, unit: Schema.Number, region: Schema.String, source: Schema.String }),
  output: Schema.Unknown,
  run: (input, _config, ctx) => {
    const total = input.qty * input.unit
    const trigger = ctx.trigger as { readonly method?: string }
    return Effect.succeed({
      total,
      line: `${String(ctx.variables.tenant)}/${input.region}/${total}/${String(ctx.variables.priced)}`,
      source: input.source,
      method: trigger.method
    })
  }
})
const registry = Registry.merge(Builtins.registry, Registry.make(label))

/** `tag` sets variables from the request, `price` and `label` read them and the request: 4 nodes in a line. */
const flow: Ir.Flow = {
  id: "priced",
  version: "1",
  trigger: { type: "http", method: "POST", path: "/orders/:region" },
  nodes: {
    tag: {
      type: "setVariables",
      config: { values: { region: "$trigger.params.region", tenant: "$trigger.headers.x-tenant" } }
    },
    price: {
      type: "map",
      config: {
        fields: { qty: "qty", unit: "unit", region: "$vars.region", source: "$trigger.query.source" }
      }
    },
    count: { type: "setVariables", config: { values: { priced: { value: true } } } },
    label: { type: "test.label", config: {} }
  },
  edges: [edge("$input", "tag"), edge("tag", "price"), edge("price", "count"), edge("count", "label")]
}

const request = (headers: Record<string, string>) => ({
  method: "POST",
  path: "/orders/eu",
  params: { region: "eu" },
  query: { source: "web" },
  headers: { "content-type": "application/json", "x-tenant": "acme", ...headers },
  body: { qty: 3, unit: 7 },
  clientIp: "127.0.0.1"
})
const expected = { total: 21, line: "acme/eu/21/true", source: "web", method: "POST" }
const keyring = Redaction.keyringFrom(`k1:${Redaction.generateKey()}`)

const suite = (
  name: string,
  missing: string | undefined,
  setup: () => {
    readonly sink: (tag: string) => Effect.Effect<Sink.Sink, unknown, Scope.Scope>
    readonly cleanup: () => Promise<void>
  }
) =>
  describe.skipIf(missing !== undefined)(titled(name, missing), () => {
    const { sink, cleanup } = setup()
    const journal = mkdtempSync(join(tmpdir(), "audit-replay-context-"))
    const runtimeWith = (tag: string, redaction: Redaction.RedactionOptions) =>
      ManagedRuntime.make(
        Audit.layer({ sinks: [sink(tag)], flows: [flow], redaction, buffer: { journalDir: join(journal, tag) } })
      )
    const masked = runtimeWith("mask", {})
    // A key list replacing the defaults: the credential headers are hidden all the same.
    const encrypted = runtimeWith("encrypt", { mode: "encrypt", keyring, keys: ["ssn"] })
    const original = { masked: "", encrypted: "" }

    const runOnce = async (runtime: typeof masked) => {
      const compiled = await runtime.runPromise(Compiler.compile(flow, registry))
      const trigger = request({ authorization: "Bearer s3cr3t-t0ken-value", cookie: "sid=abc123def" })
      const result = await runtime.runPromise(compiled.run(trigger.body, { trigger }))
      expect(result.output).toEqual({ label: expected })
      await runtime.runPromise(Audit.Audit.use((a) => a.flush))
      return result.executionId
    }

    beforeAll(async () => {
      original.masked = await runOnce(masked)
      original.encrypted = await runOnce(encrypted)
    }, 60_000)

    afterAll(async () => {
      await masked.dispose()
      await encrypted.dispose()
      await cleanup()
      rmSync(journal, { recursive: true, force: true })
    })

    const traceOf = (runtime: typeof masked, id: string) =>
      runtime.runPromise(Store.AuditStore.use((s) => s.trace(id))).then((t) => t!)

    it("records the request on ExecutionStarted and the variables where they change, without credentials", async () => {
      for (const [runtime, id] of [
        [masked, original.masked],
        [encrypted, original.encrypted]
      ] as const) {
        const trace = await traceOf(runtime, id)
        const text = JSON.stringify(trace)
        expect(text).not.toContain("s3cr3t-t0ken-value")
        expect(text).not.toContain("abc123def")
        const started = trace.events.find((e) => e._tag === "ExecutionStarted")
        expect(started?._tag === "ExecutionStarted" && started.triggerData).toMatchObject({
          method: "POST",
          params: { region: "eu" },
          query: { source: "web" },
          headers: { "x-tenant": "acme" },
          body: { qty: 3, unit: 7 }
        })
        const changes = trace.nodes.filter((n) => n.variables !== undefined)
        expect(changes.map((n) => [n.nodeId, n.variables])).toEqual([
          ["tag", { region: "eu", tenant: "acme" }],
          ["count", { region: "eu", tenant: "acme", priced: true }]
        ])
      }
    })

    it("replays from a downstream node with the variables set upstream and the request", async () => {
      for (const from of ["price", "label"]) {
        const plan = await masked.runPromise(Replay.plan({ executionId: original.masked, from, registry }))
        expect(plan.variables).toEqual(
          from === "price" ? { region: "eu", tenant: "acme" } : { region: "eu", tenant: "acme", priced: true }
        )
        // Masked credential headers are left out, and the plan says so.
        expect(Object.keys((plan.trigger as { headers: object }).headers).sort()).toEqual(["content-type", "x-tenant"])
        expect(plan.notes).toEqual([
          "the authorization header was masked by the audit and is left out",
          "the cookie header was masked by the audit and is left out"
        ])
        const replayed = await masked.runPromise(Replay.replay({ executionId: original.masked, from, registry }))
        expect(replayed.output).toEqual({ label: expected })
      }
    })

    it("replays from the start with the request; encrypted headers come back with the keyring", async () => {
      const plan = await encrypted.runPromise(Replay.plan({ executionId: original.encrypted, registry, keyring }))
      expect(plan.notes).toEqual([])
      expect(plan.trigger).toEqual(request({ authorization: "Bearer s3cr3t-t0ken-value", cookie: "sid=abc123def" }))
      const replayed = await encrypted.runPromise(
        Replay.replay({ executionId: original.encrypted, from: "price", registry, keyring })
      )
      expect(replayed.output).toEqual({ label: expected })
      // Without the keyring the encrypted headers cannot be used: refused, saying what to pass.
      const refused = await encrypted.runPromise(
        Effect.flip(Replay.plan({ executionId: original.encrypted, registry }))
      )
      expect(refused.message).toContain("the recorded trigger data is encrypted; pass the keyring")
      await encrypted.runPromise(Audit.Audit.use((a) => a.flush))
      const again = await traceOf(encrypted, replayed.executionId)
      expect(again.execution.replayOf).toBe(original.encrypted)
      // The replay records the restored request and variables too: it can be replayed in turn.
      const started = again.events.find((e) => e._tag === "ExecutionStarted")
      expect(started?._tag === "ExecutionStarted" && started.variables).toEqual({ region: "eu", tenant: "acme" })
      expect(JSON.stringify(again)).not.toContain("s3cr3t-t0ken-value")
    })
  })

suite("embedded store", undefined, () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-replay-context-store-"))
  return {
    sink: (tag) => Embedded.sink({ dataDir: join(dir, tag) }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true })
  }
})

suite("PostgreSQL store", missingServices("postgres"), () => {
  const { schema, drop } = freshSchema("audit_replay_ctx")
  return { sink: () => Postgres.sink({ url: PG_URL, schema }), cleanup: drop }
})

describe("redaction of recorded trigger data", () => {
  const started = (triggerData: unknown) => ({
    _tag: "ExecutionStarted" as const,
    eventId: "e:0",
    seq: 0,
    executionId: "e",
    flowId: "f",
    flowVersion: "1",
    at: 0,
    trigger: "http",
    snapshots: "full" as const,
    input: { customer: { ssn: "078-05-1120" } },
    triggerData
  })

  it("hides what an input path names in the request's body, query and params, and credential headers always", () => {
    const redactor = Redaction.make({ paths: ["input.customer.ssn"], keys: ["nothing"], patterns: [] })
    const out = redactor.entry(
      started({
        body: { customer: { ssn: "078-05-1120" } },
        query: { customer: { ssn: "078-05-1120" } },
        headers: { Authorization: "Basic dXNlcjpwYXNz", "X-Api-Key": "k-123456", cookie: "sid=1", "x-tenant": "acme" }
      })
    )
    expect(JSON.stringify(out)).not.toContain("078-05-1120")
    expect(out._tag === "ExecutionStarted" && out.triggerData).toEqual({
      body: { customer: { ssn: "[REDACTED]" } },
      query: { customer: { ssn: "[REDACTED]" } },
      headers: { Authorization: "[REDACTED]", "X-Api-Key": "[REDACTED]", cookie: "[REDACTED]", "x-tenant": "acme" }
    })
  })
})
