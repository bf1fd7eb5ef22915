// The builder flow of flow.ts tested like code, with no database and no CRM: its two connector nodes are
// mocked (by hand, or from the fixture recorded from a real run), and the test asserts on the result and
// on the trace. `npx vitest run examples/reference-use-case/paid-orders.flowtest.test.ts`
import { readFile } from "node:fs/promises"
import { Http, Sql } from "@jsonflow/connectors"
import * as Testing from "@jsonflow/core/testing"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { paidOrdersToCrm } from "./flow.ts"

// The flow's type requires both connectors' services; every node that uses them is mocked.
const noServers = Testing.unused(Sql.SqlClient, Http.HttpClient)

const rows = [
  { id: 1, customer: "Ada", amount: 250, status: "paid" },
  { id: 2, customer: "Bob", amount: 40, status: "paid" },
  { id: 3, customer: "Cy", amount: 900, status: "open" }
]
const accepted = { status: 201, headers: {}, body: { accepted: 1 } }

describe("paid orders to the CRM (flow.ts), offline", () => {
  it("posts the paid orders of 100 or more as contacts", async () => {
    const run = await Effect.runPromise(
      Testing.run(paidOrdersToCrm(), undefined, { mocks: { orders: rows, send: accepted } }).pipe(
        Effect.provide(noServers)
      )
    )
    expect(run.error).toBeUndefined()
    expect(run.output).toEqual(accepted)
    expect(run.trace.ran()).toEqual(["orders", "paid", "shape", "send"])
    expect(run.trace.inputOf("send")).toEqual([
      { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" }
    ])
  })

  it("a CRM outage is retried three times (without waiting), then fails naming the node", async () => {
    const outage = { fail: { _tag: "HttpStatusError", message: "503 Service Unavailable", retryable: true } }
    const run = await Effect.runPromise(
      Testing.run(paidOrdersToCrm(), undefined, { mocks: { orders: rows, send: outage } }).pipe(
        Effect.provide(noServers)
      )
    )
    expect(run.error?._tag).toBe("NodeFailed")
    expect(run.error?.message).toContain('node "send"')
    expect(run.trace.attempts("send")).toBe(3)
    expect(run.trace.errorOf("send")?._tag).toBe("HttpStatusError")
  })

  it("replays the execution recorded in paid-orders.fixture.json: the same POST and answer", async () => {
    const fixture = Testing.parseFixture(await readFile(new URL("./paid-orders.fixture.json", import.meta.url), "utf8"))
    const run = await Effect.runPromise(
      Testing.run(paidOrdersToCrm(), undefined, { fixture }).pipe(Effect.provide(noServers))
    )
    expect(run.output).toMatchObject({ status: 201, body: { accepted: 2 } })
    expect(run.trace.inputOf("send")).toEqual([
      { externalId: 1, contact: { name: "Ada" }, total: 250, currency: "EUR" },
      { externalId: 4, contact: { name: "Di" }, total: 120, currency: "EUR" }
    ])
  })
})
