/**
 * Which real services this machine offers to the connector tests, and how a suite that needs one behaves
 * without it: on a laptop the suite is skipped with a visible reason; in CI (`CI=true`) it fails instead,
 * so a missing service can never turn a red build green.
 *
 * Addresses come from the environment (`JSONFLOW_TEST_POSTGRES_URL`, `JSONFLOW_TEST_REDIS_URL`) and default
 * to the CI services: `postgres://postgres@127.0.0.1:5432/test` and `redis://127.0.0.1:6379`.
 *
 * @module services
 */
import { connect } from "node:net"
import { describe, it } from "vitest"

/** The outcome of probing a service. */
export interface ServiceStatus {
  readonly name: string
  readonly url: string
  readonly available: boolean
  /** Why it is unavailable (empty when available). */
  readonly reason: string
}

/** `CI=true` (or `1`): missing services fail instead of skipping. */
export const isCI = (): boolean => process.env.CI === "true" || process.env.CI === "1"

/**
 * Probes a TCP service by opening (and at once closing) a connection.
 *
 * @example
 * ```ts
 * const redis = await probeTcp("redis", "redis://127.0.0.1:6379")
 * ```
 */
export const probeTcp = (name: string, url: string, timeoutMs = 1_000): Promise<ServiceStatus> => {
  const parsed = new URL(url)
  const host = parsed.hostname.replace(/^\[|\]$/g, "")
  const port = Number(parsed.port)
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (reason: string) => {
      socket.destroy()
      resolve({ name, url, available: reason === "", reason })
    }
    socket.setTimeout(timeoutMs, () => done(`${name} at ${host}:${port} did not answer within ${timeoutMs} ms`))
    socket.once("connect", () => done(""))
    socket.once("error", (error: NodeJS.ErrnoException) =>
      done(`${name} at ${host}:${port} is unreachable (${error.code ?? error.message})`)
    )
  })
}

/** The PostgreSQL URL the tests use. */
export const postgresUrl = process.env.JSONFLOW_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"
/** The Redis URL the tests use. */
export const redisUrl = process.env.JSONFLOW_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** Probes PostgreSQL at {@link postgresUrl}. */
export const postgres = (): Promise<ServiceStatus> => probeTcp("PostgreSQL", postgresUrl)
/** Probes Redis at {@link redisUrl}. */
export const redis = (): Promise<ServiceStatus> => probeTcp("Redis", redisUrl)

/**
 * `describe` for a suite that needs a service: runs it when the service answers; otherwise skips it with a
 * warning naming the reason, or, under `CI=true`, replaces it with one failing test carrying that reason.
 *
 * @example
 * ```ts
 * import * as Services from "../services.ts"
 * const pg = await Services.postgres()
 * Services.describeWith(pg, "sql.query", () => {
 *   it("selects", async () => {})
 * })
 * ```
 */
export const describeWith = (service: ServiceStatus, title: string, body: () => void): void => {
  if (service.available) {
    describe(title, body)
  } else if (isCI()) {
    describe(title, () => {
      it(`needs ${service.name}`, () => {
        throw new Error(`${service.reason} (CI=true: a missing service fails the build)`)
      })
    })
  } else {
    console.warn(`[skip] ${title}: ${service.reason}`)
    describe.skip(title, body)
  }
}
