import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { repoRoot, serve, tempDir } from "./support.ts"

const deploy = join(repoRoot, "packages/runner/deploy")
const dockerfile = readFileSync(join(deploy, "Dockerfile"), "utf8")

// The instructions of the last stage, with line continuations joined.
const runtimeStage = () => {
  const joined = dockerfile.replace(/\\\n\s*/g, " ")
  const stages = joined.split(/^FROM /m)
  return stages[stages.length - 1]!.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
}
const instruction = (name: string) =>
  runtimeStage()
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim())
const envOf = () => {
  const env: Record<string, string> = {}
  for (const line of instruction("ENV")) {
    for (const match of line.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g)) env[match[1]!] = match[2]!.replace(/^"|"$/g, "")
  }
  return env
}

describe("container", () => {
  it("Dockerfile: multi-stage on Node 24 slim, non-root, --no-node-snapshot, health check", () => {
    expect(dockerfile.match(/^FROM node:24-slim/gm)?.length).toBe(2)
    expect(instruction("USER")).toEqual(["node"])
    expect(envOf().NODE_OPTIONS).toBe("--no-node-snapshot")
    expect(instruction("HEALTHCHECK")[0]).toContain("/health")
  })

  // No Docker engine runs here, so this runs the image's ENTRYPOINT + CMD with its ENV directly, from the
  // repository root (not /app) and with the workspace's node_modules (dev dependencies included). It proves
  // the command line, the environment, the flow path setting, the health check command and the SIGTERM
  // exit. It does not prove that the image builds, that the production install (`npm ci --omit=dev` in the
  // build stage) holds every runtime dependency, that isolated-vm's native module loads on node:24-slim, nor
  // that the non-root user can read /app: `docker build` and a container run in CI would.
  it("the image's entrypoint command serves the flows, passes its health check and stops on SIGTERM", async () => {
    const entrypoint = JSON.parse(instruction("ENTRYPOINT")[0]!) as Array<string>
    const cmd = JSON.parse(instruction("CMD")[0]!) as Array<string>
    expect(entrypoint[0]).toBe("node")
    const audit = tempDir()
    let stop = () => {}
    try {
      // Run exactly ENTRYPOINT + CMD with the image's ENV, from the repository root instead of /app.
      const env = {
        ...envOf(),
        PORT: "0",
        JSONFLOW_SERVER_HOST: "127.0.0.1",
        JSONFLOW_FLOWS_PATHS: join(repoRoot, "examples/flows"),
        JSONFLOW_AUDIT_PATH: join(audit.dir, "audit")
      }
      const served = await serve([...entrypoint.slice(2), ...cmd], env, entrypoint.slice(1, 2))
      stop = () => served.child.kill("SIGKILL")
      const r = await fetch(`${served.url}/double`, { method: "POST", body: '{"value":21}' })
      expect(await r.json()).toEqual({ result: 42 })
      // The TypeScript example (a module exporting a built flow) is served too.
      expect(await (await fetch(`${served.url}/hello/world`)).json()).toMatchObject({ message: "Hello, world" })
      const health = JSON.parse(instruction("HEALTHCHECK")[0]!.replace(/^.*CMD /, "")) as Array<string>
      const port = new URL(served.url).port
      const check = await promisify(execFile)(health[0] === "node" ? process.execPath : health[0]!, health.slice(1), {
        env: { ...process.env, PORT: port }
      }).then(
        () => 0,
        (e: { code: number }) => e.code
      )
      expect(check).toBe(0)
      served.child.kill("SIGTERM")
      expect(await served.exited).toBe(0)
    } finally {
      stop()
      audit.cleanup()
    }
  })

  it("Kubernetes manifests parse: a Deployment per flow with FLOW_ID and probes, Service, HPA, ConfigMap, Secret", () => {
    const docs = ["configmap.yaml", "secret.yaml", "flow-double.yaml"].flatMap((file) =>
      parseAllDocuments(readFileSync(join(deploy, "k8s", file), "utf8")).map((d) => {
        expect(d.errors).toEqual([])
        return d.toJS() as { kind: string; spec?: Record<string, unknown>; data?: Record<string, string> }
      })
    )
    expect(docs.map((d) => d.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "HorizontalPodAutoscaler",
      "Secret",
      "Service"
    ])
    const deployment = docs.find((d) => d.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: Array<Record<string, unknown>> } } }
    }
    const container = deployment.spec.template.spec.containers[0] as {
      env: Array<{ name: string; value: string }>
      readinessProbe: { httpGet: { path: string } }
      livenessProbe: { httpGet: { path: string } }
    }
    expect(container.env.find((e) => e.name === "FLOW_ID")?.value).toBe("double")
    expect(container.readinessProbe.httpGet.path).toBe("/ready")
    expect(container.livenessProbe.httpGet.path).toBe("/health")
    const configMap = docs.find((d) => d.kind === "ConfigMap")!
    // The embedded files are valid: the runner config and a flow.
    expect(JSON.parse(configMap.data!["runner.json"]!)).toMatchObject({ audit: { sink: "postgres" } })
    expect(JSON.parse(configMap.data!["double.flow.json"]!)).toMatchObject({ id: "double" })
  })

  it("compose file parses: runner, PostgreSQL and Redis", () => {
    const [doc] = parseAllDocuments(readFileSync(join(deploy, "compose.yaml"), "utf8"))
    expect(doc!.errors).toEqual([])
    const compose = doc!.toJS() as { services: Record<string, { environment?: Record<string, string> }> }
    expect(Object.keys(compose.services).sort()).toEqual(["postgres", "redis", "runner"])
    expect(compose.services.runner!.environment!.JSONFLOW_REDIS_URL).toBe("redis://redis:6379")
  })
})
