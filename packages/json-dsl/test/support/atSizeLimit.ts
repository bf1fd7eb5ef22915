/**
 * Reads a generated flow file just under the 16 MiB limit through `FlowFile.interpret` (what `jsonflow
 * validate` does) and prints how long it took and what it found, as JSON. Run in a child process with a
 * capped heap by `limits.test.ts`, so running out of memory fails that test instead of slowing the suite.
 *
 * Usage: node atSizeLimit.ts <flat|objects>
 *
 * @module atSizeLimit
 */
import { Buffer } from "node:buffer"
import { FlowFile, JsonText } from "../../src/index.ts"

const shape = process.argv[2]
const head = '{"dsl":1,"id":"big","version":"1","trigger":{"type":"manual"},"nodes":{},"edges":[],"x":['
const item = shape === "objects" ? '{"a":1},' : "1,"
const count = Math.floor((JsonText.DEFAULT_LIMITS.maxBytes - head.length - 3) / item.length)
const text = `${head}${item.repeat(count).slice(0, -1)}]}`
const started = performance.now()
const opened = FlowFile.interpret(text, FlowFile.validationRegistry)
const ms = performance.now() - started
process.stdout.write(
  JSON.stringify({
    bytes: Buffer.byteLength(text),
    ms: Math.round(ms),
    kind: opened.kind,
    problems: opened.problems.map((p) => [p.path, p.message, p.line ?? null])
  })
)
