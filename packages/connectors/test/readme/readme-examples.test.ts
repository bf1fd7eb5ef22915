import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))

describe("README examples", () => {
  it("every block marked as an example is the type-checked (or loaded) file, verbatim", async () => {
    const readme = await readFile(`${root}README.md`, "utf8")
    const blocks = [...readme.matchAll(/<!-- example: ([\w./-]+) [^>]*-->\s*```(?:ts|json)\n([\s\S]*?)```/g)]
    expect(blocks.map(([, path]) => path)).toEqual(
      expect.arrayContaining([
        "test/readme/http.example.ts",
        "test/readme/sql.example.ts",
        "../../examples/reference-use-case/flow.ts",
        "../../examples/reference-use-case/flow.json",
        "test/readme/soap.example.ts",
        "test/readme/grpc.example.ts",
        "test/readme/redis.example.ts",
        "test/readme/mail.example.ts"
      ])
    )
    for (const [, path, code] of blocks) {
      expect(code, path).toBe(await readFile(`${root}${path}`, "utf8"))
    }
  })
})
