import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const main = fileURLToPath(new URL("./main.ts", import.meta.url))

describe("quickstart", () => {
  it("the README's first flow is this example, verbatim", async () => {
    const readme = await readFile(`${root}README.md`, "utf8")
    const block = readme.split("## A first flow")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1]
    expect(block).toBe(await readFile(main, "utf8"))
  })

  it("runs with `node` and prints the priced paid orders and the trace", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [main], { cwd: root })
    const lines = stdout.trim().split("\n")
    expect(lines[0]).toBe('output: [{"id":1,"gross":120},{"id":3,"gross":96}]')
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      "ExecutionStarted",
      "NodeStarted paid",
      "NodeSucceeded paid",
      "NodeStarted gross",
      "NodeSucceeded gross",
      "ExecutionFinished"
    ])
  })
})
