/**
 * Test support: which real services are here (Redis, PostgreSQL), and how a suite that needs one behaves
 * without it: skipped with the reason on a laptop, failing under `CI=true`. Plus helpers to start
 * `jsonflow serve` as a child process and to write flow files into a temporary directory.
 *
 * @module support
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Redis } from "ioredis"
import { describe, it } from "vitest"

export const isCI = process.env.CI === "true" || process.env.CI === "1"
export const redisUrl = process.env.JSONFLOW_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
export const postgresUrl = process.env.JSONFLOW_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
export const bin = fileURLToPath(new URL("../bin/jsonflow.js", import.meta.url))

const probe = (url: string): Promise<string> => {
  const parsed = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port) })
    const done = (reason: string) => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(1_000, () => done(`${parsed.host} did not answer`))
    socket.once("connect", () => done(""))
    socket.once("error", (e: NodeJS.ErrnoException) => done(`${parsed.host} is unreachable (${e.code ?? e.message})`))
  })
}

const [redisProblem, postgresProblem] = await Promise.all([probe(redisUrl), probe(postgresUrl)])

/**
 * `describe` for a suite needing services: runs when they answer; otherwise a visible skip, or under CI a
 * failing test naming what is missing.
 */
export const describeWith = (services: ReadonlyArray<"redis" | "postgres">, name: string, body: () => void) => {
  const missing = services
    .map((s) =>
      s === "redis"
        ? redisProblem
          ? `Redis: ${redisProblem}`
          : ""
        : postgresProblem
          ? `PostgreSQL: ${postgresProblem}`
          : ""
    )
    .filter((m) => m !== "")
  if (missing.length === 0) return describe(name, body)
  if (isCI)
    return describe(name, () =>
      it(`needs ${missing.join("; ")}`, () => {
        throw new Error(`CI=true and ${missing.join("; ")}`)
      })
    )
  return describe.skip(`${name} (skipped: ${missing.join("; ")})`, body)
}

/** A temporary directory with the given files; `cleanup` removes it. */
export const tempDir = (files: Readonly<Record<string, unknown>> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "jsonflow-runner-"))
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2))
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A canonical HTTP flow: `$input -> <nodes in a chain> -> respond`. */
export const httpFlow = (
  id: string,
  method: string,
  path: string,
  chain: ReadonlyArray<{ readonly type: string; readonly config?: unknown }>,
  extra: Record<string, unknown> = {}
) => {
  const nodes: Record<string, unknown> = {}
  const edges: Array<unknown> = []
  let previous = "$input"
  chain.forEach((node, i) => {
    const nodeId = `n${i}`
    nodes[nodeId] = node
    edges.push({ from: { node: previous, port: "out" }, to: { node: nodeId, port: "in" } })
    previous = nodeId
  })
  nodes.reply = { type: "respond", config: {} }
  edges.push({ from: { node: previous, port: "out" }, to: { node: "reply", port: "in" } })
  return { dsl: 1, id, version: "1", trigger: { type: "http", method, path }, nodes, edges, ...extra }
}

/** A started `jsonflow serve` process. */
export interface Served {
  readonly child: ChildProcessWithoutNullStreams
  readonly url: string
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>
}

/**
 * Spawns `node bin/jsonflow.js <args>` and waits for the banner's URL.
 *
 * @example
 * ```ts
 * const served = await serve(["serve", dir, "--port", "0"])
 * ```
 */
export const serve = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
  command: ReadonlyArray<string> = [bin],
  where: {
    /** Defaults to the repository root. */
    readonly cwd?: string
    /** The environment `env` adds to; defaults to this process's. */
    readonly baseEnv?: NodeJS.ProcessEnv
    /** Defaults to this Node; e.g. "npx" to run an installed bin. */
    readonly executable?: string
    /**
     * Starts it as the leader of its own process group, to signal the whole group (`process.kill(-pid)`):
     * npx does not pass SIGTERM on to the command it runs.
     */
    readonly group?: boolean
  } = {}
): Promise<Served> =>
  new Promise((resolve, reject) => {
    const child = spawn(where.executable ?? process.execPath, [...command, ...args], {
      cwd: where.cwd ?? repoRoot,
      env: { ...(where.baseEnv ?? process.env), JSONFLOW_LOGS_LEVEL: "warn", ...env },
      detached: where.group === true
    })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`serve did not start in time\nstdout: ${out}\nstderr: ${err}`))
    }, 20_000)
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /runner on (http:\/\/\S+)/.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve({ child, url: match[1]!, stdout: () => out, stderr: () => err, exited })
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code} before listening\nstdout: ${out}\nstderr: ${err}`))
    })
  })

/** POSTs JSON and returns the status, headers and parsed body. */
export const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers }
  })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? undefined : (JSON.parse(text) as unknown)
  }
}

/** Deletes every key a test wrote under `prefix` (`<prefix>:*`), then closes the client. */
export const dropRedisKeys = async (redis: Redis, prefix: string) => {
  const keys = await redis.keys(`${prefix}:*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
}
