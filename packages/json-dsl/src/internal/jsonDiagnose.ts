/**
 * Why JSON text is not acceptable, said precisely: `JSON.parse` only says "unexpected token at position
 * 4711". This iterative checker (no recursion, so any nesting is safe) walks the text token by token and
 * stops at the first fault with a sentence and its offset. It runs only when the fast path has already
 * found a fault, so it may be slower than `JSON.parse`; it builds no values.
 *
 * @module internal/jsonDiagnose
 */

/** The first fault of the text. */
export interface Fault {
  readonly code: "invalid-json" | "too-deep"
  readonly message: string
  readonly offset: number
}

const WHITESPACE = /[ \t\n\r]*/y
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings must not hold raw control characters
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const ESCAPE = /^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/

const describeChar = (text: string, offset: number) =>
  offset >= text.length ? "the end of the input" : JSON.stringify(text.charAt(offset))

/** The first fault of `text` under `maxDepth`, or `undefined` when it is valid JSON. */
export const diagnose = (text: string, maxDepth: number): Fault | undefined => {
  const fault = (message: string, offset: number, code: Fault["code"] = "invalid-json"): Fault => ({
    code,
    message,
    offset
  })
  // true = array, false = object
  const stack: Array<boolean> = []
  let pos = 0

  const skipWhitespace = () => {
    WHITESPACE.lastIndex = pos
    WHITESPACE.test(text)
    pos = WHITESPACE.lastIndex
  }

  // A string token at `pos` (which holds a quote): moves past it, or says what is wrong with it.
  const readString = (): Fault | undefined => {
    STRING.lastIndex = pos
    if (STRING.test(text)) {
      pos = STRING.lastIndex
      return undefined
    }
    for (let i = pos + 1; i < text.length; i++) {
      const code = text.charCodeAt(i)
      if (code === 0x22) break
      if (code === 0x5c) {
        if (!ESCAPE.test(text.slice(i + 1, i + 6))) return fault("invalid escape sequence in a string", i)
        i += text.charAt(i + 1) === "u" ? 5 : 1
        continue
      }
      if (code < 0x20) return fault("unescaped control character in a string", i)
    }
    return fault("unterminated string", pos)
  }

  // `"key":` inside an object.
  const readKey = (): Fault | undefined => {
    if (text.charAt(pos) !== '"') {
      return fault(`expected a property name in double quotes but found ${describeChar(text, pos)}`, pos)
    }
    const problem = readString()
    if (problem) return problem
    skipWhitespace()
    if (text.charAt(pos) !== ":") return fault(`expected ":" but found ${describeChar(text, pos)}`, pos)
    pos++
    return undefined
  }

  // After a value inside containers: `,` (then the next member) or closing brackets.
  const afterValue = (): Fault | undefined => {
    while (stack.length > 0) {
      skipWhitespace()
      const isArray = stack[stack.length - 1]!
      const char = text.charAt(pos)
      if (char === ",") {
        pos++
        skipWhitespace()
        return isArray ? undefined : readKey()
      }
      if (char === (isArray ? "]" : "}")) {
        pos++
        stack.pop()
        continue
      }
      return fault(`expected ${isArray ? '"," or "]"' : '"," or "}"'} but found ${describeChar(text, pos)}`, pos)
    }
    return undefined
  }

  skipWhitespace()
  if (pos >= text.length) return fault("the input is empty", pos)
  while (true) {
    skipWhitespace()
    const char = text.charAt(pos)
    if (char === "{" || char === "[") {
      if (stack.length >= maxDepth) return fault(`the JSON nests deeper than ${maxDepth} levels`, pos, "too-deep")
      pos++
      const isArray = char === "["
      stack.push(isArray)
      skipWhitespace()
      if (text.charAt(pos) === (isArray ? "]" : "}")) {
        pos++
        stack.pop()
      } else {
        if (!isArray) {
          const problem = readKey()
          if (problem) return problem
        }
        continue
      }
    } else if (char === '"') {
      const problem = readString()
      if (problem) return problem
    } else if (char === "-" || (char >= "0" && char <= "9")) {
      NUMBER.lastIndex = pos
      if (!NUMBER.test(text)) return fault("invalid number", pos)
      pos = NUMBER.lastIndex
    } else if (text.startsWith("true", pos) || text.startsWith("null", pos)) {
      pos += 4
    } else if (text.startsWith("false", pos)) {
      pos += 5
    } else {
      return fault(pos >= text.length ? "unexpected end of the input" : `unexpected ${describeChar(text, pos)}`, pos)
    }
    const problem = afterValue()
    if (problem) return problem
    if (stack.length === 0) break
  }
  skipWhitespace()
  if (pos < text.length) return fault(`unexpected ${describeChar(text, pos)} after the JSON value`, pos)
  return undefined
}
