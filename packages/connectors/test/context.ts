/**
 * A hand-made `NodeContext` for calling a node definition's `run` directly in tests.
 *
 * @module context
 */
import type { Node } from "@jsonflow/core"
import { Effect } from "effect"

/** A context for node `nodeId` of type `nodeType`, first attempt, no variables, no sub-flow. */
export const nodeContext = (nodeId = "node", nodeType = "test"): Node.NodeContext => {
  const variables: Record<string, unknown> = {}
  return {
    executionId: "test-execution",
    flowId: "test-flow",
    flowVersion: "1",
    nodeId,
    nodeType,
    attempt: 1,
    trigger: undefined,
    variables,
    setVariable: (name, value) => {
      variables[name] = value
    },
    outputOf: () => undefined,
    reply: () => true,
    runSubflow: () => Effect.die("no sub-flow in this test context")
  }
}

/** Runs a single-output definition and returns the value it emitted on `out`. */
export const runOut = <C, I, A, E, R>(
  definition: Node.Definition<string, C, I, { readonly out: A }, E, R>,
  input: I,
  config: C,
  context: Node.NodeContext = nodeContext("node", definition.type)
): Effect.Effect<A, E, R> =>
  Effect.map(definition.run(input, config, context), (emission) => {
    const single = emission as { readonly port: string; readonly value: A }
    if (single.port !== "out") throw new Error(`expected one emission on "out", got ${JSON.stringify(emission)}`)
    return single.value
  })
