// Serves the nFlow designer export in flows/ with the runner (as `jsonflow serve examples/nflow-export/flows`
// does), sends it a few requests and prints the answers. Run: node examples/nflow-export/main.ts
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import { Runner } from "@jsonflow/runner"
import { samples, send } from "./requests.ts"

const flows = fileURLToPath(new URL("./flows", import.meta.url))

// The export is imported when it is loaded: one flow per wired HTTP starter, code boxes in the sandbox.
const runner = await Runner.start({
  flows: [flows],
  config: {
    server: { host: "127.0.0.1", port: 0 },
    flows: { watch: false },
    audit: { sink: "none" },
    logs: { level: "error" }
  }
})
try {
  for (const flow of runner.flows()) console.log(`loaded ${flow.id} from ${relative(process.cwd(), flow.source)}`)
  for (const sample of samples) {
    const { status, body } = await send(runner.url!, sample)
    console.log(`${sample.method} ${sample.path} -> ${status} ${body}`)
  }
} finally {
  await runner.stop()
}
