/**
 * The in-isolate runtime. Evaluated in SES's start compartment of every sandbox isolate, after `lockdown()`
 * has frozen every intrinsic. User code never runs here: each script is evaluated once in its own
 * Compartment whose global object is hardened (nothing can be stored on it, and the intrinsics it shares
 * are frozen), and its factory is called once per call, so module-level state is fresh every time.
 *
 * It defines four functions on the start compartment's global for the worker (never visible to scripts):
 * - `__register(id, code)`: evaluates a script's factory; returns "" or an error result.
 * - `__start(id, payload, nodeId, executionId, maxOutputBytes, maxLogBytes, attempt, hostNames)`: runs a call
 *   (`hostNames`: JSON array of the capabilities it offers, or ""); returns a result, or "P" when the script returned a promise (the microtasks it starts are drained when this
 *   task ends), "M" when the script is not registered.
 * - `__finish()`: the result of the pending call once its promise settled (or never will).
 * - `__last()`: the result the last `__start`/`__finish` returned (isolated-vm throws instead of handing it
 *   back when the script left a promise rejected and unhandled).
 *
 * Host calls: the worker puts a reference to its host-call function on the global as `__host` before this
 * runs; it is taken off at once and only `ctx.host.call` (given to calls that offer capabilities) uses it,
 * with strings in and out. Scripts never see the reference itself.
 *
 * A result is one string: a kind ("o" ok, "e" error), the captured logs as JSON (or nothing), a newline,
 * then the output as JSON text or the error as a JSON object. Nothing but that string leaves the isolate:
 * every value is serialized here, with its size checked here, and every thrown value is described here.
 *
 * @module isolate-runtime
 */
;(() => {
  const { parse, stringify } = JSON
  const SOURCE_URL = "jsonflow:script"
  const FRAME = /jsonflow:script:(\d+):(\d+)/
  const FRAMES = /jsonflow:script:(\d+):(\d+)/g
  const MAX_TEXT = 2000
  const MAX_DEPTH = 2000
  const LOG_ENTRY_OVERHEAD = 8
  const ObjectKeys = Object.keys
  const isArray = Array.isArray
  const PromiseResolve = Promise.resolve.bind(Promise)
  const promiseThen = Promise.prototype.then
  const call = Function.prototype.call.bind(Function.prototype.call)
  // Taken off the global before any script exists: a Reference must never reach user code.
  const hostRef = globalThis.__host
  delete globalThis.__host
  const applySyncPromise = hostRef === undefined ? undefined : hostRef.applySyncPromise

  /** UTF-8 length of a string (a surrogate pair counts 2 + 2). */
  const utf8Length = (text) => {
    let bytes = text.length
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i)
      if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1
    }
    return bytes
  }

  const clip = (text) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text)

  /** A short, safe description of any value; user code may run (getters, toString) but cannot escape. */
  const brief = (value) => {
    try {
      switch (typeof value) {
        case "string":
          return clip(value)
        case "bigint":
          return `${value}n`
        case "symbol":
          return value.toString()
        case "function":
          return "a function"
        case "undefined":
          return "undefined"
        case "object": {
          if (value === null) return "null"
          const message = value.message
          if (typeof message === "string") {
            const name = value.name
            return clip(`${typeof name === "string" ? name : "Error"}: ${message}`)
          }
          const json = stringify(value)
          return clip(json === undefined ? String(value) : json)
        }
        default:
          return String(value)
      }
    } catch {
      return "a value that cannot be described"
    }
  }

  // ----- console: captured per call, capped in bytes, never a call into the host -----

  let log = null

  const show = (value) => {
    if (typeof value === "string") return value
    try {
      // Errors (anything with a message) print as "Name: message"; other objects as JSON.
      if (value !== null && typeof value === "object" && typeof value.message !== "string") {
        const json = stringify(value)
        if (json !== undefined) return json
      }
    } catch {
      // fall through to the short description
    }
    return brief(value)
  }

  const writer = (level) =>
    function write(...args) {
      const state = log
      if (state === null) return
      if (state.bytes >= state.max) {
        state.dropped++
        return
      }
      let text = ""
      for (let i = 0; i < args.length && text.length <= state.max; i++) text += (i === 0 ? "" : " ") + show(args[i])
      const room = state.max - state.bytes - LOG_ENTRY_OVERHEAD
      let bytes = utf8Length(text)
      if (bytes > room) {
        text = room > 0 ? `${text.slice(0, Math.max(0, Math.floor(room / 3)))}…` : ""
        bytes = state.max - state.bytes
        state.dropped++
        if (text === "") {
          state.bytes = state.max
          return
        }
      }
      state.bytes += bytes + LOG_ENTRY_OVERHEAD
      state.lines.push([level, text])
    }

  const console = harden({
    log: writer("log"),
    info: writer("info"),
    warn: writer("warn"),
    error: writer("error"),
    debug: writer("debug"),
    trace: writer("debug")
  })

  const logsPart = () => {
    const state = log
    log = null
    if (state === null || (state.lines.length === 0 && state.dropped === 0)) return ""
    return stringify({ lines: state.lines, dropped: state.dropped })
  }

  // ----- results and errors -----

  const errorResult = (error) => `e${logsPart()}\n${stringify(error)}`

  const pointer = (path) => {
    let text = ""
    for (const segment of path) {
      text += `/${String(segment).replace(/~/g, "~0").replace(/\//g, "~1")}`
      if (text.length > 300) return `${text.slice(0, 300)}…`
    }
    return text
  }

  /** Finds where a value stops being JSON data (mirrors JSON.stringify: toJSON, own enumerable keys). */
  const locate = (root) => {
    const ancestors = []
    const path = []
    let reason
    const read = (holder, key) => {
      try {
        return { value: holder[key] }
      } catch (error) {
        reason = `reading it threw ${brief(error)}`
        return undefined
      }
    }
    const visit = (key, input) => {
      let value = input
      if (path.length > MAX_DEPTH) {
        reason = `nested deeper than ${MAX_DEPTH} levels`
        return true
      }
      try {
        if (value !== null && (typeof value === "object" || typeof value === "bigint")) {
          const toJSON = value.toJSON
          if (typeof toJSON === "function") value = call(toJSON, value, key)
        }
      } catch (error) {
        reason = `its toJSON threw ${brief(error)}`
        return true
      }
      if (typeof value === "bigint") {
        reason = "a BigInt is not JSON data (convert it to a string or a number)"
        return true
      }
      if (value === null || typeof value !== "object") return false
      if (ancestors.includes(value)) {
        reason = "a cycle: this value contains itself"
        return true
      }
      ancestors.push(value)
      let keys
      try {
        keys = isArray(value) ? undefined : ObjectKeys(value)
        const count = keys === undefined ? value.length : keys.length
        for (let i = 0; i < count; i++) {
          const name = keys === undefined ? String(i) : keys[i]
          path.push(keys === undefined ? i : name)
          const cell = read(value, name)
          if (cell === undefined || visit(name, cell.value)) return true
          path.pop()
        }
      } catch (error) {
        reason = `reading it threw ${brief(error)}`
        return true
      }
      ancestors.pop()
      return false
    }
    visit("", root)
    return { path: pointer(path), reason }
  }

  const serialize = (value, maxOutputBytes) => {
    let json
    try {
      json = stringify(value)
    } catch (error) {
      if (error instanceof RangeError && /Invalid string length/.test(error.message)) {
        return errorResult({ _tag: "ResultTooLarge", bytes: 2 ** 29 })
      }
      const found = locate(value)
      return errorResult({
        _tag: "ResultNotSerializable",
        path: found.path,
        reason: found.reason ?? `it cannot be serialized: ${brief(error)}`
      })
    }
    if (json === undefined) json = "null"
    if (json.length > maxOutputBytes) return errorResult({ _tag: "ResultTooLarge", bytes: json.length })
    if (json.length * 3 > maxOutputBytes) {
      const bytes = utf8Length(json)
      if (bytes > maxOutputBytes) return errorResult({ _tag: "ResultTooLarge", bytes })
    }
    return `o${logsPart()}\n${json}`
  }

  /** The user's frames of a stack, with lines of the source (the factory adds one line on top). */
  const userFrames = (stack) => {
    const frames = []
    for (const line of stack.split("\n")) {
      if (line.includes(SOURCE_URL)) {
        frames.push(
          line
            .trim()
            .replace(FRAMES, (_, l, c) => `script:${Number(l) - 1}:${c}`)
            .replace(/^at __jsonflow__ /, "at default ")
        )
        if (frames.length === 10) break
      }
    }
    return frames.join("\n")
  }

  const thrown = (error) => {
    let errorName = "NonError"
    let errorMessage
    let stack
    try {
      if (error !== null && (typeof error === "object" || typeof error === "function")) {
        const message = error.message
        if (typeof message === "string") {
          const name = error.name
          errorName = typeof name === "string" ? clip(name) : "Error"
          errorMessage = clip(message)
          const trace = error.stack
          if (typeof trace === "string") stack = trace
        }
      }
    } catch {
      errorName = "NonError"
    }
    if (errorMessage === undefined) errorMessage = `the script threw ${brief(error)}, not an Error`
    if (errorName === "RangeError" && errorMessage === "Array buffer allocation failed") {
      return errorResult({ _tag: "ScriptMemoryLimit" })
    }
    const result = { _tag: "ScriptError", errorName, errorMessage }
    if (stack !== undefined) {
      const at = FRAME.exec(stack)
      if (at !== null) {
        result.line = Number(at[1]) - 1
        result.column = Number(at[2])
      }
      const frames = userFrames(stack)
      if (frames !== "") result.stack = frames
    }
    return errorResult(result)
  }

  // ----- host calls -----

  /** `ctx.host` of a call that offers capabilities: `names`, and `call(name, request)` (sync, JSON data). */
  const makeHost = (namesJson) => {
    const names = harden(parse(namesJson))
    const hostCall = (name, request) => {
      if (typeof name !== "string" || !names.includes(name)) {
        throw new TypeError(`this call offers no host capability ${brief(name)}`)
      }
      if (applySyncPromise === undefined) throw new Error("host calls are not available in this sandbox")
      let json
      try {
        json = stringify(request)
      } catch (error) {
        throw new TypeError(`the request of host call "${name}" is not JSON data: ${brief(error)}`)
      }
      // Blocks this isolate (not the sandbox process) until the host answers or the call's time is up.
      const answer = call(applySyncPromise, hostRef, undefined, [name, json === undefined ? "null" : json])
      if (typeof answer === "string" && answer.charCodeAt(0) === 111 /* o */) return parse(answer.slice(1))
      throw new Error(typeof answer === "string" ? answer.slice(1) : `host call "${name}" failed`)
    }
    return harden({ names, call: hostCall })
  }

  // ----- scripts and calls -----

  const endowments = { Date, Math, console, Float32Array, Float64Array }
  if (typeof Float16Array === "function") endowments.Float16Array = Float16Array
  harden(endowments)

  const factories = new Map()
  let pending = null
  // The result the last entry point returned: isolated-vm throws instead of returning it when the script
  // left a promise rejected, and the worker then asks for it (`__last`) so the script's own error comes first.
  let last = ""

  globalThis.__register = (id, code) => {
    try {
      const compartment = new Compartment({ __options__: true, globals: endowments, name: "script" })
      // SES puts lockdown on every compartment's global; a script has no use for it.
      delete compartment.globalThis.lockdown
      harden(compartment.globalThis)
      const factory = compartment.evaluate(code)
      if (typeof factory !== "function") throw new TypeError("the script did not compile to a function")
      factories.set(id, factory)
      return ""
    } catch (error) {
      const detail = brief(error)
      const at = /:(\d+)\b/.exec(detail)
      return `e\n${stringify({
        _tag: "ScriptCompileError",
        reason: "syntax",
        detail,
        line: at === null ? 1 : Math.max(1, Number(at[1]) - 1),
        column: 1
      })}`
    }
  }

  // `last` is cleared first: a result of an earlier call (another tenant's) must never be taken for this one's.
  globalThis.__start = (id, payload, nodeId, executionId, maxOutputBytes, maxLogBytes, attempt, hostNames) => {
    last = ""
    last = start(id, payload, nodeId, executionId, maxOutputBytes, maxLogBytes, attempt, hostNames)
    return last
  }

  globalThis.__finish = () => {
    last = ""
    last = finish()
    return last
  }

  globalThis.__last = () => {
    const result = last
    last = ""
    return result
  }

  const start = (id, payload, nodeId, executionId, maxOutputBytes, maxLogBytes, attempt, hostNames) => {
    const factory = factories.get(id)
    if (factory === undefined) return "M"
    log = { lines: [], bytes: 0, max: maxLogBytes, dropped: 0 }
    pending = null
    let value
    try {
      const data = parse(payload)
      const transform = factory()
      if (typeof transform !== "function") throw new TypeError("the default export of the script is not a function")
      const ctx = { executionId, nodeId, attempt, variables: data.v, console }
      if (typeof hostNames === "string" && hostNames !== "") ctx.host = makeHost(hostNames)
      value = transform(data.i, ctx)
    } catch (error) {
      return thrown(error)
    }
    if (value !== null && (typeof value === "object" || typeof value === "function")) {
      let then
      try {
        then = value.then
      } catch (error) {
        return thrown(error)
      }
      if (typeof then === "function") {
        const state = { settled: 0, value: undefined, maxOutputBytes }
        pending = state
        try {
          call(
            promiseThen,
            PromiseResolve(value),
            (result) => {
              state.settled = 1
              state.value = result
            },
            (error) => {
              state.settled = 2
              state.value = error
            }
          )
        } catch (error) {
          pending = null
          return thrown(error)
        }
        return "P"
      }
    }
    return serialize(value, maxOutputBytes)
  }

  const finish = () => {
    const state = pending
    pending = null
    if (state === null) return errorResult({ _tag: "SandboxCrashed", reason: "no call is pending" })
    if (state.settled === 0) return errorResult({ _tag: "ScriptTimeout", reason: "never-settled" })
    if (state.settled === 2) return thrown(state.value)
    return serialize(state.value, state.maxOutputBytes)
  }
})()
