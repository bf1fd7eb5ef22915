import { spawnSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import ivm from "isolated-vm"

describe("isolated-vm", () => {
  it("loads on this Node.js and runs code in an isolate with a memory limit", () => {
    const isolate = new ivm.Isolate({ memoryLimit: 16 })
    try {
      const context = isolate.createContextSync()
      assert.strictEqual(context.evalSync("6 * 7"), 42)
      assert.strictEqual(context.evalSync("typeof process + typeof require"), "undefinedundefined")
    } finally {
      isolate.dispose()
    }
  })

  it("loads in a process started like the sandbox process (--no-node-snapshot)", () => {
    const child = spawnSync(
      process.execPath,
      [
        "--no-node-snapshot",
        "-e",
        "const ivm = require('isolated-vm'); const i = new ivm.Isolate({ memoryLimit: 8 }); console.log(i.createContextSync().evalSync('1 + 1')); i.dispose()"
      ],
      { encoding: "utf8", cwd: new URL("..", import.meta.url).pathname }
    )
    assert.strictEqual(child.status, 0, child.stderr)
    assert.strictEqual(child.stdout.trim(), "2")
  })
})
