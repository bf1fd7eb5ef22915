/**
 * `@jsonflow/core`: the flow IR, node definitions, the typed builder, the compiler and the engine.
 *
 * @module @jsonflow/core
 */
/** The flow IR: a flow as plain, serializable data. */

/** Credentials resolved by name, never stored in a flow. */
export * as Credentials from "./Credentials.ts"
/** Typed failures of an execution. */
export * as FlowError from "./FlowError.ts"
/** Execution events and the service that receives them. */
export * as FlowEvents from "./FlowEvents.ts"
export * as Ir from "./Ir.ts"
/** Node definitions: the behaviour behind a node type. */
export * as Node from "./Node.ts"
