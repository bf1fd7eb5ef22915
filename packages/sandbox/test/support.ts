/**
 * Test helpers: the sandbox processes this test process started, and a NodeContext for node definitions.
 *
 * @module test/support
 */
import { readdirSync, readFileSync } from "node:fs"
import type { Node } from "@jsonflow/core"
import { Effect } from "effect"

/** Pids of the live sandbox processes (children of this process running the worker). */
export const sandboxProcesses = (): Array<number> => {
  const pids: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[1]) !== process.pid || fields[0] === "Z") continue
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("internal/worker.ts")) pids.push(Number(entry))
    } catch {
      // the process ended while we looked
    }
  }
  return pids
}

/** Waits until `check` holds (polling), or fails after `ms`. */
export const eventually = (check: () => boolean, ms = 5_000) =>
  Effect.promise(async () => {
    const until = Date.now() + ms
    while (!check()) {
      if (Date.now() > until) throw new Error("condition not reached in time")
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  })

/** A NodeContext good enough to call a definition's `run` directly. */
export const nodeContext = (overrides: Partial<Node.NodeContext> = {}): Node.NodeContext => ({
  executionId: "exec-1",
  flowId: "flow-1",
  flowVersion: "1",
  nodeId: "node-1",
  nodeType: "js",
  attempt: 1,
  trigger: null,
  variables: {},
  setVariable: () => {},
  outputOf: () => undefined,
  reply: () => false,
  runSubflow: () => Effect.die("no sub-flow"),
  ...overrides
})
