/**
 * Every execution records the snapshot policy it ran under, and replay refuses one recorded with
 * `metadata` snapshots (whose `{ "type": "object" }` would otherwise be replayed as the input), on the
 * embedded store and on PostgreSQL; records written before the policy was recorded still decode and replay
 * unless what they hold is a metadata snapshot. Execution durations are as precise as node durations.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Audit, Embedded, Postgres, Replay, type Sink, Store, Text } from "@jsonflow/audit"
import { Flow, FlowEvents } from "@jsonflow/core"
import { Effect, ManagedRuntime, Schema, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fixed, replayFlow } from "./flows.ts"
import { freshSchema, missingServices, PG_URL, titled } from "./services.ts"

const missingPg = missingServices("postgres")

const suite = (
  name: string,
  missing: string | undefined,
  setup: () => {
    readonly sink: () => Effect.Effect<Sink.Sink, unknown, Scope.Scope>
    readonly cleanup: () => Promise<void>
  }
) =>
  describe.skipIf(missing !== undefined)(titled(name, missing), () => {
    const { sink, cleanup } = setup()
    const journal = mkdtempSync(join(tmpdir(), "audit-snapshots-journal-"))
    const runtimeWith = (snapshots: "metadata" | "full", dir: string) =>
      ManagedRuntime.make(
        Audit.layer({
          sinks: [sink()],
          snapshots,
          flows: [replayFlow.ir],
          buffer: { journalDir: join(journal, dir), lingerMs: 2 }
        })
      )
    const metadata = runtimeWith("metadata", "m")
    const full = runtimeWith("full", "f")
    const ids = { metadata: [] as Array<string>, full: [] as Array<string> }

    beforeAll(async () => {
      fixed.value = true
      for (const [policy, runtime] of [
        ["metadata", metadata],
        ["full", full]
      ] as const) {
        const compiled = await runtime.runPromise(Flow.compile(replayFlow))
        for (let n = 1; n <= 3; n++) ids[policy].push((await runtime.runPromise(compiled.run({ n }))).executionId)
        await runtime.runPromise(Audit.Audit.use((a) => a.flush))
      }
    }, 60_000)

    afterAll(async () => {
      await metadata.dispose()
      await full.dispose()
      await cleanup()
      rmSync(journal, { recursive: true, force: true })
    })

    const store = <A>(f: (s: Store.AuditStoreShape) => Effect.Effect<A, unknown>) =>
      full.runPromise(Store.AuditStore.use(f))
    const refusal = async (options: Parameters<typeof Replay.plan>[0]) => {
      const error = await full.runPromise(Effect.flip(Replay.plan(options)))
      expect(error._tag).toBe("SnapshotsNotReplayable")
      return error as Replay.SnapshotsNotReplayable
    }

    it("records the policy on the execution row and its ExecutionStarted", async () => {
      const listed = await store((s) => s.listExecutions({ flowId: "replayable", limit: 10 }))
      const policyOf = new Map(listed.map((r) => [r.executionId, r.snapshots]))
      for (const id of ids.metadata) expect(policyOf.get(id)).toBe("metadata")
      for (const id of ids.full) expect(policyOf.get(id)).toBe("full")
      const trace = await store((s) => s.trace(ids.metadata[0]!))
      const started = trace!.events.find((e) => e._tag === "ExecutionStarted")
      expect(started).toMatchObject({ snapshots: "metadata", input: { type: "object" } })
      expect(trace!.execution.snapshots).toBe("metadata")
      expect(Text.timeline(trace!)).toContain("snapshots metadata (values not recorded")
      expect(Text.timeline((await store((s) => s.trace(ids.full[0]!)))!)).not.toContain("snapshots")
    })

    it("refuses to replay a metadata-snapshot execution, from the start or a node, saying what to do", async () => {
      const fromStart = await refusal({ executionId: ids.metadata[0]!, registry: replayFlow.registry })
      expect(fromStart.snapshots).toBe("metadata")
      expect(fromStart.message).toContain("recorded with metadata snapshots")
      expect(fromStart.message).toContain("set audit.snapshots to full")
      const fromNode = await refusal({ executionId: ids.metadata[1]!, from: "fragile", registry: replayFlow.registry })
      expect(fromNode.snapshots).toBe("metadata")
      // A full-snapshot execution of the same flow replays with its real input.
      const plan = await full.runPromise(Replay.plan({ executionId: ids.full[1]!, registry: replayFlow.registry }))
      expect(plan.input).toEqual({ n: 2 })
      const replayed = await full.runPromise(
        Replay.replay({ executionId: ids.full[1]!, registry: replayFlow.registry })
      )
      expect(replayed.output).toEqual({ n: 31 })
    })

    it("replays records written before the policy was recorded, unless they hold metadata snapshots", async () => {
      const legacy = (executionId: string, input: unknown): Array<FlowEvents.FlowEvent> => {
        const base = (seq: number) => ({
          eventId: `${executionId}:${seq}`,
          seq,
          executionId,
          flowId: "replayable",
          flowVersion: "1",
          at: Date.now()
        })
        // What an older engine wrote: no `snapshots` field. It must still decode as an ExecutionStarted.
        const started = Schema.decodeUnknownSync(FlowEvents.ExecutionStarted)({
          _tag: "ExecutionStarted",
          ...base(0),
          trigger: "manual",
          input
        })
        return [
          started,
          { _tag: "ExecutionFinished", ...base(1), durationMs: 3, status: "succeeded", steps: 3, output: input }
        ]
      }
      const suffix = Math.random().toString(36).slice(2)
      await store((s) =>
        s.write([...legacy(`old-meta-${suffix}`, { type: "object" }), ...legacy(`old-data-${suffix}`, { n: 4 })])
      )
      const unknown = await refusal({ executionId: `old-meta-${suffix}`, registry: replayFlow.registry })
      expect(unknown.snapshots).toBe("unknown")
      expect(unknown.message).toContain("metadata snapshot")
      const plan = await full.runPromise(
        Replay.plan({ executionId: `old-data-${suffix}`, registry: replayFlow.registry })
      )
      expect(plan.input).toEqual({ n: 4 })
      expect((await store((s) => s.trace(`old-data-${suffix}`)))!.execution.snapshots).toBeUndefined()
    })

    it("measures execution durations with the nodes' clock", async () => {
      for (const id of ids.full) {
        const trace = (await store((s) => s.trace(id)))!
        const finished = trace.events.find((e) => e._tag === "ExecutionFinished")!
        const nodes = trace.nodes.reduce((sum, n) => sum + (n.durationMs ?? 0), 0)
        // The nodes run one after another inside the execution: their time cannot exceed its time.
        expect(finished._tag === "ExecutionFinished" && finished.durationMs).toBeGreaterThanOrEqual(nodes)
        expect(trace.execution.durationMs).toBe(finished._tag === "ExecutionFinished" ? finished.durationMs : -1)
      }
      const durations = await Promise.all(ids.full.map((id) => store((s) => s.trace(id))))
      // Whole milliseconds (Date.now()) would make all three integers.
      expect(durations.some((t) => !Number.isInteger(t!.execution.durationMs))).toBe(true)
    })
  })

suite("embedded store", undefined, () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-snapshots-"))
  return {
    sink: () => Embedded.sink({ dataDir: join(dir, "store") }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true })
  }
})

suite("PostgreSQL store", missingPg, () => {
  const { schema, drop } = freshSchema("audit_snap")
  return { sink: () => Postgres.sink({ url: PG_URL, schema }), cleanup: drop }
})
