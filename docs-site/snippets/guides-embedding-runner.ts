/**
 * The runner inside your own process, on its own port: `Runner.start` loads built flows (and JSON files),
 * serves their HTTP triggers, and runs any flow on demand with `trigger`. `stop()` drains and closes.
 */
import { fileURLToPath } from "node:url"
import { Runner } from "@jsonflow/runner"
import { greet } from "../../examples/flows/greet.ts"

const runner = await Runner.start({
  flows: [greet, fileURLToPath(new URL("../../examples/flows/double.flow.json", import.meta.url))],
  config: { server: { host: "127.0.0.1", port: 0 }, audit: { sink: "none" }, logs: { level: "warn" } }
})
try {
  console.log(
    runner
      .flows()
      .map((f) => `${f.id} (${f.kind})`)
      .join(", ")
  )
  // Over HTTP, as a client would call it: the flow's trigger is GET /hello/:name.
  const response = await fetch(`${runner.url}/hello/Ada`)
  console.log(response.status, await response.text())
  // In-process, without HTTP: rejects with the typed error (NodeFailed, InputInvalid, FlowNotFound, ...).
  const result = await runner.trigger("double", { value: 21 })
  console.log(JSON.stringify(result.reply?.body))
  const error = await runner.trigger("nope", {}).catch((e: unknown) => e)
  console.log(String(error))
} finally {
  await runner.stop()
}
