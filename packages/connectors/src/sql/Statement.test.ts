import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { isRetryableSqlState, toSqlFailure } from "./SqlErrors.ts"
import { bind, input, parse, select, sql } from "./Statement.ts"

describe("parse", () => {
  it("rewrites :name placeholders to $n, reusing the number of a repeated name", () => {
    assert.deepStrictEqual(parse("select * from t where a = :a and b = :b.c or a2 = :a"), {
      text: "select * from t where a = $1 and b = $2 or a2 = $1",
      names: ["a", "b.c"],
      positional: 0
    })
  })

  it("leaves literals, quoted identifiers, dollar quotes, comments and casts alone", () => {
    const text = [
      "select ':no', E'it\\'s :no', 'it''s :no', \"col:no\", x::int, $tag$ :no $tag$, $$ :no $$",
      "-- :no",
      "/* :no /* nested :no */ */ from t where y = :yes"
    ].join("\n")
    const parsed = parse(text)
    assert.deepStrictEqual(parsed.names, ["yes"])
    assert.strictEqual(parsed.text, text.replace(":yes", "$1"))
  })

  it("counts positional placeholders", () => {
    assert.strictEqual(parse("select $1, $2, $10").positional, 10)
    assert.strictEqual(parse("select a$1 from t").positional, 0, "$ inside an identifier is not a placeholder")
  })
})

describe("bind", () => {
  it("takes named values from params first, then from the input by path", () => {
    assert.deepStrictEqual(bind({ sql: "select :a, :b.c", params: { a: 1 } }, { a: 99, b: { c: "x" } }), {
      text: "select $1, $2",
      values: [1, "x"]
    })
  })

  it("takes positional values from params or from an array input", () => {
    assert.deepStrictEqual(bind({ sql: "select $1, $2", params: [1, 2] }), { text: "select $1, $2", values: [1, 2] })
    assert.deepStrictEqual(bind({ sql: "select $1" }, ["x", "extra"]), { text: "select $1", values: ["x"] })
  })

  it("reports missing values and mixed styles", () => {
    const missing = bind({ sql: "select :nope" }, {})
    assert.strictEqual("_tag" in missing ? missing._tag : "", "SqlParameterError")
    const mixed = bind({ sql: "select $1, :a", params: { a: 1 } })
    assert.include("reason" in mixed ? mixed.reason : "", "not both")
    const short = bind({ sql: "select $1, $2", params: [1] })
    assert.include("reason" in short ? short.reason : "", "$2")
  })

  it("never puts a value into the text", () => {
    const evil = "'; drop table users; --"
    const bound = bind({ sql: "select * from users where name = :name" }, { name: evil })
    assert.deepStrictEqual(bound, { text: "select * from users where name = $1", values: [evil] })
  })
})

describe("sql tagged template", () => {
  it("binds interpolated values and input references", () => {
    const statement = sql`select * from orders where status = ${"paid"} and amount >= ${input("min")} and id <> ${0}`
    assert.deepStrictEqual(statement, {
      sql: "select * from orders where status = :_1 and amount >= :min and id <> :_3",
      params: { _1: "paid", _3: 0 }
    })
    assert.throws(() => input("a;b"))
    assert.throws(() => sql`select ${undefined}`)
  })

  it("select() adds the row JSON Schema", () => {
    const statement = select(Schema.Struct({ id: Schema.Number }))`select id from t`
    assert.strictEqual(statement.rows.type, "object")
  })
})

describe("SQLSTATE classification", () => {
  it("marks serialization failures, deadlocks, connection and shutdown states retryable", () => {
    for (const state of ["40001", "40P01", "08006", "08001", "57P01", "53300", "55P03"]) {
      assert.isTrue(isRetryableSqlState(state), state)
    }
    for (const state of ["23505", "42601", "22P02", "42P01"]) assert.isFalse(isRetryableSqlState(state), state)
  })

  it("maps driver errors", () => {
    const refused = toSqlFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))
    assert.strictEqual(refused._tag, "SqlConnectionError")
    assert.isTrue(refused.retryable)
    const pipe = toSqlFailure(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
    assert.strictEqual(pipe._tag, "SqlConnectionError")
    const ended = toSqlFailure(Object.assign(new Error("ended"), { code: "CONNECTION_ENDED" }))
    assert.isFalse(ended.retryable)
    const terminated = toSqlFailure(
      Object.assign(new Error("terminating connection due to administrator command"), {
        name: "PostgresError",
        code: "57P01"
      })
    )
    assert.deepStrictEqual([terminated._tag, terminated.retryable], ["SqlConnectionError", true])
  })
})
