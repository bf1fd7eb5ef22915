import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { deployDir as deploy, dockerfile, envOf, instruction } from "./dockerfile.ts"

describe("container", () => {
  it("Dockerfile: multi-stage on Node 24 slim, non-root, --no-node-snapshot, health check", () => {
    expect(dockerfile.match(/^FROM node:24-slim/gm)?.length).toBe(3)
    expect(instruction("USER")).toEqual(["node"])
    expect(envOf().NODE_OPTIONS).toBe("--no-node-snapshot")
    expect(instruction("HEALTHCHECK")[0]).toContain("/health")
  })

  // The entrypoint itself runs in test/consumer.test.ts, in a directory laid out as the image's /app.

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
