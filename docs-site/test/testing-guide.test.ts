// The example of the "Testing flows" guide, run as a test: a flow whose node needs a CRM service, tested
// with no service at all by mocking the node, then asserting on the result and on the trace.
import * as Testing from "@jsonflow/core/testing"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Crm, signup } from "../snippets/crm-connector.ts"

const ada = { email: "ada@example.com", name: "Ada" }

// The flow's type requires Crm. The mock replaces the only node that uses it, so this stand-in is never
// called; it only satisfies the type.
const noCrm = Layer.succeed(Crm, { upsert: () => Effect.die("replaced by the mock") })

describe("signup flow", () => {
  it("returns what the CRM answered", async () => {
    const run = await Effect.runPromise(
      Testing.run(signup, ada, { mocks: { crm: { id: "c-7", created: false } } }).pipe(Effect.provide(noCrm))
    )
    expect(run.error).toBeUndefined()
    expect(run.output).toEqual({ id: "c-7", created: false })
    expect(run.trace.ran()).toEqual(["crm"])
    expect(run.trace.inputOf("crm")).toEqual(ada)
  })

  it("retries a retryable CRM failure three times, then fails naming the node", async () => {
    const outage = { fail: { _tag: "CrmError", message: "503 from the CRM", retryable: true } }
    const run = await Effect.runPromise(
      Testing.run(signup, ada, { mocks: { crm: outage } }).pipe(Effect.provide(noCrm))
    )
    expect(run.error?._tag).toBe("NodeFailed")
    expect(run.trace.attempts("crm")).toBe(3)
    expect(run.trace.failed()).toEqual(["crm"])
  })
})
