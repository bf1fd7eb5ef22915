import { assert, describe, it } from "@effect/vitest"
import { decodeBody, decodingFor, encodeBody } from "./Body.ts"

describe("encodeBody", () => {
  it("picks JSON or text in auto mode and sends nothing for none/undefined", () => {
    assert.deepStrictEqual(encodeBody({ a: 1 }, "auto"), { bytes: '{"a":1}', contentType: "application/json" })
    assert.deepStrictEqual(encodeBody("hi", "auto"), { bytes: "hi", contentType: "text/plain; charset=utf-8" })
    assert.deepStrictEqual(encodeBody("hi", "json"), { bytes: '"hi"', contentType: "application/json" })
    assert.isUndefined(encodeBody({ a: 1 }, "none"))
    assert.isUndefined(encodeBody(undefined, "json"))
  })

  it("rejects a form that is not an object and binary that is not base64", () => {
    assert.throws(() => encodeBody([1], "form"))
    assert.throws(() => encodeBody("%%%", "binary"))
  })
})

describe("decodeBody", () => {
  it("decodes by content type", () => {
    assert.strictEqual(decodingFor("application/problem+json; charset=utf-8"), "json")
    assert.strictEqual(decodingFor("application/soap+xml"), "text")
    assert.strictEqual(decodingFor(""), "text")
    assert.strictEqual(decodingFor("application/pdf"), "binary")
    assert.isNull(decodeBody(Buffer.from(""), "application/json", "auto"))
    assert.throws(() => decodeBody(Buffer.from("{"), "application/json", "auto"), SyntaxError)
  })
})
