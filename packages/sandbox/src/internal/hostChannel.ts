/**
 * The host side of host calls: what a call's `hostCalls` option becomes for the supervisor. Each request a
 * script makes (`ctx.host.call(name, request)`, JSON text from the isolate) is checked here — capability
 * offered, call count, size — then run as an Effect fiber on the caller's context; its value goes back as
 * JSON text. The first failure is kept: it fails the whole call with `HostCallError`, whatever the script
 * did with the exception it saw. When the call ends (or its caller stops waiting) the fibers still running
 * are interrupted, so a hanging capability never outlives the call's deadline.
 *
 * @module hostChannel
 */
import { Cause, type Context, Effect, Exit, type Fiber } from "effect"
import { HostCallError } from "../errors.ts"
import type { HostChannel } from "./supervisor.ts"

/** A capability: plain JSON data in, plain JSON data out, or a (typed) failure. */
export type Capability = (request: unknown) => Effect.Effect<unknown, unknown>

export interface ChannelOptions {
  readonly capabilities: Readonly<Record<string, Capability>>
  readonly maxCalls: number
  readonly maxBytes: number
}

export interface OpenChannel {
  readonly channel: HostChannel
  /** The failure that fails the call, if a host call failed. */
  readonly failure: () => HostCallError | undefined
  /** Interrupts the host calls still running: the call is over, or its caller stopped waiting. */
  readonly close: () => void
}

const dropProto = (key: string, value: unknown) => (key === "__proto__" ? undefined : value)

/** UTF-8 bytes of `text` when it may be over `limit` (at most 3 bytes per UTF-16 unit), else 0. */
const overBy = (text: string, limit: number): number => {
  if (text.length * 3 <= limit) return 0
  const bytes = Buffer.byteLength(text)
  return bytes > limit ? bytes : 0
}

const field = (error: unknown, key: string): unknown =>
  typeof error === "object" && error !== null ? (error as Record<string, unknown>)[key] : undefined

const describe = (error: unknown) => {
  const tag = field(error, "_tag")
  const name = field(error, "name")
  const message = field(error, "message")
  const retryable = field(error, "retryable")
  return {
    errorTag: typeof tag === "string" ? tag : typeof name === "string" ? name : "Error",
    errorMessage: typeof message === "string" ? message : String(error),
    retryable: retryable === true
  }
}

/**
 * Opens the channel of one call.
 *
 * @example
 * ```ts
 * const open = openChannel({ capabilities: { echo: Effect.succeed }, maxCalls: 50, maxBytes: 1 << 20 }, where, context)
 * supervisor.submit({ ...call, host: open.channel })
 * ```
 */
export const openChannel = (
  options: ChannelOptions,
  where: { readonly nodeId: string; readonly executionId: string },
  context: Context.Context<never>
): OpenChannel => {
  let calls = 0
  let failure: HostCallError | undefined
  let closed = false
  const running = new Set<Fiber.Fiber<unknown, unknown>>()
  const fork = Effect.runForkWith(context)

  const fail = (
    capability: string,
    reason: HostCallError["reason"],
    detail: { readonly errorTag: string; readonly errorMessage: string; readonly retryable?: boolean }
  ): string => {
    failure ??= new HostCallError({
      ...where,
      capability,
      reason,
      errorTag: detail.errorTag,
      errorMessage: detail.errorMessage,
      retryable: detail.retryable === true
    })
    return `e${failure.message}`
  }

  const call: HostChannel["call"] = (name, request, reply) => {
    if (closed) return reply("ethe call is over")
    if (failure !== undefined) return reply(`e${failure.message}`)
    if (++calls > options.maxCalls) {
      return reply(
        fail(name, "too-many", { errorTag: "too-many", errorMessage: `more than ${options.maxCalls} host calls` })
      )
    }
    const capability = Object.hasOwn(options.capabilities, name) ? options.capabilities[name] : undefined
    if (capability === undefined) {
      return reply(fail(name, "not-offered", { errorTag: "not-offered", errorMessage: "the call does not offer it" }))
    }
    const requestBytes = overBy(request, options.maxBytes)
    if (requestBytes > 0) {
      return reply(
        fail(name, "too-large", {
          errorTag: "too-large",
          errorMessage: `the request is ${requestBytes} bytes of JSON, over the ${options.maxBytes} byte limit`
        })
      )
    }
    let input: unknown
    try {
      input = request.includes('"__proto__"') ? JSON.parse(request, dropProto) : JSON.parse(request)
    } catch (error) {
      return reply(fail(name, "failed", { errorTag: "NotJson", errorMessage: `the request is not JSON: ${error}` }))
    }
    const fiber = fork(Effect.suspend(() => capability(input)))
    running.add(fiber)
    fiber.addObserver((exit) => {
      running.delete(fiber)
      if (Exit.isSuccess(exit)) {
        let json: string | undefined
        try {
          json = JSON.stringify(exit.value)
        } catch (error) {
          return reply(fail(name, "failed", { errorTag: "NotJson", errorMessage: `the answer is not JSON: ${error}` }))
        }
        json ??= "null"
        const answerBytes = overBy(json, options.maxBytes)
        if (answerBytes > 0) {
          return reply(
            fail(name, "too-large", {
              errorTag: "too-large",
              errorMessage: `the answer is ${answerBytes} bytes of JSON, over the ${options.maxBytes} byte limit`
            })
          )
        }
        return reply(`o${json}`)
      }
      if (closed || Cause.hasInterruptsOnly(exit.cause)) return reply("ethe host call was interrupted")
      const error = Cause.findErrorOption(exit.cause)
      return reply(fail(name, "failed", describe(error._tag === "Some" ? error.value : Cause.squash(exit.cause))))
    })
  }

  return {
    channel: { names: Object.keys(options.capabilities), call },
    failure: () => failure,
    close: () => {
      closed = true
      for (const fiber of running) fiber.interruptUnsafe()
    }
  }
}
