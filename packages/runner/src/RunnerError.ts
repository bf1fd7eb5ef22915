/**
 * Typed failures of the runner itself (as opposed to an execution's `FlowError`): bad configuration, flows
 * that do not load, triggers refused by limits, a port that cannot be bound.
 *
 * @module RunnerError
 */
import { Schema } from "effect"

const Problem = Schema.Struct({
  path: Schema.String,
  source: Schema.String,
  message: Schema.String
})

/**
 * The configuration is invalid; `problems` lists every one, with the file or env variable it came from.
 *
 * @example
 * ```ts
 * import { Config, RunnerError } from "@jsonflow/runner"
 * try { Config.load({ env: { JSONFLOW_SERVER_PORT: "http" } }) } catch (e) {
 *   if (e instanceof RunnerError.ConfigError) console.error(e.message)
 * }
 * ```
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  problems: Schema.Array(Problem)
}) {
  override get message() {
    return `invalid configuration:\n${this.problems.map((p) => `  ${p.path || "/"} (from ${p.source}): ${p.message}`).join("\n")}`
  }
}

/** A flow source could not be loaded: every file or row that failed, with its problems. */
export class FlowLoadError extends Schema.TaggedError<FlowLoadError>()("FlowLoadError", {
  failures: Schema.Array(Schema.Struct({ source: Schema.String, message: Schema.String }))
}) {
  override get message() {
    return `flows failed to load:\n${this.failures.map((f) => `  ${f.source}: ${f.message.replace(/\n/g, "\n    ")}`).join("\n")}`
  }
}

/** The runner could not start (a port in use, a service it needs is unreachable). */
export class StartError extends Schema.TaggedError<StartError>()("StartError", {
  reason: Schema.String
}) {
  override get message() {
    return `the runner could not start: ${this.reason}`
  }
}

/** No flow with that id is loaded. */
export class FlowNotFound extends Schema.TaggedError<FlowNotFound>()("FlowNotFound", {
  flowId: Schema.String
}) {
  override get message() {
    return `no flow "${this.flowId}" is loaded`
  }
}

/** The execution was refused to protect the runner: a rate limit or a full concurrency queue, or draining. */
export class Shed extends Schema.TaggedError<Shed>()("Shed", {
  flowId: Schema.String,
  reason: Schema.Literals(["concurrency", "rate", "client-rate", "draining"])
}) {
  override get message() {
    return this.reason === "draining"
      ? `flow "${this.flowId}" refused: the runner is shutting down`
      : `flow "${this.flowId}" is over its ${this.reason} limit; retry later`
  }
}

/** Enqueueing needs Redis (`redis.url`). */
export class QueueUnavailable extends Schema.TaggedError<QueueUnavailable>()("QueueUnavailable", {
  flowId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot enqueue flow "${this.flowId}": ${this.reason}`
  }
}
