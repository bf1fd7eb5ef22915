import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"
import { Config, Runner, RunnerError } from "@jsonflow/runner"
import { describe, expect, it } from "vitest"
import { bin, repoRoot, tempDir } from "./support.ts"

describe("configuration", () => {
  it("applies defaults, then the file, then the values, then JSONFLOW_* env (PORT and FLOW_ID too)", () => {
    const files = tempDir({
      "runner.json": {
        $schema: "../node_modules/@jsonflow/runner/schema/config.schema.json",
        server: { port: 7000, bodyLimitBytes: 10 },
        limits: { maxConcurrent: 5 }
      }
    })
    try {
      const { config } = Config.load({
        file: `${files.dir}/runner.json`,
        values: { server: { bodyLimitBytes: 20 } },
        env: {
          JSONFLOW_SERVER_PORT: "9000",
          JSONFLOW_SERVER_TRUSTED_PROXIES: "10.0.0.0/8, 127.0.0.1",
          JSONFLOW_FLOWS_WATCH: "false",
          FLOW_ID: "orders",
          JSONFLOW_CREDENTIAL_DB_PASSWORD: "ignored"
        }
      })
      expect(config.server.port).toBe(9000)
      expect(config.server.bodyLimitBytes).toBe(20)
      expect(config.server.trustedProxies).toEqual(["10.0.0.0/8", "127.0.0.1"])
      expect(config.flows).toMatchObject({ watch: false, only: "orders" })
      expect(config.limits.maxConcurrent).toBe(5)
      expect(config.queue).toMatchObject({ attempts: 3, backoffMs: 2000 })
      expect(config.audit.sink).toBe("embedded")
    } finally {
      files.cleanup()
    }
  })

  it("reports every problem with its path and where the value came from", () => {
    let error: unknown
    try {
      Config.load({
        values: { server: { host: "x" }, bogus: 1 } as Config.RunnerConfig,
        env: { JSONFLOW_SERVER_PORT: "http", JSONFLOW_ADMIN_TOKEN: "short" }
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RunnerError.ConfigError)
    const message = (error as Error).message
    expect(message).toContain("/server/port (from JSONFLOW_SERVER_PORT)")
    expect(message).toContain("/admin/token (from JSONFLOW_ADMIN_TOKEN)")
    expect(message).toContain("/bogus")
  })

  it("names every env variable after its path", () => {
    const names = Config.environmentVariables().map((v) => v.name)
    expect(names).toContain("JSONFLOW_SERVER_BODY_LIMIT_BYTES")
    expect(names).toContain("JSONFLOW_REDIS_URL")
    expect(names).toContain("JSONFLOW_QUEUE_KEEP_FAILED_AGE_SECONDS")
    expect(names).toContain("FLOW_ID")
  })

  it("sandbox and audit sections: env names from their paths, defaults, and rules between keys", () => {
    const names = Config.environmentVariables().map((v) => v.name)
    for (const name of [
      "JSONFLOW_SANDBOX_LIMITS_TIMEOUT_MS",
      "JSONFLOW_SANDBOX_MAX_LIMITS_MEMORY_MB",
      "JSONFLOW_SANDBOX_PROCESSES",
      "JSONFLOW_SANDBOX_STATIC_CHECKS",
      "JSONFLOW_SANDBOX_MAX_RSS_MB",
      "JSONFLOW_AUDIT_REDIS",
      "JSONFLOW_AUDIT_STREAM",
      "JSONFLOW_AUDIT_RETENTION_DAYS",
      "JSONFLOW_AUDIT_REDACTION_PATHS",
      "JSONFLOW_AUDIT_REDACTION_MODE",
      "JSONFLOW_AUDIT_BUFFER_ON_FULL"
    ])
      expect(names).toContain(name)
    const { config, ignoredEnv } = Config.load({
      env: {
        JSONFLOW_SANDBOX_LIMITS_TIMEOUT_MS: "250",
        JSONFLOW_SANDBOX_PROCESSES: "2",
        JSONFLOW_AUDIT_SINK: "redis",
        JSONFLOW_REDIS_URL: "redis://10.0.0.5:6379",
        JSONFLOW_AUDIT_REDACTION_PATHS: "input.customer.ssn, output.*.iban",
        JSONFLOW_AUDIT_BUFFER_ON_FULL: "block",
        JSONFLOW_AUDIT_KEYS: "k1:never-a-config-value"
      }
    })
    expect(config.sandbox).toEqual({
      limits: { timeoutMs: 250 },
      maxLimits: {},
      processes: 2,
      staticChecks: "block",
      maxRssMb: 1024
    })
    // The redis sink falls back to the runner's Redis; the stream has the worker's default name.
    expect(config.audit).toMatchObject({ sink: "redis", redis: "redis://10.0.0.5:6379", stream: "jsonflow:audit" })
    expect(config.audit.redaction.paths).toEqual(["input.customer.ssn", "output.*.iban"])
    expect(config.audit.buffer).toEqual({
      capacity: 20_000,
      onFull: "block",
      journalDir: undefined,
      flushTimeoutMs: 10_000
    })
    expect(ignoredEnv).toEqual([]) // the keys are read by the audit, not configuration

    const problems = (values: Config.RunnerConfig) => {
      try {
        Config.load({ values, env: {} })
        return ""
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(problems({ sandbox: { limits: { timeoutMs: 5000 }, maxLimits: { timeoutMs: 1000 } } })).toContain(
      "/sandbox/limits/timeoutMs (from options): 5000 is above its ceiling sandbox.maxLimits.timeoutMs (1000)"
    )
    expect(problems({ audit: { sink: "redis" } })).toContain("/audit/redis (from options): the redis sink needs")
    expect(problems({ audit: { sink: "postgres" } })).toContain("/audit/url (from options): the postgres sink needs")
    expect(problems({ audit: { sink: "postgres", url: "mysql://x" } })).toContain("expected a postgres:// URL")
    expect(problems({ sandbox: { limits: { memoryMb: 4 } } })).toContain("/sandbox/limits/memoryMb")
  })

  it("publishes its JSON Schema (schema/config.schema.json is current)", () => {
    const published = JSON.parse(readFileSync(new URL("../schema/config.schema.json", import.meta.url), "utf8"))
    expect(published).toEqual(Config.jsonSchema())
    expect(published.$defs.RunnerConfig.properties.server).toBeDefined()
  })

  it("Runner.start rejects a bad config before binding anything", async () => {
    const attempt = Runner.start({
      env: { JSONFLOW_SERVER_PORT: "99999" },
      log: () => {},
      config: { audit: { sink: "none" } }
    })
    await expect(attempt).rejects.toBeInstanceOf(RunnerError.ConfigError)
    await attempt.then(
      (r) => r.stop(),
      () => {}
    )
  })

  it("jsonflow serve exits 1 with a clear message on a bad config", async () => {
    const files = tempDir({ "bad.json": { server: { port: "eighty" } } })
    try {
      const result = await promisify(execFile)(
        process.execPath,
        [bin, "serve", "examples/flows", "--config", `${files.dir}/bad.json`],
        {
          cwd: repoRoot
        }
      ).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr })
      )
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("invalid configuration")
      expect(result.stderr).toContain(`/server/port (from ${files.dir}/bad.json)`)
    } finally {
      files.cleanup()
    }
  })

  it("jsonflow serve reports flows that do not load, with their file and pointer", async () => {
    const files = tempDir({
      "broken.flow.json": {
        dsl: 1,
        id: "broken",
        version: "1",
        trigger: { type: "manual" },
        nodes: { a: { type: "nope" } },
        edges: []
      }
    })
    try {
      const result = await promisify(execFile)(process.execPath, [bin, "serve", files.dir, "--port", "0"], {
        cwd: repoRoot,
        env: { ...process.env, JSONFLOW_AUDIT_SINK: "none" }
      }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr })
      )
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("broken.flow.json")
      expect(result.stderr).toContain('unknown node type "nope"')
    } finally {
      files.cleanup()
    }
  })
})
