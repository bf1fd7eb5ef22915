/**
 * Port compatibility (the "puzzle" rule): does every value an output port can emit fit the input Schema of
 * the port it is wired to? Both sides are compared as JSON Schema, so builder flows (Effect Schemas) and
 * JSON flows (JSON Schema in the file) are checked the same way.
 *
 * Checked: primitive types (`integer` fits `number`), `const`/`enum` values, required object properties
 * (present and required upstream), property and array item types recursively, and `anyOf` on both sides.
 * Not checked (left to the run-time check of the edge): refinements (`minimum`, `pattern`, lengths, formats),
 * `$ref`s, `allOf`/`oneOf`/`not`, tuples, and anything an upstream port types as `unknown`. An edge that is
 * not proven compatible is validated at run time against the downstream input Schema.
 *
 * An edge that *is* proven compatible is not checked at run time: node outputs are not re-validated against
 * their declared Schema (that would cost a decode per node on every run). The engine trusts a definition to
 * emit what its `output`/`outputs` Schemas say; a node that emits something else (through a cast, or
 * untyped code) passes it on unchecked. Declare `Schema.Unknown` for an output you cannot vouch for: its
 * edges are then validated at run time against the downstream input.
 *
 * @module Compatibility
 */

type JsonSchema = { readonly [key: string]: unknown }

/** The verdict on one edge: `ok` (proven), `unchecked` (validate at run time) or the problems found. */
export type Verdict =
  | { readonly _tag: "Ok" }
  | { readonly _tag: "Unchecked" }
  | { readonly _tag: "Mismatch"; readonly problems: ReadonlyArray<Mismatch> }

/** A proven incompatibility, at a JSON Pointer inside the value. */
export interface Mismatch {
  readonly path: string
  readonly message: string
}

const OK: Verdict = { _tag: "Ok" }
const UNCHECKED: Verdict = { _tag: "Unchecked" }

const isObject = (value: unknown): value is JsonSchema => typeof value === "object" && value !== null

// Effect encodes numbers as `number | "Infinity" | "-Infinity" | "NaN"`; for port checks that is a number.
const normalize = (schema: JsonSchema): JsonSchema => {
  const anyOf = schema.anyOf
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const [a, b] = anyOf as ReadonlyArray<JsonSchema>
    if (
      a?.type === "number" &&
      b?.type === "string" &&
      Array.isArray(b.enum) &&
      b.enum.every((v) => v === "Infinity" || v === "-Infinity" || v === "NaN")
    ) {
      return a
    }
  }
  return schema
}

const isUnconstrained = (schema: JsonSchema) => {
  for (const key of Object.keys(schema)) {
    if (key !== "description" && key !== "title" && key !== "$schema" && key !== "examples" && key !== "$defs") {
      return false
    }
  }
  return true
}

const typesOf = (schema: JsonSchema): ReadonlyArray<string> | undefined => {
  if (typeof schema.type === "string") return [schema.type]
  if (Array.isArray(schema.type)) return schema.type as ReadonlyArray<string>
  if ("const" in schema) return [jsonTypeOf(schema.const)]
  if (Array.isArray(schema.enum)) return [...new Set((schema.enum as ReadonlyArray<unknown>).map(jsonTypeOf))]
  return undefined
}

const jsonTypeOf = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "array"
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number"
  return typeof value
}

const typeFits = (from: string, to: ReadonlyArray<string>) =>
  to.includes(from) || (from === "integer" && to.includes("number"))

const combine = (verdicts: ReadonlyArray<Verdict>): Verdict => {
  const problems: Array<Mismatch> = []
  let unchecked = false
  for (const verdict of verdicts) {
    if (verdict._tag === "Mismatch") problems.push(...verdict.problems)
    else if (verdict._tag === "Unchecked") unchecked = true
  }
  if (problems.length > 0) return { _tag: "Mismatch", problems }
  return unchecked ? UNCHECKED : OK
}

const mismatch = (path: string, message: string): Verdict => ({ _tag: "Mismatch", problems: [{ path, message }] })

const describeTypes = (types: ReadonlyArray<string>) => types.join(" | ")

const escapePointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1")

/**
 * Checks that values of JSON Schema `from` fit JSON Schema `to`.
 *
 * @example
 * ```ts
 * import { Compatibility } from "@jsonflow/core"
 * Compatibility.fits({ type: "integer" }, { type: "number" }) // { _tag: "Ok" }
 * Compatibility.fits({ type: "string" }, { type: "number" })._tag // "Mismatch"
 * ```
 */
export const fits = (fromSchema: JsonSchema, toSchema: JsonSchema, path = ""): Verdict => {
  const from = normalize(fromSchema)
  const to = normalize(toSchema)
  if (isUnconstrained(to)) return OK
  if (isUnconstrained(from) || "$ref" in from || "$ref" in to) return UNCHECKED

  if (Array.isArray(from.anyOf)) {
    // Every alternative upstream must fit downstream.
    return combine((from.anyOf as ReadonlyArray<JsonSchema>).map((branch) => fits(branch, to, path)))
  }
  if (Array.isArray(to.anyOf)) {
    const verdicts = (to.anyOf as ReadonlyArray<JsonSchema>).map((branch) => fits(from, branch, path))
    if (verdicts.some((v) => v._tag === "Ok")) return OK
    if (verdicts.some((v) => v._tag === "Unchecked")) return UNCHECKED
    const fromTypes = typesOf(from)
    return mismatch(
      path,
      `expected one of the accepted shapes, got ${fromTypes ? describeTypes(fromTypes) : "a value"}`
    )
  }

  const fromTypes = typesOf(from)
  const toTypes = typesOf(to)
  if (fromTypes === undefined || toTypes === undefined) return UNCHECKED
  const bad = fromTypes.filter((t) => !typeFits(t, toTypes))
  if (bad.length === fromTypes.length) {
    return mismatch(path, `expected ${describeTypes(toTypes)}, got ${describeTypes(fromTypes)}`)
  }
  const partial = bad.length > 0

  const verdicts: Array<Verdict> = []
  if ("const" in to || Array.isArray(to.enum)) {
    const allowed: ReadonlyArray<unknown> = "const" in to ? [to.const] : (to.enum as ReadonlyArray<unknown>)
    const produced: ReadonlyArray<unknown> | undefined =
      "const" in from ? [from.const] : Array.isArray(from.enum) ? (from.enum as ReadonlyArray<unknown>) : undefined
    if (produced === undefined) verdicts.push(UNCHECKED)
    else {
      const outside = produced.filter((v) => !allowed.some((a) => JSON.stringify(a) === JSON.stringify(v)))
      if (outside.length > 0) {
        verdicts.push(
          mismatch(
            path,
            `expected one of ${JSON.stringify(allowed)}, got ${outside.map((v) => JSON.stringify(v)).join(", ")}`
          )
        )
      }
    }
  }

  if (toTypes.includes("object") && fromTypes.includes("object")) verdicts.push(objectFits(from, to, path))
  if (toTypes.includes("array") && fromTypes.includes("array")) verdicts.push(arrayFits(from, to, path))
  if (partial) verdicts.push(UNCHECKED)
  return combine(verdicts)
}

const objectFits = (from: JsonSchema, to: JsonSchema, path: string): Verdict => {
  const toProps = isObject(to.properties) ? to.properties : {}
  const fromProps = isObject(from.properties) ? from.properties : undefined
  const toRequired = Array.isArray(to.required) ? (to.required as ReadonlyArray<string>) : []
  const fromRequired = new Set(Array.isArray(from.required) ? (from.required as ReadonlyArray<string>) : [])
  const verdicts: Array<Verdict> = []
  if (fromProps === undefined) {
    // A record or free-form object upstream: property presence is only known at run time.
    if (toRequired.length > 0 || Object.keys(toProps).length > 0) verdicts.push(UNCHECKED)
    if (isObject(from.additionalProperties) && isObject(to.additionalProperties)) {
      verdicts.push(fits(from.additionalProperties, to.additionalProperties, `${path}/*`))
    }
    return combine(verdicts)
  }
  for (const key of toRequired) {
    const at = `${path}/${escapePointer(key)}`
    if (!(key in fromProps)) {
      verdicts.push(
        from.additionalProperties === false
          ? mismatch(at, `required property "${key}" is never produced`)
          : mismatch(at, `required property "${key}" is missing`)
      )
    } else if (!fromRequired.has(key)) {
      verdicts.push(mismatch(at, `property "${key}" is optional upstream but required here`))
    }
  }
  for (const [key, toProp] of Object.entries(toProps)) {
    const fromProp = fromProps[key]
    if (isObject(fromProp) && isObject(toProp)) verdicts.push(fits(fromProp, toProp, `${path}/${escapePointer(key)}`))
  }
  return combine(verdicts)
}

const arrayFits = (from: JsonSchema, to: JsonSchema, path: string): Verdict => {
  if (!isObject(to.items)) return isObject(to.prefixItems) || Array.isArray(to.prefixItems) ? UNCHECKED : OK
  if (!isObject(from.items)) return UNCHECKED
  return fits(from.items, to.items, `${path}/*`)
}
