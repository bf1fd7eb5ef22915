/**
 * Renders JSON Schema (draft 2020-12, as Effect's `Schema.toJsonSchemaDocument` and the json-dsl package
 * write it) as Markdown: a short type expression per schema and a property table per object, nested
 * objects flattened to dotted paths.
 *
 * @module jsonSchema
 */
import { cell, code, slug } from "./markdown.ts"

export type JsonSchema = { readonly [key: string]: unknown }

const isSchema = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const refName = (ref: string): string => ref.replace(/^#\/(\$defs|definitions)\//, "")

/** Where `$ref`s point: the document's `$defs` (or `definitions`). */
export interface Defs {
  readonly schemas: Readonly<Record<string, JsonSchema>>
  /** When set, `$ref` names become links to `#<anchor(name)>` on the same page. */
  readonly anchor?: (name: string) => string
}

export const defsOf = (root: JsonSchema, anchor?: (name: string) => string): Defs => {
  const schemas = {
    ...(isSchema(root.definitions) ? root.definitions : {}),
    ...(isSchema(root.$defs) ? root.$defs : {})
  }
  return {
    schemas: Object.fromEntries(Object.entries(schemas).filter((e): e is [string, JsonSchema] => isSchema(e[1]))),
    ...(anchor ? { anchor } : {})
  }
}

const variants = (schema: JsonSchema): ReadonlyArray<JsonSchema> | undefined => {
  const list = schema.anyOf ?? schema.oneOf
  return Array.isArray(list) ? list.filter(isSchema) : undefined
}

const json = (value: unknown): string => JSON.stringify(value) ?? "undefined"

/** A short, TypeScript-like type expression for a schema. */
export const typeOf = (schema: unknown, defs: Defs, depth = 0): string => {
  if (schema === true || (isSchema(schema) && Object.keys(schema).length === 0)) return "any"
  if (!isSchema(schema)) return "never"
  if (typeof schema.$ref === "string") return refName(schema.$ref)
  if ("const" in schema) return json(schema.const)
  if (Array.isArray(schema.enum)) return schema.enum.map(json).join(" | ")
  const union = variants(schema)
  if (union !== undefined) return union.map((s) => typeOf(s, defs, depth)).join(" | ")
  if (Array.isArray(schema.type)) return schema.type.map((t) => typeOf({ ...schema, type: t }, defs, depth)).join(" | ")
  switch (schema.type) {
    case "string":
    case "number":
    case "boolean":
    case "null":
      return schema.type
    case "integer":
      return "integer"
    case "array": {
      if (Array.isArray(schema.prefixItems)) {
        return `[${schema.prefixItems.map((s) => typeOf(s, defs, depth + 1)).join(", ")}]`
      }
      const item = typeOf(schema.items ?? {}, defs, depth + 1)
      return item.includes(" ") ? `Array<${item}>` : `${item}[]`
    }
    case "object": {
      const properties = isSchema(schema.properties) ? schema.properties : {}
      const names = Object.keys(properties)
      if (names.length === 0) {
        const extra = schema.additionalProperties
        if (isSchema(extra) || extra === true) return `Record<string, ${typeOf(extra, defs, depth + 1)}>`
        if (isSchema(schema.patternProperties)) {
          const [first] = Object.values(schema.patternProperties)
          return `Record<string, ${typeOf(first ?? {}, defs, depth + 1)}>`
        }
        return "{}"
      }
      const required = new Set(Array.isArray(schema.required) ? schema.required : [])
      const inline = `{ ${names
        .map((n) => `${n}${required.has(n) ? "" : "?"}: ${typeOf(properties[n], defs, depth + 1)}`)
        .join("; ")} }`
      return depth < 2 && inline.length <= 90 ? inline : "object"
    }
    default:
      return "any"
  }
}

/** Constraints and defaults worth a person's attention, as a phrase. */
export const constraintsOf = (schema: unknown): string => {
  if (!isSchema(schema)) return ""
  const parts: Array<string> = []
  const add = (key: string, label: string) => {
    const value = schema[key]
    // Effect writes Number.MAX_SAFE_INTEGER as the maximum of every integer: not worth saying.
    if (value !== undefined && value !== Number.MAX_SAFE_INTEGER) parts.push(`${label} ${json(value)}`)
  }
  add("minimum", "≥")
  add("exclusiveMinimum", ">")
  add("maximum", "≤")
  add("exclusiveMaximum", "<")
  add("minLength", "length ≥")
  add("maxLength", "length ≤")
  add("minItems", "items ≥")
  add("maxItems", "items ≤")
  add("pattern", "pattern")
  add("format", "format")
  add("default", "default")
  return parts.join(", ")
}

export interface Row {
  readonly path: string
  readonly type: string
  readonly required: boolean
  readonly description: string
}

const objectLike = (schema: unknown): schema is JsonSchema =>
  isSchema(schema) && isSchema(schema.properties) && Object.keys(schema.properties).length > 0

/** The rows of an object schema; nested objects become dotted paths (`auth.credential`). */
const deref = (schema: unknown, defs: Defs): unknown =>
  isSchema(schema) && typeof schema.$ref === "string" ? (defs.schemas[refName(schema.$ref)] ?? schema) : schema

export const rowsOf = (input: unknown, defs: Defs, prefix = "", depth = 0): ReadonlyArray<Row> => {
  const schema = deref(input, defs)
  if (!objectLike(schema)) return []
  const properties = schema.properties as Record<string, unknown>
  const required = new Set(Array.isArray(schema.required) ? schema.required : [])
  const rows: Array<Row> = []
  for (const [name, property] of Object.entries(properties)) {
    const path = `${prefix}${name}`
    const description = isSchema(property)
      ? [property.title, property.description, constraintsOf(property)]
          .filter((s): s is string => typeof s === "string" && s !== "")
          .map((s) => s.replace(/\.$/, ""))
      : []
    const nested = depth < 3 && objectLike(property)
    rows.push({
      path,
      type: nested ? "object" : typeOf(property, defs),
      required: required.has(name),
      description: description.length > 0 ? `${description.join(". ")}.` : ""
    })
    if (nested) rows.push(...rowsOf(property, defs, `${path}.`, depth + 1))
  }
  return rows
}

const linkRefs = (type: string, defs: Defs): string => {
  const rendered = code(type)
  if (defs.anchor === undefined) return rendered
  const names = Object.keys(defs.schemas).filter((n) => new RegExp(`\\b${n.replace(/\W/g, "\\$&")}\\b`).test(type))
  if (names.length === 0) return rendered
  return `${rendered} (${names.map((n) => `[${n}](#${defs.anchor!(n)})`).join(", ")})`
}

/** A Markdown table of an object schema's properties, or a one-line type for any other schema. */
export const table = (schema: unknown, defs: Defs): string => {
  const rows = rowsOf(schema, defs)
  if (rows.length === 0) return `Type: ${linkRefs(typeOf(schema, defs), defs)}`
  return [
    "| field | type | required | notes |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      (r) => `| ${code(r.path)} | ${linkRefs(r.type, defs)} | ${r.required ? "yes" : "no"} | ${cell(r.description)} |`
    )
  ].join("\n")
}

/** Anchors for `$defs` entries on a schema reference page. */
export const defAnchor = (name: string): string => `def-${slug(name)}`
