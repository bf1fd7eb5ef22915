import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@jsonflow/audit"
import type { FlowEvents } from "@jsonflow/core"
import { SECRETS, secretOrder } from "./corpus.ts"

const found = (text: string) => Object.entries(SECRETS).filter(([, secret]) => text.includes(secret))

const started = (input: unknown): FlowEvents.FlowEvent => ({
  _tag: "NodeStarted",
  eventId: "x:1",
  seq: 1,
  executionId: "x",
  flowId: "f",
  flowVersion: "1",
  at: 0,
  nodeId: "n",
  nodeType: "t",
  attempt: 1,
  input
})

describe("Redaction", () => {
  it("masks keys, patterns and known secrets everywhere in the payload", () => {
    const redactor = Redaction.make({ secrets: () => [SECRETS.credential] })
    const out = redactor.entry(started({ order: secretOrder, message: secretOrder.failWith }))
    const text = JSON.stringify(out)
    assert.deepStrictEqual(found(text), [])
    assert.include(text, "keep-me")
    assert.include(text, "[REDACTED:email]")
    assert.include(text, "[REDACTED:card]")
  })

  it("leaves numbers that are not card numbers and ordinary text alone", () => {
    const redactor = Redaction.make()
    const value = { amount: 4111111111111112, phone: "call 555 1234 567", id: "order-12345678901234" }
    assert.deepStrictEqual(redactor.value(value), value)
  })

  it("never mutates the recorded value (full snapshots hold the flow's own data)", () => {
    const input = { customer: { password: "p4ssw0rd!", name: "Ann" }, list: [{ token: "abc123xyz" }] }
    const copy = structuredClone(input)
    const out = Redaction.make().value(input) as typeof input
    assert.deepStrictEqual(input, copy)
    assert.strictEqual(out.customer.password, "[REDACTED]")
    assert.strictEqual(out.customer.name, "Ann")
    assert.strictEqual(out.list[0]!.token, "[REDACTED]")
  })

  it("hides configured paths, with * and ** segments", () => {
    const redactor = Redaction.make({ paths: ["input.customer.ssn", "input.items.*.iban2", "**.internal"] })
    const out = redactor.entry(
      started({ customer: { ssn: "123-45-6789" }, items: [{ iban2: "DE89" }], deep: { a: { internal: 1 } } })
    ) as { input: unknown }
    assert.deepStrictEqual(out.input, {
      customer: { ssn: "[REDACTED]" },
      items: [{ iban2: "[REDACTED]" }],
      deep: { a: { internal: "[REDACTED]" } }
    })
  })

  it("encrypts with AES-256-GCM under a key id, and decrypts after a key rotation", () => {
    const old = Redaction.keyringFrom(`k1:${Redaction.generateKey()}`)
    const sealed = Redaction.make({ mode: "encrypt", keyring: old, secrets: () => [SECRETS.credential] }).value(
      secretOrder
    )
    const text = JSON.stringify(sealed)
    assert.deepStrictEqual(found(text), [])
    assert.include(text, '"kid":"k1"')
    // Rotation: k2 encrypts from now on, k1 still decrypts old records.
    const k1 = Buffer.from(old.keys.get("k1")!).toString("base64")
    const rotated = Redaction.keyringFrom(`k2:${Redaction.generateKey()},k1:${k1}`)
    assert.deepStrictEqual(Redaction.reveal(sealed, rotated), secretOrder)
    const again = Redaction.make({ mode: "encrypt", keyring: rotated }).value({ token: "t0ps3cret-value" })
    assert.include(JSON.stringify(again), '"kid":"k2"')
    assert.deepStrictEqual(Redaction.reveal(again, rotated), { token: "t0ps3cret-value" })
  })

  it("refuses a bad keyring", () => {
    assert.throws(() => Redaction.keyringFrom("k1:c2hvcnQ="), /32 bytes/)
    assert.throws(() => Redaction.make({ mode: "encrypt" }), /keyring/)
  })
})
