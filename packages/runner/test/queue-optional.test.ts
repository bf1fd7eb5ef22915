/**
 * BullMQ is an optional peer dependency of the runner. These runners start with a resolve hook that makes
 * `bullmq` unresolvable (Node's own "Cannot find package" error, as on an install without it) and writes a
 * line for every attempt: a queue-triggered flow must stop the start with the `MissingPackage` message (no
 * stack trace), and a runner whose flows use no queue must start and serve without even trying.
 */
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, expect, it } from "vitest"
import { bin, describeWith, httpFlow, post, redisUrl, repoRoot, serve, tempDir } from "./support.ts"

const marker = "[hook] resolving bullmq"

const hook = `
import { registerHooks } from "node:module"
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "bullmq" || specifier.startsWith("bullmq/")) {
      process.stderr.write(${JSON.stringify(`${marker}\n`)})
      // Resolved from a directory with no node_modules: the error of a package that is not installed.
      return nextResolve(specifier, { ...context, parentURL: "file:///jsonflow-nowhere/x.js" })
    }
    return nextResolve(specifier, context)
  }
})
`

describeWith(["redis"], "queue trigger without bullmq installed", () => {
  const files = tempDir({ "no-bullmq.mjs": hook })
  const queued = tempDir({
    "orders.flow.json": {
      dsl: 1,
      id: "orders",
      version: "1",
      trigger: { type: "queue", queue: `orders-${randomUUID().slice(0, 8)}` },
      nodes: { shape: { type: "map", config: { fields: { id: "id" } } } },
      edges: [{ from: { node: "$input", port: "out" }, to: { node: "shape", port: "in" } }]
    }
  })
  const httpOnly = tempDir({
    "ping.flow.json": httpFlow("ping", "POST", "/ping", [{ type: "map", config: { fields: { n: "n" } } }])
  })
  const command = ["--import", pathToFileURL(join(files.dir, "no-bullmq.mjs")).href, bin]
  const env = {
    JSONFLOW_REDIS_URL: redisUrl,
    JSONFLOW_REDIS_PREFIX: `jsonflow-test-${randomUUID().slice(0, 8)}`,
    JSONFLOW_AUDIT_SINK: "none",
    JSONFLOW_FLOWS_WATCH: "false"
  }
  afterAll(() => {
    files.cleanup()
    queued.cleanup()
    httpOnly.cleanup()
  })

  it("a runner with a queue-triggered flow does not start, and says which package to install", async () => {
    const child = spawn(process.execPath, [...command, "serve", queued.dir, "--port", "0"], {
      cwd: repoRoot,
      env: { ...process.env, JSONFLOW_LOGS_LEVEL: "warn", ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(stderr).toContain(marker)
    expect({ code, stdout }).toEqual({ code: 1, stdout: "" })
    expect(stderr).toContain(
      'jsonflow serve: the runner could not start: queues: the queue trigger needs the "bullmq" package, ' +
        "which is not installed: npm install bullmq@^6.7.0\n"
    )
    expect(stderr).not.toMatch(/\n\s+at /)
  })

  it("a runner whose flows use no queue starts and serves without loading bullmq", async () => {
    const served = await serve(["serve", httpOnly.dir, "--port", "0", "--host", "127.0.0.1"], env, command)
    try {
      const response = await post(`${served.url}/ping`, { n: 1 })
      expect(response.status).toBe(200)
    } finally {
      served.child.kill("SIGTERM")
      await served.exited
    }
    expect(served.stderr()).not.toContain(marker)
  })
})
