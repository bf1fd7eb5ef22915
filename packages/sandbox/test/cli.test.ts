import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, assert, describe, it } from "@effect/vitest"

const bin = new URL("../../runner/bin/jsonflow.js", import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), "jsonflow-script-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return name
}

const jsonflow = async (args: ReadonlyArray<string>) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: dir })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)

describe("jsonflow script", () => {
  const double = file("double.js", "export default (input, ctx) => ({ doubled: input.n * 2, node: ctx.nodeId })\n")
  const typed = file(
    "typed.ts",
    "type In = { n: number }\nexport default async (input: In): Promise<string> => 'n=' + input.n\n"
  )
  const throws = file(
    "throws.js",
    "export default (input) => {\n  console.log('about to fail')\n  return input.missing.deep\n}\n"
  )
  const broken = file("broken.ts", "enum Mode { A }\nexport default () => Mode.A\n")
  const logs = file("logs.js", "export default (input) => { console.info('seen', input.n); return null }\n")
  file("input.json", '{"n": 5}')

  it("prints one JSON line per file and exits 0 when every script ran to a result or a typed error", async () => {
    const { code, stdout } = await jsonflow(["script", double, typed, throws, broken, logs, "--input", '{"n":21}'])
    assert.strictEqual(code, 0)
    const [a, b, c, d, e] = lines(stdout)
    assert.deepStrictEqual(a, { file: double, ok: true, output: { doubled: 42, node: "double.js" } })
    assert.deepStrictEqual(b, { file: typed, ok: true, output: "n=21" })
    assert.strictEqual(c?.ok, false)
    assert.deepInclude(c?.error as object, { _tag: "ScriptError", errorName: "TypeError", line: 3, column: 24 })
    assert.deepInclude(d?.error as object, { _tag: "ScriptCompileError", reason: "typescript", line: 1, column: 1 })
    assert.match(String((d?.error as { message?: string } | undefined)?.message), /enum/)
    assert.deepStrictEqual(e, { file: logs, ok: true, output: null, logs: [{ level: "info", message: "seen 21" }] })
  }, 30_000)

  it("reads the input from a file with --input @file", async () => {
    const { code, stdout } = await jsonflow(["script", double, "--input", "@input.json"])
    assert.strictEqual(code, 0)
    assert.deepStrictEqual(lines(stdout), [{ file: double, ok: true, output: { doubled: 10, node: "double.js" } }])
  }, 30_000)

  it("reports a timeout as a typed error", async () => {
    const spin = file("spin.js", "export default () => { let i = 0; while (i >= 0) i++ }\n")
    const { code, stdout } = await jsonflow(["script", spin])
    assert.strictEqual(code, 0)
    assert.deepInclude(lines(stdout)[0]?.error as object, { _tag: "ScriptTimeout", reason: "cpu", timeoutMs: 1000 })
  }, 30_000)

  it("exits 2 when the tool itself fails: no file, an unreadable file, bad --input", async () => {
    const none = await jsonflow(["script"])
    assert.strictEqual(none.code, 2)
    assert.match(none.stderr, /no script file/)
    const missing = await jsonflow(["script", double, "missing.js", "--input", '{"n":1}'])
    assert.strictEqual(missing.code, 2)
    assert.match(missing.stderr, /cannot read missing\.js/)
    assert.deepStrictEqual(lines(missing.stdout), [
      { file: double, ok: true, output: { doubled: 2, node: "double.js" } }
    ])
    const badInput = await jsonflow(["script", double, "--input", "{nope"])
    assert.strictEqual(badInput.code, 2)
    assert.match(badInput.stderr, /--input is not JSON/)
    const help = await jsonflow(["script", "--help"])
    assert.strictEqual(help.code, 0)
    assert.match(help.stdout, /Usage: jsonflow script/)
  }, 30_000)
})
