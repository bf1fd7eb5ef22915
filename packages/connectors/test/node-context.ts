/**
 * A hand-made `NodeContext` for calling a node definition's `run` directly in tests, outside a compiled flow.
 *
 * @module node-context
 */
import type { Node } from "@jsonflow/core"
import { Effect } from "effect"

/**
 * A context for one node run; override any field.
 *
 * @example
 * ```ts
 * const out = await Effect.runPromise(Redis.get.run({ key: "k" }, {}, nodeContext({ nodeType: "redis.get" })))
 * ```
 */
export const nodeContext = (overrides: Partial<Node.NodeContext> = {}): Node.NodeContext => ({
  executionId: "test-execution",
  flowId: "test-flow",
  flowVersion: "1",
  nodeId: "node",
  nodeType: "test",
  attempt: 1,
  trigger: undefined,
  variables: {},
  setVariable: () => {},
  outputOf: () => undefined,
  reply: () => false,
  runSubflow: () => Effect.die(new Error("no sub-flow in a hand-made node context")),
  ...overrides
})

/**
 * Runs a single-output node definition and returns the value it emitted on `out`.
 *
 * @example
 * ```ts
 * const { found } = yield* runOut(Redis.get, { key: "k" }, {})
 * ```
 */
export const runOut = <C, I, A, E, R>(
  definition: Node.Definition<string, C, I, { readonly out: A }, E, R>,
  input: NoInfer<I>,
  config: NoInfer<C>,
  context: Partial<Node.NodeContext> = {}
): Effect.Effect<A, E, R> =>
  Effect.map(definition.run(input, config, nodeContext({ nodeType: definition.type, ...context })), (emission) => {
    const first = Array.isArray(emission) ? emission[0] : emission
    return first.value as A
  })
