import { readdirSync, readFileSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { Config as AuditConfig, Query } from "@jsonflow/audit"
import { Credentials, Flow, Node } from "@jsonflow/core"
import { Runner } from "@jsonflow/runner"
import { Effect, Redacted, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { httpFlow, post, tempDir } from "./support.ts"

// A value no redaction pattern or key name would catch: only the credential scrubbing can hide it.
const SECRET = "plum-orchard-7731-quiet"

// A builder node that hands a resolved credential on as data (what a careless connector or node might do).
const revealed = Node.define({
  type: "test.reveal",
  input: Schema.Unknown,
  output: Schema.Struct({ team: Schema.String }),
  run: () => Effect.map(Credentials.field("team", "value"), (value) => ({ team: Redacted.value(value) }))
})
const builder = Flow.make({ id: "reveal", trigger: { type: "http", method: "POST", path: "/reveal" } })
  .andThen("reveal", revealed, {})
  .build()

// Every file under a directory, as text (the embedded store's data files included).
const allText = (path: string): string =>
  statSync(path).isDirectory()
    ? readdirSync(path)
        .map((name) => allText(join(path, name)))
        .join("\n")
    : readFileSync(path).toString("latin1")

describe("credentials resolved by flows never reach the audit store", () => {
  let echo: Server
  let echoUrl = ""
  beforeAll(async () => {
    // Answers the header the connector sent, in a field no redaction rule knows.
    echo = createServer((req, res) => {
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify({ seen: req.headers["x-team"] ?? null }))
    })
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve))
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())))

  const jsonFlow = () =>
    httpFlow("echo", "POST", "/echo", [
      {
        type: "http.request",
        config: {
          method: "GET",
          url: `${echoUrl}/team`,
          auth: { type: "header", credential: "team", header: "x-team" }
        }
      },
      { type: "map", config: { fields: { seen: "body.seen" } } }
    ])

  for (const sink of ["jsonl", "embedded"] as const) {
    it(`${sink}: a JSON flow (http.request auth) and a builder flow echo the secret; the store has neither`, async () => {
      const files = tempDir({ "echo.flow.json": jsonFlow() })
      const store = join(files.dir, sink === "jsonl" ? "audit.jsonl" : "audit")
      try {
        const runner = await Runner.start({
          flows: [files.dir, builder],
          log: () => {},
          env: { JSONFLOW_CREDENTIAL_TEAM_VALUE: SECRET },
          config: {
            server: { port: 0, host: "127.0.0.1" },
            flows: { watch: false },
            ssrf: { allow: ["127.0.0.1"] },
            audit: { sink, path: store, snapshots: "full" }
          }
        })
        let ids: Array<string> = []
        const traces = () =>
          Effect.runPromise(
            Effect.forEach(ids, (id) => Query.trace(id)).pipe(
              // The runner holds the embedded store: this process shares its instance.
              Effect.provide(AuditConfig.storeLayer(AuditConfig.target(store, files.dir)))
            )
          )
        let recorded: Awaited<ReturnType<typeof traces>> = []
        try {
          const json = await post(`${runner.url}/echo`, {})
          const built = await post(`${runner.url}/reveal`, {})
          // The flows did resolve the credential (the caller asked for it back; that is the flow's business).
          expect(json).toMatchObject({ status: 200, body: { seen: SECRET } })
          expect(built).toMatchObject({ status: 200, body: { team: SECRET } })
          ids = [json.headers.get("x-execution-id")!, built.headers.get("x-execution-id")!]
          if (sink === "embedded") {
            // Written off the request path: wait until both executions are finished in the store.
            const end = Date.now() + 15_000
            while (Date.now() < end) {
              recorded = await traces()
              if (recorded.every((t) => t?.execution.status === "succeeded")) break
              await new Promise((r) => setTimeout(r, 100))
            }
          }
        } finally {
          await runner.stop() // flushes the audit
        }
        // The executions are recorded, node outputs included, but the secret is not there.
        if (sink === "embedded") {
          expect(recorded.map((t) => t?.execution.status)).toEqual(["succeeded", "succeeded"])
          expect(JSON.stringify(recorded)).toContain("[REDACTED")
          expect(JSON.stringify(recorded)).not.toContain(SECRET)
        } else {
          const text = readFileSync(store, "utf8")
          for (const id of ids) expect(text).toContain(`"executionId":"${id}"`)
          expect(text).toContain("[REDACTED")
        }
        expect(allText(store)).not.toContain(SECRET)
      } finally {
        files.cleanup()
      }
    }, 30_000)
  }
})
