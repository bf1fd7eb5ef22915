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
