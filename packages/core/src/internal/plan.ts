/**
 * The executable form of a flow: nodes and edges as arrays with resolved definitions and decoded configs,
 * built by the compiler and walked by the engine.
 *
 * @module plan
 */
import type * as Ir from "../Ir.ts"
import type * as Node from "../Node.ts"

export interface PlanEdge {
  /** Index of the source node, or -1 for the flow input. */
  readonly from: number
  readonly fromPort: string
  readonly to: number
  readonly toPort: string
}

export interface PlanNode {
  readonly id: string
  readonly index: number
  readonly definition: Node.Any
  readonly config: unknown
  readonly retry: Ir.RetryPolicy | undefined
  readonly timeoutMs: number | undefined
  readonly inEdges: ReadonlyArray<number>
  /** Outgoing edge indices by port name (the `error` port included). */
  readonly outByPort: ReadonlyMap<string, ReadonlyArray<number>>
  readonly outEdges: ReadonlyArray<number>
  /** `outByPort` as an array, for the engine's hot path (no Map iterator per node). */
  readonly outPorts: ReadonlyArray<readonly [port: string, edges: ReadonlyArray<number>]>
  readonly hasErrorEdges: boolean
  /** Whether the input must be decoded at run time (an incoming edge was not proven compatible). */
  readonly checkInput: boolean
  /** The definition's synchronous form for this config ({@link Node.Definition.prepareSync}), if any. */
  readonly runSync: ((input: unknown, context: Node.NodeContext) => unknown) | undefined
  /** The node's sub-flow (for-each body, called flow), compiled. */
  readonly subplan: Plan | undefined
}

export interface Plan {
  readonly flowId: string
  readonly flowVersion: string
  readonly trigger: string
  readonly nodes: ReadonlyArray<PlanNode>
  readonly edges: ReadonlyArray<PlanEdge>
  readonly inputEdges: ReadonlyArray<number>
  /** Per node, the number of incoming edges: an execution's countdown of unresolved inputs starts as a copy. */
  readonly inDegrees: ReadonlyArray<number>
  readonly output: { readonly node: number; readonly port: string } | undefined
  /** Indices of nodes without outgoing edges: their outputs form the result when no output is declared. */
  readonly sinks: ReadonlyArray<number>
  readonly maxSteps: number
  readonly timeoutMs: number
  readonly concurrency: number
  readonly cyclic: boolean
}
