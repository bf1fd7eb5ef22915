/**
 * A script runner for tests of the nFlow contract: runs the generated wrapper in a fresh `node:vm` context.
 * Not a security boundary (production runs scripts in the isolated-vm sandbox); it lets the wrapper's
 * behaviour be tested where the sandbox is not wanted.
 *
 * @module vmRunner
 */
import { runInNewContext } from "node:vm"
import { Effect } from "effect"
import type { Nflow } from "../../src/index.ts"

export const vmRunner: Nflow.JsNode.ScriptRunner = {
  run: (source, input) =>
    Effect.try({
      try: () => {
        const fn = runInNewContext(`(${source.replace(/^export default /, "")})`, {}, { timeout: 1000 }) as (
          input: unknown
        ) => unknown
        return JSON.parse(JSON.stringify(fn(JSON.parse(JSON.stringify(input))))) as unknown
      },
      catch: (error) => error
    })
}
