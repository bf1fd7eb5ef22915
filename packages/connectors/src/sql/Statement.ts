/**
 * Parameterized statements. User data never becomes SQL text: a statement is text with placeholders plus
 * values, and the values travel to PostgreSQL as bind parameters.
 *
 * - JSON flows write `sql` with positional `$1, $2` (values from `params`, an array, or else from the
 *   input when it is an array) or named `:name` / `:path.to.field` placeholders (values from `params`, an
 *   object, or else from the node input by path).
 * - The builder uses the {@link sql} tagged template: every interpolated value becomes a bound parameter,
 *   and {@link input} marks a value taken from the node input at run time.
 *
 * Placeholders inside string literals, quoted identifiers, dollar-quoted bodies and comments are left
 * alone, and `::type` casts are not placeholders.
 *
 * @module Statement
 */
import { Registry } from "@jsonflow/core"
import { Schema } from "effect"
import { SqlParameterError } from "./SqlErrors.ts"

/** A statement: text and its parameters (an array for `$n`, an object for `:name`). */
export interface Statement {
  readonly sql: string
  readonly params?: ReadonlyArray<Schema.Json> | { readonly [name: string]: Schema.Json }
}

/** Schema of statement parameters. */
export const Params = Schema.Union([Schema.Array(Schema.Json), Schema.Record(Schema.String, Schema.Json)])

/** A JSON Schema of one row, typed by the row it describes (made by {@link rowsOf} or {@link select}). */
export interface RowsOf<A> {
  readonly [key: string]: unknown
  readonly "~row"?: A
}

/** A statement whose rows are described by a row Schema. */
export interface TypedStatement<A> extends Statement {
  readonly rows: RowsOf<A>
}

const INPUT_REF = Symbol.for("@jsonflow/connectors/sql/InputRef")

/** A placeholder for a value of the node input (see {@link input}). */
export interface InputRef {
  readonly [INPUT_REF]: true
  readonly path: string
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/

/**
 * Marks a template value as "the node input's field at `path`", bound when the node runs.
 *
 * @example
 * ```ts
 * import { Sql } from "@jsonflow/connectors"
 * const byStatus = Sql.sql`select id from orders where status = ${Sql.input("status")}`
 * // { sql: "select id from orders where status = :status" }
 * ```
 */
export const input = (path: string): InputRef => {
  if (NAME.exec(path)?.[0] !== path) throw new Error(`Sql.input: "${path}" is not a field path like a.b_c`)
  return { [INPUT_REF]: true, path }
}

const isInputRef = (value: unknown): value is InputRef =>
  typeof value === "object" && value !== null && (value as Partial<InputRef>)[INPUT_REF] === true

/**
 * The tagged template: interpolated values become bound parameters (`:_1`, `:_2`, ...), {@link input}
 * references become named placeholders filled from the node input. Returns a config-ready statement.
 *
 * @example
 * ```ts
 * import { Sql } from "@jsonflow/connectors"
 * const statement = Sql.sql`select * from orders where status = ${"paid"} and amount >= ${Sql.input("min")}`
 * // { sql: "select * from orders where status = :_1 and amount >= :min", params: { _1: "paid" } }
 * ```
 */
export const sql = (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Statement => {
  let text = strings[0] ?? ""
  const params: Record<string, Schema.Json> = {}
  values.forEach((value, i) => {
    if (isInputRef(value)) {
      text += `:${value.path}`
    } else {
      if (value === undefined) throw new Error(`Sql.sql: value #${i + 1} is undefined (use null for SQL NULL)`)
      params[`_${i + 1}`] = value as Schema.Json
      text += `:_${i + 1}`
    }
    text += strings[i + 1] ?? ""
  })
  // No values: no `params` key, so the statement reads as it would be written by hand in JSON.
  return Object.keys(params).length === 0 ? { sql: text } : { sql: text, params }
}

/**
 * The JSON Schema of one row, typed by the row, for a statement's `rows` (rows are checked against it when
 * the node runs; the check validates, it does not transform).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Sql } from "@jsonflow/connectors"
 * const rows = Sql.rowsOf(Schema.Struct({ id: Schema.Number }))
 * ```
 */
export const rowsOf = <A>(row: Schema.Codec<A, unknown>): RowsOf<A> => Registry.jsonSchemaOf(row) as RowsOf<A>

/**
 * {@link sql} with the rows typed by `row`: use it with `Sql.queryOf(row)` in the builder.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Sql } from "@jsonflow/connectors"
 * const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
 * const statement = Sql.select(Order)`select id, amount::float8 from orders where status = ${"paid"}`
 * ```
 */
export const select =
  <A>(row: Schema.Codec<A, unknown>) =>
  (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): TypedStatement<A> => ({
    ...sql(strings, ...values),
    rows: rowsOf(row)
  })

/** The placeholders of a statement text, found once per text and cached. */
export interface Parsed {
  /** The text with every `:name` replaced by `$n`. */
  readonly text: string
  /** Named placeholders in `$n` order (empty for positional statements). */
  readonly names: ReadonlyArray<string>
  /** The highest `$n` written in the original text. */
  readonly positional: number
}

const IDENT_CHAR = /[A-Za-z0-9_$]/

/** Finds where a quoted section starting at `start` (on the quote) ends, exclusive. */
const skipQuoted = (s: string, start: number, quote: string, backslash: boolean): number => {
  let i = start + 1
  while (i < s.length) {
    const c = s[i]
    if (backslash && c === "\\") i += 2
    else if (c === quote && s[i + 1] === quote) i += 2
    else if (c === quote) return i + 1
    else i++
  }
  return s.length
}

/**
 * Scans a statement's text for placeholders, skipping literals, identifiers, dollar quotes and comments.
 *
 * @example
 * ```ts
 * parse("select ':x', a::int from t where b = :b and c = :b")
 * // { text: "select ':x', a::int from t where b = $1 and c = $1", names: ["b"], positional: 0 }
 * ```
 */
export const parse = (s: string): Parsed => {
  let out = ""
  const names: Array<string> = []
  let positional = 0
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    const next = s[i + 1]
    if (c === "'") {
      const prev = s[i - 1]
      const escapeString = (prev === "E" || prev === "e") && !IDENT_CHAR.test(s[i - 2] ?? "")
      const end = skipQuoted(s, i, "'", escapeString)
      out += s.slice(i, end)
      i = end
    } else if (c === '"') {
      const end = skipQuoted(s, i, '"', false)
      out += s.slice(i, end)
      i = end
    } else if (c === "-" && next === "-") {
      const end = s.indexOf("\n", i)
      const stop = end < 0 ? s.length : end
      out += s.slice(i, stop)
      i = stop
    } else if (c === "/" && next === "*") {
      let depth = 1
      let j = i + 2
      while (j < s.length && depth > 0) {
        if (s[j] === "/" && s[j + 1] === "*") {
          depth++
          j += 2
        } else if (s[j] === "*" && s[j + 1] === "/") {
          depth--
          j += 2
        } else j++
      }
      out += s.slice(i, j)
      i = j
    } else if (c === "$" && !IDENT_CHAR.test(s[i - 1] ?? "")) {
      const digits = /^\$(\d+)/.exec(s.slice(i, i + 12))
      const tag = digits ? null : /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i, i + 66))
      if (digits) {
        positional = Math.max(positional, Number(digits[1]))
        out += digits[0]
        i += digits[0].length
      } else if (tag) {
        const close = s.indexOf(tag[0], i + tag[0].length)
        const end = close < 0 ? s.length : close + tag[0].length
        out += s.slice(i, end)
        i = end
      } else {
        out += c
        i++
      }
    } else if (c === ":" && next === ":") {
      out += "::"
      i += 2
    } else if (c === ":" && next !== undefined && /[A-Za-z_]/.test(next)) {
      const name = NAME.exec(s.slice(i + 1))![0]
      let index = names.indexOf(name)
      if (index < 0) index = names.push(name) - 1
      out += `$${index + 1}`
      i += 1 + name.length
    } else {
      out += c
      i++
    }
  }
  return { text: out, names, positional }
}

const parsedCache = new Map<string, Parsed>()

/** {@link parse}, cached by text (bounded: the oldest entries go first). */
export const parseCached = (text: string): Parsed => {
  let parsed = parsedCache.get(text)
  if (parsed === undefined) {
    parsed = parse(text)
    if (parsedCache.size >= 1_000) parsedCache.delete(parsedCache.keys().next().value!)
    parsedCache.set(text, parsed)
  }
  return parsed
}

const readPath = (root: unknown, path: string): unknown => {
  let current = root
  for (const segment of path.split(".")) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}

/** A statement ready for the driver: `$n` text and the values in order. */
export interface Bound {
  readonly text: string
  readonly values: ReadonlyArray<unknown>
}

/**
 * Binds a statement's placeholders to values from its `params` and the node input.
 *
 * @example
 * ```ts
 * bind({ sql: "select * from t where a = :a and b = :x.y", params: { a: 1 } }, { x: { y: "z" } })
 * // { text: "select * from t where a = $1 and b = $2", values: [1, "z"] }
 * ```
 */
export const bind = (statement: Statement, input?: unknown): Bound | SqlParameterError => {
  const parsed = parseCached(statement.sql)
  const params = statement.params
  if (parsed.names.length > 0) {
    if (parsed.positional > 0) {
      return new SqlParameterError({ reason: "use either $1-style or :name placeholders, not both", retryable: false })
    }
    if (Array.isArray(params)) {
      return new SqlParameterError({ reason: "named placeholders need params as an object", retryable: false })
    }
    const named = params as Readonly<Record<string, unknown>> | undefined
    const values: Array<unknown> = []
    for (const name of parsed.names) {
      const value = named !== undefined && Object.hasOwn(named, name) ? named[name] : readPath(input, name)
      if (value === undefined) {
        return new SqlParameterError({
          reason: `no value for :${name} (neither in params nor in the input)`,
          retryable: false
        })
      }
      values.push(value)
    }
    return { text: parsed.text, values }
  }
  const list: ReadonlyArray<unknown> = Array.isArray(params) ? params : Array.isArray(input) ? input : []
  if (list.length < parsed.positional) {
    return new SqlParameterError({
      reason: `the statement uses $${parsed.positional} but ${list.length} value(s) were given`,
      retryable: false
    })
  }
  return { text: parsed.text, values: list.slice(0, parsed.positional) }
}
