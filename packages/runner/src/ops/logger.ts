/**
 * Structured logs: one JSON object per line on stdout (or a readable line with `pretty`), always with a
 * time, a level and a message, plus fields such as `flowId` and `executionId`. Synchronous and cheap;
 * successful executions log at `debug` so that a busy runner does not spend its time writing logs.
 *
 * @module logger
 */

/** Log levels, lowest first; `none` turns logging off. */
export type Level = "debug" | "info" | "warn" | "error" | "none"

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, none: 100 }

/** A logger. */
export interface Logger {
  readonly enabled: (level: Exclude<Level, "none">) => boolean
  readonly log: (level: Exclude<Level, "none">, message: string, fields?: Readonly<Record<string, unknown>>) => void
}

/**
 * Makes a logger writing to `write` (default: stdout).
 *
 * @example
 * ```ts
 * const logger = make("info", "json")
 * logger.log("info", "execution finished", { flowId: "orders", executionId: "e1", durationMs: 3 })
 * ```
 */
export const make = (
  level: Level,
  format: "json" | "pretty",
  write: (line: string) => void = (line) => process.stdout.write(line)
): Logger => {
  const min = RANK[level]
  return {
    enabled: (l) => RANK[l] >= min,
    log: (l, message, fields = {}) => {
      if (RANK[l] < min) return
      const time = new Date().toISOString()
      if (format === "json") {
        let line: string
        try {
          line = JSON.stringify({ time, level: l, msg: message, ...fields })
        } catch {
          line = JSON.stringify({ time, level: l, msg: message })
        }
        write(`${line}\n`)
      } else {
        const extra = Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")
        write(`${time} ${l.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ""}\n`)
      }
    }
  }
}

/** A logger that drops everything (tests, embedding without logs). */
export const silent: Logger = { enabled: () => false, log: () => {} }
