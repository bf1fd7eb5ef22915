/**
 * The built-in node types: `noop`, `map`, `filter`, `switch`, `join`, `merge`, `setVariables`, `delay`,
 * `forEach`, `subflow`, `respond` and `fail`. None needs a service (JSONata `expr` values use the optional
 * {@link Expr.Expressions} service).
 *
 * @module Builtins
 */
import { delay } from "./nodes/delay.ts"
import { fail } from "./nodes/fail.ts"
import { filter } from "./nodes/filter.ts"
import { forEach } from "./nodes/forEach.ts"
import { join, merge } from "./nodes/join.ts"
import { map } from "./nodes/map.ts"
import { noop } from "./nodes/noop.ts"
import { respond } from "./nodes/respond.ts"
import { subflow } from "./nodes/subflow.ts"
import { switchNode } from "./nodes/switch.ts"
import { setVariables } from "./nodes/variables.ts"
import * as Registry from "./Registry.ts"

export { delay, fail, filter, forEach, join, map, merge, noop, respond, setVariables, subflow, switchNode }

/** Every built-in definition. */
export const definitions = [
  noop,
  map,
  filter,
  switchNode,
  join,
  merge,
  setVariables,
  delay,
  forEach,
  subflow,
  respond,
  fail
] as const

/**
 * A registry of the built-ins; merge your own definitions into it.
 *
 * @example
 * ```ts
 * import { Builtins, Registry } from "@jsonflow/core"
 * const registry = Registry.merge(Builtins.registry, Registry.make(myNode))
 * ```
 */
export const registry = Registry.make(...definitions)
