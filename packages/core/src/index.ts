/**
 * `@jsonflow/core`: the flow IR, node definitions, the typed builder, the compiler and the engine.
 *
 * @module @jsonflow/core
 */
/** The flow IR: a flow as plain, serializable data. */

/** The built-in node types and their registry. */
export * as Builtins from "./Builtins.ts"
/** Port compatibility between an output and an input Schema. */
export * as Compatibility from "./Compatibility.ts"
/** The compiler: IR + registry -> a runnable flow, or every problem. */
export * as Compiler from "./Compiler.ts"
/** Credentials resolved by name, never stored in a flow. */
export * as Credentials from "./Credentials.ts"
/** Declarative values, conditions, and the optional JSONata expression service. */
export * as Expr from "./Expr.ts"
/** The typed builder, compile/run for built flows, and the promise API. */
export * as Flow from "./Flow.ts"
/** Typed failures of an execution. */
export * as FlowError from "./FlowError.ts"
/** Execution events and the service that receives them. */
export * as FlowEvents from "./FlowEvents.ts"
export * as Ir from "./Ir.ts"
/** Node definitions: the behaviour behind a node type. */
export * as Node from "./Node.ts"
/** Optional packages (protocol libraries) loaded on first use, with a typed error when not installed. */
export * as OptionalPackage from "./OptionalPackage.ts"
/** The registry of node types and the designer catalog. */
export * as Registry from "./Registry.ts"
/** Decoding with every problem as a JSON Pointer and a readable message. */
export * as Validation from "./Validation.ts"
