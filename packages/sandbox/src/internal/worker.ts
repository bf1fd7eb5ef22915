/**
 * The sandbox process: started by the supervisor (`internal/supervisor.ts`) with `--no-node-snapshot`, it
 * reads calls from fd 3, runs each in a pooled isolated-vm isolate, and writes the result back. Calls run
 * one at a time, synchronously (`applySync` with the isolate's timeout): the fastest path, and it means an
 * isolate never has two calls in flight. Anything the isolate cannot stop (an uninterruptible builtin, a
 * fatal V8 out-of-memory abort) stalls or kills this process only; the supervisor sees the missed deadline
 * or the exit and restarts it.
 *
 * A call that offers host capabilities (`h` in its header) runs on the isolate's own thread instead
 * (`apply`), so that its script can wait for a host call (`applySyncPromise` on {@link hostCall}) while this
 * process's event loop carries the request to the host and the answer back. Calls still run one at a time.
 *
 * Isolates are kept per memory limit: the active one, plus a spare prepared in the background (SES
 * lockdown costs tens of ms) that takes over when the active one is retired — after a timeout, an
 * out-of-memory disposal, or `recycleAfterCalls` calls.
 *
 * @module worker
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { Socket } from "node:net"
import { dirname, join } from "node:path"
import ivm from "isolated-vm"
import { encodeFrame, FrameReader, type RunHeader } from "./protocol.ts"

/** Options the supervisor passes as the first argument (JSON). */
export interface WorkerOptions {
  readonly recycleAfterCalls: number
  readonly maxRssMb: number
  readonly defaultMemoryMb: number
  readonly spareIsolates: boolean
}

const require = createRequire(import.meta.url)
const SES_SOURCE = readFileSync(join(dirname(require.resolve("ses/package.json")), "dist/ses.umd.min.js"), "utf8")
const RUNTIME_SOURCE = readFileSync(new URL("../../runtime/isolate-runtime.js", import.meta.url), "utf8")

// Before SES: remove what the memory limit does not count (WebAssembly.Memory, growable and resizable
// buffers) and what only serves shared memory. SES then freezes what is left.
const PRELUDE = `
delete globalThis.WebAssembly
delete globalThis.SharedArrayBuffer
delete globalThis.Atomics
delete ArrayBuffer.prototype.resize
delete ArrayBuffer.prototype.transfer
delete ArrayBuffer.prototype.transferToFixedLength
`
// errorTaming "unsafe" keeps V8 stacks (how ScriptError gets the user's line and column); the stacks of
// this isolate hold nothing secret. No console, no process: reporting and trapping are off.
const LOCKDOWN = `lockdown({
  errorTaming: "unsafe",
  overrideTaming: "severe",
  consoleTaming: "unsafe",
  stackFiltering: "verbose",
  reporting: "none",
  errorTrapping: "none",
  unhandledRejectionTrapping: "none",
  domainTaming: "unsafe"
})`

type Entry<F> = ivm.Reference<F>

/** One prepared isolate: SES locked down, the runtime loaded, its entry points. */
interface Slot {
  readonly isolate: ivm.Isolate
  readonly memoryMb: number
  readonly register: Entry<(id: string, code: string) => string>
  readonly start: Entry<
    (
      id: string,
      payload: string,
      nodeId: string,
      executionId: string,
      maxOutputBytes: number,
      maxLogBytes: number,
      attempt: number,
      hostNames: string
    ) => string
  >
  readonly finish: Entry<() => string>
  readonly last: Entry<() => string>
  readonly scripts: Set<string>
  calls: number
  retired: boolean
}

const makeSlot = (isolate: ivm.Isolate, context: ivm.Context, memoryMb: number): Slot => ({
  isolate,
  memoryMb,
  register: context.global.getSync("__register", { reference: true }),
  start: context.global.getSync("__start", { reference: true }),
  finish: context.global.getSync("__finish", { reference: true }),
  last: context.global.getSync("__last", { reference: true }),
  scripts: new Set(),
  calls: 0,
  retired: false
})

/** The call now running with host capabilities, and its pending host call. */
interface HostedCall {
  readonly id: number
  /** performance.now() time at which the call's time is up. */
  readonly deadlineAt: number
  /** Resolves the pending host call (the host's answer, or a failure at the deadline). */
  answer: ((answer: string) => void) | undefined
  /** The deadline passed while the script waited for a host call. */
  outOfTime: boolean
}

let hosted: HostedCall | undefined

/**
 * What `ctx.host.call` reaches (through `applySyncPromise`): sends the request to the host and resolves with
 * its answer — or with a failure when the call's time is up, so a host call that never answers cannot hold
 * the isolate past its deadline.
 */
const hostCall = (name: unknown, request: unknown): Promise<string> => {
  const call = hosted
  if (
    call === undefined ||
    typeof name !== "string" ||
    name.includes("\n") ||
    typeof request !== "string" ||
    call.answer !== undefined
  ) {
    return Promise.resolve("eno host call can be made now")
  }
  const left = call.deadlineAt - performance.now()
  if (left <= 0) {
    call.outOfTime = true
    return Promise.resolve("ethe call ran out of time")
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      call.outOfTime = true
      settle("ethe call ran out of time waiting for a host call")
    }, left)
    const settle = (answer: string) => {
      clearTimeout(timer)
      call.answer = undefined
      resolve(answer)
    }
    call.answer = settle
    socket.write(encodeFrame([`h ${call.id} ${name}\n`, request]))
  })
}

const hostReference = new ivm.Reference(hostCall)

const buildSync = (memoryMb: number): Slot => {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb })
  try {
    const context = isolate.createContextSync()
    context.evalSync(PRELUDE)
    context.evalSync(SES_SOURCE)
    context.evalSync(LOCKDOWN)
    context.global.setSync("__host", hostReference)
    context.evalSync(RUNTIME_SOURCE)
    return makeSlot(isolate, context, memoryMb)
  } catch (error) {
    isolate.dispose()
    throw error
  }
}

// Off the hot path: isolated-vm runs these on its own threads while this one keeps serving calls.
const buildAsync = async (memoryMb: number): Promise<Slot | undefined> => {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb })
  try {
    const context = await isolate.createContext()
    await context.eval(PRELUDE)
    await context.eval(SES_SOURCE)
    await context.eval(LOCKDOWN)
    await context.global.set("__host", hostReference)
    await context.eval(RUNTIME_SOURCE)
    return makeSlot(isolate, context, memoryMb)
  } catch {
    if (!isolate.isDisposed) isolate.dispose()
    return undefined
  }
}

const dispose = (slot: Slot) => {
  slot.retired = true
  if (!slot.isolate.isDisposed) {
    try {
      slot.isolate.dispose()
    } catch {
      // already gone
    }
  }
}

/** Isolates by memory limit: the active one and a spare being prepared. At most a few sizes are kept. */
class IsolatePool {
  private readonly active = new Map<number, Slot>()
  private readonly spares = new Map<number, Slot | Promise<Slot | undefined>>()
  private readonly spareIsolates: boolean
  private static readonly MAX_SIZES = 4

  constructor(spareIsolates: boolean) {
    this.spareIsolates = spareIsolates
  }

  acquire(memoryMb: number): Slot {
    const current = this.active.get(memoryMb)
    if (current !== undefined && !current.retired && !current.isolate.isDisposed) {
      // Most recently used size last, so the oldest one is evicted first.
      this.active.delete(memoryMb)
      this.active.set(memoryMb, current)
      return current
    }
    if (current !== undefined) this.retire(current)
    const spare = this.spares.get(memoryMb)
    let slot: Slot
    if (spare !== undefined && !(spare instanceof Promise) && !spare.isolate.isDisposed) {
      this.spares.delete(memoryMb)
      slot = spare
    } else {
      slot = buildSync(memoryMb)
    }
    this.active.set(memoryMb, slot)
    this.prepareSpare(memoryMb)
    if (this.active.size > IsolatePool.MAX_SIZES) {
      const [oldest] = this.active.keys()
      if (oldest !== undefined) this.evict(oldest)
    }
    return slot
  }

  retire(slot: Slot) {
    // Counted once per isolate that served calls (the host's `isolatesRecycled`).
    if (!slot.retired) send("0 recycled")
    dispose(slot)
    if (this.active.get(slot.memoryMb) === slot) this.active.delete(slot.memoryMb)
  }

  private evict(memoryMb: number) {
    const slot = this.active.get(memoryMb)
    if (slot !== undefined) this.retire(slot)
    const spare = this.spares.get(memoryMb)
    this.spares.delete(memoryMb)
    if (spare instanceof Promise) void spare.then((s) => s && dispose(s))
    else if (spare !== undefined) dispose(spare)
  }

  private prepareSpare(memoryMb: number) {
    if (!this.spareIsolates || this.spares.has(memoryMb)) return
    const building = buildAsync(memoryMb).then((slot) => {
      if (this.spares.get(memoryMb) !== building) {
        if (slot) dispose(slot)
        return undefined
      }
      if (slot === undefined) this.spares.delete(memoryMb)
      else this.spares.set(memoryMb, slot)
      return slot
    })
    this.spares.set(memoryMb, building)
  }
}

/** The arguments of the runtime's `start`: the call's script, input and limits, and the host capabilities it may use. */
const startArguments = (
  header: RunHeader,
  payload: string,
  capabilities: string
): [string, string, string, string, number, number, number, string] => [
  header.s,
  payload,
  header.nodeId,
  header.executionId,
  header.maxOutputBytes,
  header.maxLogBytes,
  header.attempt,
  capabilities
]

const errorResult = (error: Record<string, unknown>) => `e\n${JSON.stringify(error)}`
// A frame of user code in an isolate stack (line n + 1 of the factory is line n of the script).
const FRAME = /jsonflow:script:(\d+):(\d+)/

const CODE_CACHE_SIZE = 4096

/** Runs calls; one instance per process. */
class Runner {
  private readonly pool: IsolatePool
  private readonly codes = new Map<string, string>()
  private readonly options: WorkerOptions
  private sinceRssCheck = 0
  private retiring = false

  constructor(options: WorkerOptions) {
    this.options = options
    this.pool = new IsolatePool(options.spareIsolates)
  }

  warm() {
    this.pool.acquire(this.options.defaultMemoryMb)
  }

  /** Runs one call: synchronously, or (a call with host capabilities) on the isolate's thread. */
  run(header: RunHeader, payload: string): string | Promise<string> {
    if (header.c !== undefined) {
      if (this.codes.size >= CODE_CACHE_SIZE) this.codes.delete(this.codes.keys().next().value!)
      this.codes.set(header.s, header.c)
    }
    let slot: Slot
    try {
      slot = this.pool.acquire(header.memoryMb)
    } catch (error) {
      return errorResult({ _tag: "SandboxCrashed", reason: `no isolate could be prepared: ${String(error)}` })
    }
    if (header.h !== undefined && header.h.length > 0) return this.runHosted(slot, header, payload, header.h)
    let failed = false
    const began = performance.now()
    try {
      const registered = this.register(slot, header)
      if (registered !== "") return registered
      // Registering the script (its first call in this isolate) counts against the call's time limit.
      const budget = Math.max(1, Math.floor(header.timeoutMs - (performance.now() - began)))
      let result = slot.start.applySync(undefined, startArguments(header, payload, ""), { timeout: budget })
      if (result === "P") {
        // The promise's microtasks were drained when `start` returned; what remains of the budget covers
        // serializing the value it settled with.
        const left = Math.max(1, Math.floor(header.timeoutMs - (performance.now() - began)))
        result = slot.finish.applySync(undefined, [], { timeout: left })
      }
      if (result.startsWith("e")) failed = true
      return result
    } catch (error) {
      failed = true
      return this.failure(slot, error, began, header.timeoutMs)
    } finally {
      this.after(slot, failed)
    }
  }

  /** Registers the call's script in the isolate if it is not yet: "" when done, else the call's result. */
  private register(slot: Slot, header: RunHeader): string {
    if (slot.scripts.has(header.s)) return ""
    const code = this.codes.get(header.s)
    if (code === undefined) return "M"
    const registered = slot.register.applySync(undefined, [header.s, code], { timeout: header.timeoutMs })
    if (registered === "") slot.scripts.add(header.s)
    return registered
  }

  private after(slot: Slot, failed: boolean) {
    slot.calls++
    if (slot.calls >= this.options.recycleAfterCalls) this.pool.retire(slot)
    this.checkMemory(failed)
  }

  /**
   * A call with host capabilities: the same steps as {@link run}, with `apply` instead of `applySync` so
   * that the isolate may wait on host calls. Time spent waiting counts against the call's time limit; when
   * it runs out there, the call is a `ScriptTimeout` whatever the script did next.
   */
  private async runHosted(
    slot: Slot,
    header: RunHeader,
    payload: string,
    names: ReadonlyArray<string>
  ): Promise<string> {
    const began = performance.now()
    const call: HostedCall = {
      id: header.id,
      deadlineAt: began + header.timeoutMs,
      answer: undefined,
      outOfTime: false
    }
    hosted = call
    let failed = false
    const timedOut = () => {
      this.pool.retire(slot)
      return errorResult({ _tag: "ScriptTimeout", reason: "cpu" })
    }
    try {
      const registered = this.register(slot, header)
      if (registered !== "") return registered
      const budget = Math.max(1, Math.floor(header.timeoutMs - (performance.now() - began)))
      let result = await slot.start.apply(undefined, startArguments(header, payload, JSON.stringify(names)), {
        timeout: budget
      })
      if (result === "P" && !call.outOfTime) {
        const left = Math.max(1, Math.floor(header.timeoutMs - (performance.now() - began)))
        result = await slot.finish.apply(undefined, [], { timeout: left })
      }
      if (call.outOfTime) result = timedOut()
      if (result.startsWith("e")) failed = true
      return result
    } catch (error) {
      failed = true
      if (call.outOfTime && !slot.isolate.isDisposed) return timedOut()
      return this.failure(slot, error, began, header.timeoutMs)
    } finally {
      hosted = undefined
      call.answer?.("ethe call is over")
      this.after(slot, failed)
    }
  }

  /**
   * Maps what `applySync` threw. The runtime never throws, so it is isolated-vm (a timeout, a disposal) or a
   * promise the script left rejected — whose message the script chose, so it is not trusted to tell which:
   * a timeout needs the time to have run out, a memory disposal needs the isolate to be disposed.
   */
  private failure(slot: Slot, error: unknown, began: number, timeoutMs: number): string {
    const outOfTime = performance.now() - began >= timeoutMs - 1
    const message = error instanceof Error ? error.message : String(error)
    if (slot.isolate.isDisposed) {
      this.pool.retire(slot)
      if (message.includes("memory limit")) return errorResult({ _tag: "ScriptMemoryLimit" })
      return errorResult({ _tag: "SandboxCrashed", reason: `the isolate was disposed: ${message}` })
    }
    if (outOfTime && message === "Script execution timed out.") {
      this.pool.retire(slot)
      return errorResult({ _tag: "ScriptTimeout", reason: "cpu" })
    }
    // A promise the script left rejected and unhandled, reported by isolated-vm at the end of the call
    // instead of the call's result. If the script failed on its own (it threw), that error comes first, with
    // its position, and the rejection is mentioned.
    const rejection = `a promise was left rejected and unhandled: ${message.slice(0, 2000)}`
    let own = this.lastResult(slot)
    if (own === "P") {
      // An async script: its promise settled while the microtasks ran; fetch how.
      const left = Math.max(1, Math.floor(timeoutMs - (performance.now() - began)))
      try {
        own = slot.finish.applySync(undefined, [], { timeout: left })
      } catch {
        own = ""
      }
    }
    if (own.startsWith("e")) {
      const newline = own.indexOf("\n")
      const body = JSON.parse(own.slice(newline + 1)) as Record<string, unknown>
      if (body._tag === "ScriptError" && typeof body.errorMessage === "string") {
        body.errorMessage = `${body.errorMessage} (also, ${rejection})`
      }
      return `${own.slice(0, newline + 1)}${JSON.stringify(body)}`
    }
    const name = error instanceof Error ? error.name : "NonError"
    const at = error instanceof Error && typeof error.stack === "string" ? FRAME.exec(error.stack) : null
    return errorResult({
      _tag: "ScriptError",
      errorName: name,
      errorMessage: rejection,
      ...(at === null ? {} : { line: Number(at[1]) - 1, column: Number(at[2]) })
    })
  }

  /** What the call would have returned, had isolated-vm not thrown a leftover rejection instead ("" if unknown). */
  private lastResult(slot: Slot): string {
    try {
      return slot.last.applySync(undefined, [], { timeout: 100 })
    } catch {
      return ""
    }
  }

  private checkMemory(force: boolean) {
    if (this.retiring) return
    if (!force && ++this.sinceRssCheck < 32) return
    this.sinceRssCheck = 0
    const rssMb = process.memoryUsage.rss() / (1024 * 1024)
    if (rssMb > this.options.maxRssMb) {
      this.retiring = true
      send(`0 retire resident memory ${Math.round(rssMb)} MB is over the ${this.options.maxRssMb} MB cap`)
    }
  }
}

const socket = new Socket({ fd: 3, readable: true, writable: true })
const send = (text: string) => socket.write(encodeFrame([text]))

const main = () => {
  const options = JSON.parse(process.argv[2] ?? "{}") as WorkerOptions
  const runner = new Runner(options)
  // The host went away: nothing left to serve.
  socket.on("close", () => process.exit(0))
  socket.on("error", () => process.exit(0))
  // Calls run one at a time: while one waits on a host call, the next ones wait here.
  const queue: Array<string> = []
  let busy = false
  const drain = () => {
    while (!busy && queue.length > 0) {
      const text = queue.shift()!
      const newline = text.indexOf("\n")
      const header = JSON.parse(text.slice(0, newline)) as RunHeader
      const result = runner.run(header, text.slice(newline + 1))
      if (typeof result === "string") {
        send(`${header.id} ${result}`)
        continue
      }
      busy = true
      void result
        .catch((error: unknown) => errorResult({ _tag: "SandboxCrashed", reason: `the call failed: ${String(error)}` }))
        .then((text) => {
          send(`${header.id} ${text}`)
          busy = false
          drain()
        })
    }
  }
  const reader = new FrameReader((text) => {
    if (text.charCodeAt(0) === 104 /* h */) {
      // `h <id>\n<answer>`: the host's answer to the pending host call.
      const newline = text.indexOf("\n")
      if (hosted !== undefined && hosted.id === Number(text.slice(2, newline))) hosted.answer?.(text.slice(newline + 1))
      return
    }
    queue.push(text)
    drain()
  })
  socket.on("data", (chunk: Buffer) => reader.push(chunk))
  runner.warm()
  send("0 ready")
}

main()
