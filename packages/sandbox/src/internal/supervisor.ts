/**
 * The host side of the sandbox: starts sandbox processes (`worker.ts`), sends them calls, and keeps them
 * honest. Each process runs its calls in order, so the supervisor always knows which call is running (the
 * oldest one in flight) and since when; if it does not answer within its time limit plus a grace period,
 * the process is killed. A process that exits (a V8 fatal out-of-memory abort, a kill) is restarted; the
 * calls it had in flight fail with `SandboxCrashed` (the running one with `ScriptTimeout` when it was
 * killed for its deadline). Calls not yet sent wait for the new process.
 *
 * Results and failures are handed back as result strings in the isolate's format (see
 * `isolate-runtime.js`), so one decoder on the host handles them all.
 *
 * @module supervisor
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import type { Socket } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { encodeFrame, FrameReader, type RunHeader } from "./protocol.ts"
import type { WorkerOptions } from "./worker.ts"

/**
 * The host calls one call may make (see `hostChannel.ts`): the capabilities it offers, and how a request is
 * served. `reply` gets `o<response JSON>` or `e<message>`, once; after the call is over it is ignored.
 */
export interface HostChannel {
  readonly names: ReadonlyArray<string>
  readonly call: (name: string, request: string, reply: (answer: string) => void) => void
}

/** One call, as the supervisor sees it. */
export interface Call {
  readonly scriptId: string
  readonly code: string
  readonly nodeId: string
  readonly executionId: string
  readonly attempt: number
  readonly timeoutMs: number
  readonly memoryMb: number
  readonly maxOutputBytes: number
  readonly maxLogBytes: number
  /** `{"v":<variables>,"i":<input>}` */
  readonly payload: string
  /** Host calls the call may make (absent: none). */
  readonly host?: HostChannel
  /** Receives the result string, exactly once. */
  readonly done: (result: string) => void
  /** Set when the caller stopped waiting; the result is dropped. */
  cancelled: boolean
}

export interface SupervisorOptions {
  readonly processes: number
  /** Calls sent ahead to one process (it runs them in order). */
  readonly pipeline: number
  /** How long past a call's time limit the supervisor waits before killing its process. */
  readonly deadlineGraceMs: number
  /** How long a new process may take to become ready. */
  readonly startTimeoutMs: number
  readonly execArgv: ReadonlyArray<string>
  /** Kills of the sandbox process by one script's calls, within `quarantineMs`, that quarantine it (0: never). */
  readonly quarantineAfter: number
  readonly quarantineMs: number
  /** Run the sandbox process under Node's permission model (see {@link permissionFlags}). */
  readonly permissions: boolean
  /**
   * Resident memory (MB) past which a process is killed at once, even mid-call (0: no hard cap). Polled
   * every {@link RSS_POLL_MS} ms from /proc on Linux; elsewhere only the worker's own checks apply.
   */
  readonly hardRssMb: number
  readonly worker: WorkerOptions
}

const crash = (reason: string) => `e\n${JSON.stringify({ _tag: "SandboxCrashed", reason })}`
const DEADLINE_RESULT = `e\n${JSON.stringify({ _tag: "ScriptTimeout", reason: "deadline" })}`
// Extra time the first call of a memory size gets: the process may have to prepare an isolate for it.
const NEW_ISOLATE_ALLOWANCE_MS = 2_000
const WATCHDOG_MS = 25
/** How often the resident memory of each sandbox process is read (Linux). */
export const RSS_POLL_MS = 250
const CAN_READ_RSS = process.platform === "linux"
const MAX_START_FAILURES = 3

const workerPath = fileURLToPath(new URL(`./worker${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`, import.meta.url))

/**
 * Node's permission model for the sandbox process, as defense in depth should an isolate ever be escaped:
 * it may read only its own code (this package, isolated-vm and its loader, ses), write nothing, start no
 * process or worker thread. Node 24's model does not cover the network.
 */
export const permissionFlags = (): ReadonlyArray<string> => {
  const require = createRequire(import.meta.url)
  const ivm = dirname(require.resolve("isolated-vm/package.json"))
  const readable = [
    fileURLToPath(new URL("../../", import.meta.url)),
    ivm,
    dirname(createRequire(join(ivm, "package.json")).resolve("node-gyp-build/package.json")),
    dirname(require.resolve("ses/package.json")),
    // node-gyp-build probes it to pick a prebuilt binary.
    "/etc/alpine-release"
  ]
  return [
    "--permission",
    "--allow-addons",
    ...readable.map((path) => `--allow-fs-read=${path}`),
    // Node warns that addons weaken the model: known, and the warning would only clutter crash reports.
    "--disable-warning=SecurityWarning"
  ]
}

/** The environment of the sandbox process: none of the host's (its secrets stay out), only what shapes dates. */
const sandboxEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const name of ["TZ", "LANG", "LC_ALL"]) if (process.env[name] !== undefined) env[name] = process.env[name]
  return env
}

interface Sent {
  readonly id: number
  readonly call: Call
}

/** One sandbox process and what it has in flight (oldest first: the one at index 0 is running). */
class SandboxProcess {
  state: "starting" | "ready" | "retiring" | "dying" | "dead" = "starting"
  everReady = false
  readonly inflight: Array<Sent> = []
  readonly known = new Set<string>()
  readonly sizes = new Set<number>()
  /** Until it says it is ready: kills it if it takes too long. */
  startTimer: NodeJS.Timeout | undefined
  /** When the call now running must have answered (performance.now() time), or Infinity when idle. */
  deadlineAt = Number.POSITIVE_INFINITY
  private refed = true
  stderr = ""
  replacementStarted = false
  killedFor: string | undefined
  /** Calls it has answered: a process is retired for its memory only once it has served some. */
  served = 0
  /** The call whose deadline passed, if that is why the process is being killed. */
  overdue: Sent | undefined
  readonly child: ChildProcess
  readonly socket: Socket
  readonly exited: Promise<void>

  constructor(child: ChildProcess, defaultMemoryMb: number) {
    this.child = child
    // The process prepares an isolate of the default size before it says it is ready.
    this.sizes.add(defaultMemoryMb)
    this.socket = child.stdio[3] as Socket
    // "close", not "exit": it comes after every result the process wrote has been read.
    this.exited = new Promise((resolve) => child.once("close", () => resolve()))
  }

  /** Whether this process may keep the host's event loop alive. */
  setRef(on: boolean) {
    if (this.refed === on) return
    this.refed = on
    for (const handle of [this.child, this.socket, this.child.stderr as Socket | null]) {
      if (handle === null) continue
      if (on) handle.ref()
      else handle.unref()
    }
  }

  kill(reason: string) {
    this.killedFor ??= reason
    if (this.state === "dead") return
    // No new calls from now on, even before the exit is seen.
    this.state = "dying"
    this.child.kill("SIGKILL")
  }
}

/** Counters and gauges of a supervisor (see `SandboxStats` in `Sandbox.ts`). */
export interface SupervisorStats {
  readonly configured: number
  readonly alive: number
  readonly inFlight: number
  readonly queued: number
  readonly restarts: number
  readonly quarantined: number
  readonly isolatesRecycled: number
}

/** Starts, feeds, watches and restarts sandbox processes. */
export class Supervisor {
  private readonly options: SupervisorOptions
  private readonly queue: Array<Call> = []
  private readonly processes: Array<SandboxProcess> = []
  private nextId = 1
  private closed = false
  private scheduled = false
  private startFailures = 0
  private lastFailure = ""
  private busy = 0
  private unrefScheduled = false
  private watchdog: NodeJS.Timeout | undefined
  private rssPoll: NodeJS.Timeout | undefined
  /** Per script: when its calls killed the sandbox process (recent ones only). */
  private readonly kills = new Map<string, Array<number>>()
  private readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = []
  /** Processes started so far; the first `options.processes` are not restarts. */
  private spawned = 0
  /** Isolates the processes reported replaced (`0 recycled` control frames). */
  private isolatesRecycled = 0

  private readonly permissions: ReadonlyArray<string>
  /**
   * A cap on the sandbox process's own heap (the worker's code, payloads and results, not the isolates:
   * each has its own limit), unless `execArgv` sets one: half of `maxRssMb`, at least 256 MB.
   */
  private readonly heapFlag: ReadonlyArray<string>

  constructor(options: SupervisorOptions) {
    this.options = options
    this.permissions = options.permissions ? permissionFlags() : []
    this.heapFlag = options.execArgv.some((flag) => flag.startsWith("--max-old-space-size"))
      ? []
      : [`--max-old-space-size=${Math.max(256, Math.ceil(options.worker.maxRssMb / 2))}`]
  }

  /** Starts the processes; resolves when all are ready, rejects if they cannot start. */
  start(): Promise<void> {
    const ready = Promise.all(
      Array.from(
        { length: this.options.processes },
        () =>
          new Promise<void>((resolve, reject) => {
            this.readyWaiters.push({ resolve, reject })
          })
      )
    ).then(() => undefined)
    for (let i = 0; i < this.options.processes; i++) this.spawn()
    // One coarse timer watches every deadline: cheaper than a timer per call, and precise enough for
    // deadlines that include a grace period.
    this.watchdog = setInterval(() => this.checkDeadlines(), WATCHDOG_MS)
    this.watchdog.unref()
    // Memory between and during calls: the worker checks itself only between calls (its thread is busy in
    // a call), so the host reads each process's resident memory on a timer too.
    if (CAN_READ_RSS && (this.options.hardRssMb > 0 || this.options.worker.maxRssMb > 0)) {
      this.rssPoll = setInterval(() => this.checkMemory(), RSS_POLL_MS)
      this.rssPoll.unref()
    }
    return ready
  }

  /** Queues a call; its `done` receives the result. */
  submit(call: Call) {
    if (this.closed) {
      call.done(crash("the sandbox is shut down"))
      return
    }
    if (this.busy++ === 0) this.setRef(true)
    const quarantined = this.quarantined(call.scriptId)
    if (quarantined !== undefined) {
      this.complete(call, quarantined)
      return
    }
    this.queue.push(call)
    if (this.startFailures >= MAX_START_FAILURES && this.processes.length === 0) {
      // Every recent start failed: try again for this call rather than never.
      this.startFailures = 0
      this.spawn()
    }
    if (!this.scheduled) {
      this.scheduled = true
      // Calls submitted in the same tick go out in one write per process.
      queueMicrotask(() => {
        this.scheduled = false
        this.pump()
      })
    }
  }

  /** A snapshot of the counters: a few reads, no allocation beyond the result. */
  stats(): SupervisorStats {
    let alive = 0
    let inFlight = 0
    for (const proc of this.processes) {
      if (proc.state === "dead") continue
      alive++
      inFlight += proc.inflight.length
    }
    let quarantined = 0
    if (this.options.quarantineAfter > 0) {
      const now = performance.now()
      for (const times of this.kills.values()) {
        let recent = 0
        for (const at of times) if (now - at < this.options.quarantineMs) recent++
        if (recent >= this.options.quarantineAfter) quarantined++
      }
    }
    return {
      configured: this.options.processes,
      alive,
      inFlight,
      queued: this.queue.length,
      restarts: Math.max(0, this.spawned - this.options.processes),
      quarantined,
      isolatesRecycled: this.isolatesRecycled
    }
  }

  /** Kills every process and fails what is pending. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.watchdog)
    clearInterval(this.rssPoll)
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error("the sandbox is shut down"))
    const exits: Array<Promise<void>> = []
    for (const proc of this.processes) {
      clearTimeout(proc.startTimer)
      // Keep the host alive until the exit is seen, or awaiting close() would be a dangling promise.
      proc.setRef(true)
      proc.kill("the sandbox is shut down")
      exits.push(proc.exited)
    }
    for (const call of this.queue.splice(0)) this.complete(call, crash("the sandbox is shut down"))
    await Promise.all(exits)
  }

  private complete(call: Call, result: string) {
    if (--this.busy === 0 && !this.closed && !this.unrefScheduled) {
      // Let go of the processes only if still idle after this turn (back-to-back calls keep them).
      this.unrefScheduled = true
      setImmediate(() => {
        this.unrefScheduled = false
        if (this.busy === 0 && !this.closed) this.setRef(false)
      })
    }
    if (!call.cancelled) call.done(result)
  }

  // Idle processes must not keep the host alive (an embedder that forgets to close the layer can still
  // exit); busy ones must, or Node could exit while a call is in flight.
  private setRef(on: boolean) {
    for (const proc of this.processes) if (proc.state !== "dead") proc.setRef(on)
  }

  private spawn(): SandboxProcess {
    const child = spawn(
      process.execPath,
      [
        "--no-node-snapshot",
        ...this.heapFlag,
        ...(this.options.permissions ? this.permissions : []),
        ...this.options.execArgv,
        workerPath,
        JSON.stringify(this.options.worker)
      ],
      { stdio: ["ignore", "ignore", "pipe", "pipe"], env: sandboxEnv() }
    )
    const proc = new SandboxProcess(child, this.options.worker.defaultMemoryMb)
    this.spawned++
    this.processes.push(proc)
    const reader = new FrameReader((text) => this.onFrame(proc, text))
    proc.socket.on("data", (chunk: Buffer) => reader.push(chunk))
    proc.socket.on("error", () => proc.kill("its socket failed"))
    child.stderr?.setEncoding("utf8")
    child.stderr?.on("data", (text: string) => {
      proc.stderr = (proc.stderr + text).slice(-4096)
    })
    child.once("close", (code, signal) => this.onExit(proc, code, signal))
    child.once("error", (error) => {
      proc.stderr += `\n${error.message}`
      proc.kill("it could not be started")
    })
    proc.startTimer = setTimeout(() => proc.kill("it did not become ready in time"), this.options.startTimeoutMs)
    if (this.busy === 0 && this.readyWaiters.length === 0) proc.setRef(false)
    return proc
  }

  private onFrame(proc: SandboxProcess, text: string) {
    if (text.charCodeAt(0) === 104 /* h */) return this.onHostCall(proc, text)
    const space = text.indexOf(" ")
    const id = Number(text.slice(0, space))
    const body = text.slice(space + 1)
    if (id === 0) return this.onControl(proc, body)
    const head = proc.inflight[0]
    if (head === undefined || head.id !== id) return proc.kill(`it answered call ${id} out of order`)
    proc.inflight.shift()
    proc.served++
    if (body === "M") {
      // The process forgot the script (its cache is bounded): send it again, with the code, first.
      proc.known.delete(head.call.scriptId)
      this.queue.unshift(head.call)
    } else {
      this.complete(head.call, body)
    }
    this.armDeadline(proc)
    this.pump()
  }

  /** `h <id> <capability>\n<request>`: a host call of the running call, answered as `h <id>\n<answer>`. */
  private onHostCall(proc: SandboxProcess, text: string) {
    const newline = text.indexOf("\n")
    const head = text.slice(2, newline < 0 ? text.length : newline)
    const space = head.indexOf(" ")
    const id = Number(head.slice(0, space))
    const running = proc.inflight[0]
    const host = running?.call.host
    if (newline < 0 || space < 0 || running === undefined || running.id !== id || host === undefined) {
      return proc.kill(`it made a host call for call ${id}, which is not running or offers none`)
    }
    host.call(head.slice(space + 1), text.slice(newline + 1), (answer) => {
      if (proc.state === "dying" || proc.state === "dead" || proc.inflight[0] !== running) return
      proc.socket.write(encodeFrame(["h ", String(id), "\n", answer]))
    })
  }

  private onControl(proc: SandboxProcess, body: string) {
    if (body === "ready") {
      clearTimeout(proc.startTimer)
      if (proc.state === "starting") proc.state = "ready"
      proc.everReady = true
      this.startFailures = 0
      this.readyWaiters.shift()?.resolve()
      if (this.busy === 0) proc.setRef(false)
      // A replacement is up: the processes it replaces stop taking calls and go once they are idle.
      for (const other of this.processes) {
        if (other !== proc && other.replacementStarted && other.state === "ready") {
          other.state = "retiring"
          if (other.inflight.length === 0) other.kill("retired")
        }
      }
      this.pump()
    } else if (body === "recycled") {
      this.isolatesRecycled++
    } else if (body.startsWith("retire")) {
      this.retire(proc)
    }
  }

  /** Starts a replacement for `proc`; `proc` stops taking calls once it is up, and goes once idle. */
  private retire(proc: SandboxProcess) {
    if (proc.replacementStarted || this.closed || proc.state !== "ready") return
    proc.replacementStarted = true
    this.spawn()
  }

  private checkMemory() {
    for (const proc of this.processes) {
      const pid = proc.child.pid
      if (pid === undefined || proc.state === "dying" || proc.state === "dead") continue
      readFile(`/proc/${pid}/status`, "utf8").then(
        (status) => {
          const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
          if (kb === null || proc.state === "dying" || proc.state === "dead") return
          const rssMb = Number(kb[1]) / 1024
          if (this.options.hardRssMb > 0 && rssMb > this.options.hardRssMb) {
            proc.kill(
              `its resident memory (${Math.round(rssMb)} MB) passed the hard cap of ${this.options.hardRssMb} MB`
            )
          } else if (rssMb > this.options.worker.maxRssMb && proc.served > 0) {
            this.retire(proc)
          }
        },
        // The process ended meanwhile.
        () => undefined
      )
    }
  }

  private onExit(proc: SandboxProcess, code: number | null, signal: NodeJS.Signals | null) {
    const wasReady = proc.everReady
    proc.state = "dead"
    clearTimeout(proc.startTimer)
    const index = this.processes.indexOf(proc)
    if (index >= 0) this.processes.splice(index, 1)
    const reason = describeExit(proc, code, signal)
    // Every result the process wrote has been read: the first call still in flight is the one that was
    // running. The others never started, and a script has no side effects: they go to the next process.
    const [running, ...waiting] = proc.inflight.splice(0)
    this.queue.unshift(...waiting.map((sent) => sent.call))
    if (running !== undefined) {
      // Recorded first: completing the call may submit the next one right away.
      if (!this.closed) this.recordKill(running.call.scriptId)
      this.complete(running.call, running === proc.overdue ? DEADLINE_RESULT : crash(reason))
    }
    if (this.closed) {
      for (const call of this.queue.splice(0)) this.complete(call, crash("the sandbox is shut down"))
      return
    }
    if (!wasReady) {
      this.startFailures++
      this.lastFailure = reason
    }
    if (this.startFailures >= MAX_START_FAILURES) {
      const failure = `the sandbox process cannot start: ${this.lastFailure}`
      for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error(failure))
      for (const call of this.queue.splice(0)) this.complete(call, crash(failure))
      return
    }
    const live = this.processes.filter((p) => p.state === "starting" || p.state === "ready").length
    if (live < this.options.processes) this.spawn()
    else this.pump()
  }

  private pump() {
    // One call at a time to the least busy process, so calls spread over processes; one write per process.
    const batches = new Map<SandboxProcess, Array<Buffer>>()
    while (this.queue.length > 0) {
      let target: SandboxProcess | undefined
      for (const proc of this.processes) {
        if (proc.state !== "ready" || proc.inflight.length >= this.options.pipeline) continue
        if (target === undefined || proc.inflight.length < target.inflight.length) target = proc
      }
      if (target === undefined) break
      const call = this.queue.shift()!
      if (call.cancelled) {
        this.complete(call, crash("cancelled"))
        continue
      }
      const batch = batches.get(target)
      const frame = this.frame(target, call)
      if (batch === undefined) batches.set(target, [frame])
      else batch.push(frame)
    }
    for (const [proc, frames] of batches) proc.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))
  }

  private frame(proc: SandboxProcess, call: Call): Buffer {
    const id = this.nextId++
    const first = !proc.known.has(call.scriptId)
    proc.known.add(call.scriptId)
    const header: RunHeader = {
      id,
      s: call.scriptId,
      ...(first ? { c: call.code } : {}),
      nodeId: call.nodeId,
      executionId: call.executionId,
      attempt: call.attempt,
      timeoutMs: call.timeoutMs,
      memoryMb: call.memoryMb,
      maxOutputBytes: call.maxOutputBytes,
      maxLogBytes: call.maxLogBytes,
      ...(call.host === undefined ? {} : { h: call.host.names })
    }
    proc.inflight.push({ id, call })
    if (proc.inflight.length === 1) this.armDeadline(proc)
    return encodeFrame([JSON.stringify(header), "\n", call.payload])
  }

  private recordKill(scriptId: string) {
    if (this.options.quarantineAfter <= 0) return
    const now = performance.now()
    const recent = (this.kills.get(scriptId) ?? []).filter((at) => now - at < this.options.quarantineMs)
    recent.push(now)
    this.kills.set(scriptId, recent)
    // Forget scripts whose kills are all old, so the map stays small.
    if (this.kills.size > 1024) {
      for (const [id, times] of this.kills) {
        if (times.every((at) => now - at >= this.options.quarantineMs)) this.kills.delete(id)
      }
    }
  }

  /** The result for a quarantined script's call, or undefined when it may run. */
  private quarantined(scriptId: string): string | undefined {
    const times = this.kills.get(scriptId)
    if (times === undefined || this.options.quarantineAfter <= 0) return undefined
    const now = performance.now()
    const recent = times.filter((at) => now - at < this.options.quarantineMs)
    if (recent.length < this.options.quarantineAfter) return undefined
    const reason = `this script killed the sandbox process ${recent.length} times recently; it is refused until ${Math.ceil((this.options.quarantineMs - (now - recent[0]!)) / 1000)} s have passed`
    return `e\n${JSON.stringify({ _tag: "SandboxCrashed", reason, retryable: false })}`
  }

  /** (Re)starts the deadline of the call now running on `proc` (none when idle). */
  private armDeadline(proc: SandboxProcess) {
    const head = proc.inflight[0]
    if (head === undefined) {
      proc.deadlineAt = Number.POSITIVE_INFINITY
      if (proc.state === "retiring") proc.kill("retired")
      return
    }
    const { call } = head
    const firstOfSize = !proc.sizes.has(call.memoryMb)
    proc.sizes.add(call.memoryMb)
    const allowance = call.timeoutMs + this.options.deadlineGraceMs + (firstOfSize ? NEW_ISOLATE_ALLOWANCE_MS : 0)
    proc.deadlineAt = performance.now() + allowance
  }

  private checkDeadlines() {
    const now = performance.now()
    for (const proc of this.processes) {
      if (now <= proc.deadlineAt || proc.state === "dying" || proc.state === "dead") continue
      const head = proc.inflight[0]
      if (head === undefined) continue
      // Judged when the process is gone: a result written just before the kill still counts.
      proc.overdue = head
      proc.kill(`a call did not stop at its ${head.call.timeoutMs} ms time limit`)
    }
  }
}

const describeExit = (proc: SandboxProcess, code: number | null, signal: NodeJS.Signals | null): string => {
  const how = proc.killedFor ?? (signal !== null ? `it was killed by ${signal}` : `it exited with code ${code}`)
  const lines = proc.stderr.split("\n").filter((line) => line.trim() !== "")
  const telling =
    lines.find((line) => /Fatal JavaScript|FATAL ERROR|out of memory/i.test(line)) ??
    lines.find((line) => /fatal|error/i.test(line)) ??
    lines.at(-1)
  return telling === undefined || proc.killedFor !== undefined ? how : `${how}: ${telling.trim().slice(0, 300)}`
}
