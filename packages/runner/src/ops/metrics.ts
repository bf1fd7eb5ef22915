/**
 * Prometheus metrics without a dependency: counters, gauges and histograms keyed by label values, rendered
 * in the text exposition format. Updates are a map lookup and an add, cheap enough for every request;
 * gauges that need I/O (queue depth) are read by collectors at scrape time.
 *
 * @module metrics
 */
import type { SandboxStats } from "@jsonflow/sandbox"

type Labels = Readonly<Record<string, string>>

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const labelText = (labels: Labels, extra?: string): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}
const keyOf = (labels: Labels) => Object.values(labels).join("\u0000")

interface Family {
  readonly render: () => string
}

/** A monotonically increasing counter per label set. */
export interface Counter {
  readonly inc: (labels: Labels, by?: number) => void
}

/** A value that goes up and down per label set. */
export interface Gauge {
  readonly set: (labels: Labels, value: number) => void
  readonly add: (labels: Labels, by: number) => void
}

/** Observations counted into cumulative buckets (seconds, by convention). */
export interface Histogram {
  readonly observe: (labels: Labels, value: number) => void
}

/** A set of metric families and scrape-time collectors. */
export interface Registry {
  readonly counter: (name: string, help: string) => Counter
  readonly gauge: (name: string, help: string) => Gauge
  readonly histogram: (name: string, help: string, buckets: ReadonlyArray<number>) => Histogram
  /** Adds a collector run at each scrape; it returns ready-made exposition lines. */
  readonly collect: (collector: () => Promise<string> | string) => void
  /** The exposition text. */
  readonly render: () => Promise<string>
}

/** Default buckets for durations in seconds: 0.5 ms to 60 s. */
export const DURATION_BUCKETS: ReadonlyArray<number> = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
]

/**
 * Makes an empty registry.
 *
 * @example
 * ```ts
 * const metrics = make()
 * const runs = metrics.counter("jsonflow_executions_total", "Executions by flow and status.")
 * runs.inc({ flow: "orders", status: "succeeded" })
 * console.log(await metrics.render())
 * ```
 */
export const make = (): Registry => {
  const families: Array<Family> = []
  const collectors: Array<() => Promise<string> | string> = []
  return {
    counter: (name, help) => {
      const values = new Map<string, { labels: Labels; value: number }>()
      families.push({
        render: () =>
          `# HELP ${name} ${help}\n# TYPE ${name} counter\n${[...values.values()].map((v) => `${name}${labelText(v.labels)} ${v.value}\n`).join("")}`
      })
      return {
        inc: (labels, by = 1) => {
          const key = keyOf(labels)
          const entry = values.get(key)
          if (entry) entry.value += by
          else values.set(key, { labels, value: by })
        }
      }
    },
    gauge: (name, help) => {
      const values = new Map<string, { labels: Labels; value: number }>()
      families.push({
        render: () =>
          `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${[...values.values()].map((v) => `${name}${labelText(v.labels)} ${v.value}\n`).join("")}`
      })
      const entryOf = (labels: Labels) => {
        const key = keyOf(labels)
        let entry = values.get(key)
        if (!entry) {
          entry = { labels, value: 0 }
          values.set(key, entry)
        }
        return entry
      }
      return {
        set: (labels, value) => {
          entryOf(labels).value = value
        },
        add: (labels, by) => {
          entryOf(labels).value += by
        }
      }
    },
    histogram: (name, help, buckets) => {
      const values = new Map<string, { labels: Labels; counts: Array<number>; sum: number; count: number }>()
      families.push({
        render: () => {
          let text = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`
          for (const v of values.values()) {
            let cumulative = 0
            buckets.forEach((bound, i) => {
              cumulative += v.counts[i]!
              text += `${name}_bucket${labelText(v.labels, `le="${bound}"`)} ${cumulative}\n`
            })
            text += `${name}_bucket${labelText(v.labels, 'le="+Inf"')} ${v.count}\n`
            text += `${name}_sum${labelText(v.labels)} ${v.sum}\n${name}_count${labelText(v.labels)} ${v.count}\n`
          }
          return text
        }
      })
      return {
        observe: (labels, value) => {
          const key = keyOf(labels)
          let entry = values.get(key)
          if (!entry) {
            entry = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 }
            values.set(key, entry)
          }
          entry.sum += value
          entry.count++
          for (let i = 0; i < buckets.length; i++) {
            if (value <= buckets[i]!) {
              entry.counts[i]!++
              break
            }
          }
        }
      }
    },
    collect: (collector) => {
      collectors.push(collector)
    },
    render: async () => {
      const parts = families.map((f) => f.render())
      for (const collector of collectors) {
        try {
          parts.push(await collector())
        } catch {
          // A failing collector (Redis down) must not break the scrape of everything else.
        }
      }
      return parts.join("")
    }
  }
}

/** The runner's metric families. */
export interface RunnerMetrics {
  readonly registry: Registry
  readonly executions: Counter
  readonly executionSeconds: Histogram
  readonly nodeSeconds: Histogram
  readonly nodeFailures: Counter
  readonly httpRequests: Counter
  readonly inFlight: Gauge
  readonly shed: Counter
  readonly cronRuns: Counter
  readonly reloads: Counter
}

/**
 * Creates the runner's families plus process metrics (RSS, heap, event-loop lag is left to OTel).
 *
 * @example
 * ```ts
 * const metrics = runnerMetrics()
 * metrics.executions.inc({ flow: "orders", status: "succeeded" })
 * ```
 */
export const runnerMetrics = (): RunnerMetrics => {
  const registry = make()
  const metrics: RunnerMetrics = {
    registry,
    executions: registry.counter("jsonflow_executions_total", "Executions by flow, trigger and status."),
    executionSeconds: registry.histogram(
      "jsonflow_execution_duration_seconds",
      "Execution duration by flow.",
      DURATION_BUCKETS
    ),
    nodeSeconds: registry.histogram(
      "jsonflow_node_duration_seconds",
      "Node attempt duration by flow and node type.",
      DURATION_BUCKETS
    ),
    nodeFailures: registry.counter("jsonflow_node_failures_total", "Failed node attempts by flow and node type."),
    httpRequests: registry.counter("jsonflow_http_requests_total", "HTTP requests by flow, method and status."),
    inFlight: registry.gauge("jsonflow_executions_in_flight", "Executions running now, by flow."),
    shed: registry.counter("jsonflow_shed_total", "Requests refused by limits, by flow and reason."),
    cronRuns: registry.counter("jsonflow_cron_ticks_total", "Cron ticks by flow and outcome."),
    reloads: registry.counter("jsonflow_reloads_total", "Flow reloads by outcome.")
  }
  registry.collect(() => {
    const memory = process.memoryUsage()
    return (
      `# HELP process_resident_memory_bytes Resident set size.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${memory.rss}\n` +
      `# HELP nodejs_heap_used_bytes V8 heap in use.\n# TYPE nodejs_heap_used_bytes gauge\nnodejs_heap_used_bytes ${memory.heapUsed}\n`
    )
  })
  return metrics
}

/**
 * Prometheus lines of the sandbox pool: gauges for processes, calls in flight and queued, quarantined
 * scripts; counters for process restarts, recycled isolates and calls by outcome.
 *
 * @example
 * ```ts
 * metrics.registry.collect(() => sandboxLines(sandbox.stats()))
 * ```
 */
export const sandboxLines = (stats: SandboxStats): string => {
  const gauge = (name: string, help: string, value: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}\n`
  const counter = (name: string, help: string, value: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${value}\n`
  let text =
    "# HELP jsonflow_sandbox_processes Sandbox processes, configured and alive.\n# TYPE jsonflow_sandbox_processes gauge\n" +
    `jsonflow_sandbox_processes{state="configured"} ${stats.processes.configured}\n` +
    `jsonflow_sandbox_processes{state="alive"} ${stats.processes.alive}\n` +
    gauge(
      "jsonflow_sandbox_calls_in_flight",
      "Script calls sent to a sandbox process, not answered yet.",
      stats.callsInFlight
    ) +
    gauge(
      "jsonflow_sandbox_calls_queued",
      "Script calls waiting on the host for a sandbox process.",
      stats.callsQueued
    ) +
    gauge(
      "jsonflow_sandbox_quarantined_scripts",
      "Scripts refused now after killing the sandbox process.",
      stats.quarantinedScripts
    ) +
    counter(
      "jsonflow_sandbox_process_restarts_total",
      "Sandbox processes started to replace one.",
      stats.processRestarts
    ) +
    counter(
      "jsonflow_sandbox_isolates_recycled_total",
      "Isolates replaced (recycling, timeout, OOM).",
      stats.isolatesRecycled
    ) +
    "# HELP jsonflow_sandbox_calls_total Script calls by outcome (ok or the error tag).\n# TYPE jsonflow_sandbox_calls_total counter\n"
  for (const [outcome, n] of Object.entries(stats.callsByOutcome)) {
    text += `jsonflow_sandbox_calls_total{outcome="${escapeLabel(outcome)}"} ${n}\n`
  }
  return text
}
