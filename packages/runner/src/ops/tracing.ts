/**
 * Optional OpenTelemetry traces: a span per execution and per node attempt, exported over OTLP/HTTP with
 * effect's `OtlpTracer` (no OpenTelemetry SDK needed). The spans are built from the engine's events, so
 * tracing adds nothing to the execution path itself; a sub-flow or for-each item's execution is a child of
 * its parent's span.
 *
 * @module tracing
 */
import type { FlowEvents } from "@jsonflow/core"
import { Context, Effect, Exit, Layer, Option, type Scope, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"

const nanos = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n

/**
 * Starts the exporter in the current scope (it flushes when the scope closes) and returns a subscriber
 * that turns events into spans.
 *
 * @example
 * ```ts
 * const subscriber = yield* tracingSubscriber({ otlpUrl: "http://collector:4318/v1/traces", serviceName: "runner" })
 * ```
 */
export const tracingSubscriber = (options: {
  readonly otlpUrl: string
  readonly serviceName: string
}): Effect.Effect<FlowEvents.Subscriber, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      OtlpTracer.layer({ url: options.otlpUrl, resource: { serviceName: options.serviceName } }).pipe(
        Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer])
      )
    )
    const tracer = Context.get(context, Tracer.Tracer)
    const executions = new Map<string, Tracer.Span>()
    const nodes = new Map<string, Tracer.Span>()
    const forget = (map: Map<string, Tracer.Span>) => {
      // An execution that never finished (a crash) must not keep its spans forever.
      if (map.size > 10_000) map.delete(map.keys().next().value!)
    }
    const start = (name: string, parent: Tracer.Span | undefined, at: number, kind: Tracer.SpanKind) =>
      tracer.span({
        name,
        parent: parent === undefined ? Option.none() : Option.some(parent),
        annotations: Context.empty(),
        links: [],
        startTime: nanos(at),
        kind,
        root: parent === undefined,
        sampled: true
      })
    return (event) => {
      switch (event._tag) {
        case "ExecutionStarted": {
          const parent = event.parentExecutionId === undefined ? undefined : executions.get(event.parentExecutionId)
          const span = start(`flow ${event.flowId}`, parent, event.at, parent ? "internal" : "server")
          span.attribute("jsonflow.flow.id", event.flowId)
          span.attribute("jsonflow.flow.version", event.flowVersion)
          span.attribute("jsonflow.execution.id", event.executionId)
          span.attribute("jsonflow.trigger", event.trigger)
          executions.set(event.executionId, span)
          forget(executions)
          return
        }
        case "NodeStarted": {
          const span = start(`node ${event.nodeId}`, executions.get(event.executionId), event.at, "internal")
          span.attribute("jsonflow.node.id", event.nodeId)
          span.attribute("jsonflow.node.type", event.nodeType)
          span.attribute("jsonflow.node.attempt", event.attempt)
          nodes.set(`${event.executionId}/${event.nodeId}/${event.attempt}`, span)
          forget(nodes)
          return
        }
        case "NodeSucceeded":
        case "NodeFailed": {
          const key = `${event.executionId}/${event.nodeId}/${event.attempt}`
          const span = nodes.get(key)
          if (span === undefined) return
          nodes.delete(key)
          span.end(
            nanos(event.at),
            event._tag === "NodeSucceeded" ? Exit.void : Exit.fail(`${event.error._tag}: ${event.error.message}`)
          )
          return
        }
        case "ExecutionFinished": {
          const span = executions.get(event.executionId)
          if (span === undefined) return
          executions.delete(event.executionId)
          span.attribute("jsonflow.status", event.status)
          span.end(
            nanos(event.at),
            event.status === "succeeded" ? Exit.void : Exit.fail(event.error?.message ?? event.status)
          )
          return
        }
        default:
          return
      }
    }
  })
