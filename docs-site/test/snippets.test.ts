// The runnable files the guides include (docs-site/snippets) do what the pages say they do.
import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Save } from "@jsonflow/json-dsl"
import { describe, expect, it } from "vitest"

const run = promisify(execFile)
const snippet = (name: string) => fileURLToPath(new URL(`../snippets/${name}`, import.meta.url))
const node = (file: string, env: Readonly<Record<string, string>> = {}) =>
  run(process.execPath, [file], { env: { ...process.env, ...env }, timeout: 20_000 })

describe("docs snippets", () => {
  it("invoice.flow.json is the quickstart flow saved as JSON", async () => {
    const { invoice } = await import("../../examples/quickstart/main.ts")
    expect(await readFile(snippet("fixtures/invoice.flow.json"), "utf8")).toBe(Save.save(invoice.ir))
  })

  it("run-json.ts runs the JSON flow like the quickstart runs the TypeScript one", async () => {
    const { stdout } = await node(snippet("run-json.ts"))
    expect(stdout.split("\n")[0]).toBe('output: [{"id":1,"gross":120},{"id":3,"gross":96}]')
  })

  it("crm-connector.ts runs its flow with the layer", async () => {
    const { stdout } = await node(snippet("crm-connector.ts"))
    expect(stdout.trim()).toBe('{"id":"c-1","created":true}')
  })

  it("embedding.ts answers 200 for a good body and 400 for a bad one", async () => {
    const { stdout } = await node(snippet("embedding.ts"), { JSONFLOW_CREDENTIAL_CRM_TOKEN: "t" })
    const [ok, bad] = stdout.trim().split("\n")
    expect(ok).toBe('200 {"id":"c-1","created":true}')
    expect(bad).toMatch(/^400 InputInvalid: /)
  })
})
