/**
 * The nFlow script contract, rebuilt as a sandbox script.
 *
 * An nFlow `js` box is a script that defines `function main()` and talks to the engine through globals:
 * it reads and replaces `payload`, picks the next output by assigning `next` (`"output_2"`), reads its box
 * fields in `nflow_data`, the request in `vars`/`path_vars`, `post_data`, `header`, `form`, and answers
 * through `c.JSON/HTML/String/Redirect/NoContent` (first write wins). {@link scriptSource} wraps the user's
 * code in a sandbox script (`export default function (input)`) whose prelude defines those globals from the
 * input made by {@link scriptInput}, then runs `main()` and returns `{ payload, next, replies, headers }`
 * as data. Nothing of the host is reachable: replies are values the host applies afterwards.
 *
 * nFlow scripts are sloppy-mode ES5 (`for (key in obj)` without `var`); names the code assigns without
 * declaring are declared by the wrapper, so they also work where the sandbox runs strict code.
 * `template(tpl, data)` and `mustache(tpl, data)` return a render request that `c.HTML`/`c.String` accept;
 * the host renders it after the script with the same renderers as the template boxes (using the result as
 * a string inside the script throws a clear error). The `http_*` helpers call the host through the
 * sandbox's host-call channel (`ctx.host`, capability `http`, see `nflow/Http.ts`) when the runner gives
 * the box an HTTP client, and throw a clear error otherwise. Other host helpers (mail, sessions, a
 * database: `send_mail`, `get_session`, ...) throw a clear error: they are not part of this compatibility
 * layer (yet).
 *
 * @module nflow/contract
 */
import type { Node } from "@jsonflow/core"
import type * as HttpRequest from "../HttpRequest.ts"

/** What the wrapper returns. */
export interface ScriptResult {
  readonly payload: unknown
  readonly next: string
  readonly replies: ReadonlyArray<Node.Reply>
  readonly headers: Readonly<Record<string, string>>
}

/** nflow-runtime's HTTP helpers, served by the host's HTTP client when the runner provides one. */
export const HTTP_HELPERS = [
  "http_get",
  "http_post",
  "http_put",
  "http_patch",
  "http_delete",
  "http_get_with_header",
  "http_post_with_header",
  "http_put_with_header",
  "http_patch_with_header",
  "http_delete_with_header"
] as const

/** Helpers nflow-runtime offers that need services this layer does not give scripts. */
export const UNAVAILABLE_HELPERS = [
  "send_mail",
  "send_mail_async",
  "mail_config",
  "rule_add_fx",
  "rule_run",
  "openai",
  "ollama",
  "gemini",
  "send_otp",
  "check_otp",
  "file_to_string",
  "string_to_file",
  "get_env",
  "set_env",
  "sleep",
  "get_session",
  "set_session",
  "open_session",
  "save_session",
  "delete_session",
  "open_session_form",
  "delete_session_form",
  "get_profile",
  "set_profile",
  "exist_profile",
  "delete_profile",
  "validate_user",
  "get_user",
  "validate_token",
  "get_token",
  "get_template",
  "redis_hset",
  "redis_hget",
  "redis_hdel",
  "redis_expire",
  "wkill"
] as const

const GLOBALS = new Set([
  "payload",
  "next",
  "nflow_data",
  "dromedary_data",
  "__outputs",
  "__flow_name",
  "__flow_app",
  "current_box",
  "prev_box",
  "wid",
  "nflow_endpoint",
  "vars",
  "path_vars",
  "post_data",
  "header",
  "form",
  "c",
  "echo_context",
  "env",
  "config",
  "url_base",
  "find_element",
  "url_values_to_map",
  "new_map",
  "clean_json",
  "uuid",
  "template",
  "mustache",
  "console",
  "main",
  ...HTTP_HELPERS,
  ...UNAVAILABLE_HELPERS
])

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof let new null return super switch this throw true try typeof var void while " +
    "with yield await static implements interface package private protected public arguments eval undefined NaN " +
    "Infinity globalThis"
  ).split(" ")
)

/**
 * Names the code assigns without declaring (`x = 1`, `for (key in o)`): sloppy-mode scripts create globals
 * that way. Over-approximates (matches in strings and comments are harmless extra declarations).
 */
export const impliedGlobals = (code: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const match of code.matchAll(/(?:^|[;{}(,\n\r]|\)\s)\s*([A-Za-z_$][\w$]*)\s*=(?![=>])/g)) names.add(match[1]!)
  for (const match of code.matchAll(/\bfor\s*\(\s*([A-Za-z_$][\w$]*)\s+(?:in|of)\b/g)) names.add(match[1]!)
  return [...names].filter((name) => !RESERVED.has(name) && !GLOBALS.has(name)).sort()
}

// One line, so the user's code starts on line 2 of the script.
const PRELUDE = [
  "var payload = __input.payload, next = 'output_1', nflow_data = __input.data, dromedary_data = __input.data;",
  "var __outputs = __input.outputs, __flow_name = __input.flowName, __flow_app = 'app', current_box = __input.box;",
  "var prev_box = __input.prev, wid = __input.wid, nflow_endpoint = __input.endpoint, url_base = '';",
  "var vars = __input.vars, path_vars = __input.vars, post_data = __input.postData, header = __input.header;",
  "var form = __input.form, env = {}, config = {}, __replies = [], __headers = {}, __store = {};",
  "var __status = function (code) { var n = Math.trunc(Number(code)); if (!(n >= 100 && n <= 599)) throw new TypeError('invalid HTTP status code ' + code); return n; };",
  "var __write = function (code, type, body, extra) { var h = {}; if (type) h['content-type'] = type; for (var k in extra) h[k] = extra[k]; __replies.push({ status: __status(code), headers: h, body: body }); return null; };",
  "var __first = function (values, name) { var v = values[name]; return v === undefined ? '' : (Array.isArray(v) ? (v.length ? String(v[0]) : '') : String(v)); };",
  "var __text = function (v) { return (v !== null && typeof v === 'object' && typeof v.__render === 'string') ? { __render: v.__render, template: v.template, data: v.data } : String(v); };",
  "var __marker = function (engine, t, d) { var m = { __render: engine, template: String(t), data: d === undefined ? null : JSON.parse(JSON.stringify(d)) }; Object.defineProperty(m, 'toString', { value: function () { throw new Error(engine + '() results can only be passed to c.HTML or c.String in JSON-Flow'); } }); return m; };",
  "var template = function (t, d) { return __marker('template', t, d); }, mustache = function (t, d) { return __marker('mustache', t, d); };",
  "var c = {",
  " JSON: function (code, value) { return __write(code, 'application/json', value === undefined ? null : JSON.parse(JSON.stringify(value))); },",
  " JSONPretty: function (code, value) { return c.JSON(code, value); },",
  " HTML: function (code, html) { return __write(code, 'text/html; charset=UTF-8', __text(html)); },",
  " String: function (code, text) { return __write(code, 'text/plain; charset=UTF-8', __text(text)); },",
  " Blob: function (code, type, data) { return __write(code, String(type), String(data)); },",
  " Redirect: function (code, url) { return __write(code, undefined, '', { location: String(url) }); },",
  " NoContent: function (code) { return __write(code, undefined, ''); },",
  " QueryParam: function (name) { return __first(__input.query, name); },",
  " QueryParams: function () { return __input.query; },",
  " QueryString: function () { return __input.rawQuery; },",
  " Param: function (name) { var v = __input.vars[name]; return v === undefined ? '' : v; },",
  " ParamNames: function () { return Object.keys(__input.vars); },",
  " ParamValues: function () { return Object.keys(__input.vars).map(function (k) { return __input.vars[k]; }); },",
  " FormValue: function (name) { return __first(__input.form, name); },",
  " FormParams: function () { return __input.form; },",
  " GetHeader: function (name) { var l = String(name).toLowerCase(); for (var k in header) if (k.toLowerCase() === l) return __first(header, k); return ''; },",
  " SetHeader: function (name, value) { __headers[String(name).toLowerCase()] = String(value); },",
  " Get: function (key) { return __store[key]; }, Set: function (key, value) { __store[key] = value; },",
  " RealIP: function () { return ''; }, Path: function () { return __input.endpoint; },",
  " Request: function () { return { Method: __input.method, RequestURI: __input.uri, URL: { Path: __input.endpoint, RawQuery: __input.rawQuery }, Header: header }; }",
  "};",
  "var echo_context = c;",
  "var find_element = function (path, obj) { var cur = obj; var parts = String(path).split('.'); for (var i = 0; i < parts.length; i++) { if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, parts[i])) return null; cur = cur[parts[i]]; } return cur === undefined ? null : cur; };",
  "var url_values_to_map = function (values) { var out = {}; for (var k in values) out[k] = __first(values, k); return out; };",
  "var new_map = function () { return {}; }, clean_json = function (v) { return JSON.parse(JSON.stringify(v)); };",
  "var uuid = function () { return __input.uuid; };",
  "var console = (typeof globalThis.console === 'object' && globalThis.console) ? globalThis.console : { log: function () {}, error: function () {}, warn: function () {}, info: function () {} };",
  // http_*: through the host's `http` capability when the call offers it (the same error as the others otherwise).
  "var __http = function (helper, method, url, body, header) { var host = __ctx && __ctx.host; if (!host || host.names.indexOf('http') < 0) throw new Error(helper + '() is not available in JSON-Flow\\'s nFlow compatibility layer'); return host.call('http', { method: method, url: String(url), body: body, header: header }); };",
  "var http_get = function (url) { return __http('http_get', 'GET', url); }, http_delete = function (url) { return __http('http_delete', 'DELETE', url); };",
  "var http_post = function (url, body) { return __http('http_post', 'POST', url, body); }, http_put = function (url, body) { return __http('http_put', 'PUT', url, body); }, http_patch = function (url, body) { return __http('http_patch', 'PATCH', url, body); };",
  "var http_get_with_header = function (url, header) { return __http('http_get_with_header', 'GET', url, undefined, header); }, http_delete_with_header = function (url, header) { return __http('http_delete_with_header', 'DELETE', url, undefined, header); };",
  "var http_post_with_header = function (url, body, header) { return __http('http_post_with_header', 'POST', url, body, header); }, http_put_with_header = function (url, body, header) { return __http('http_put_with_header', 'PUT', url, body, header); }, http_patch_with_header = function (url, body, header) { return __http('http_patch_with_header', 'PATCH', url, body, header); };",
  `${UNAVAILABLE_HELPERS.map((name) => `var ${name} = function () { throw new Error('${name}() is not available in JSON-Flow\\'s nFlow compatibility layer'); };`).join(" ")}`
].join(" ")

/** Lines the wrapper puts before the user's code (the prelude is one line). */
export const WRAPPER_LINES = 1

const shiftFrames = (stack: string) =>
  stack.replace(/script:(\d+):(\d+)/g, (_, line: string, column: string) =>
    Number(line) > WRAPPER_LINES ? `script:${Number(line) - WRAPPER_LINES}:${column}` : `script:${line}:${column}`
  )

/** The first frame of a stack in the user's code (past the prelude line), in the wrapper's lines. */
const firstUserFrame = (stack: string): { readonly line: number; readonly column: number } | undefined => {
  for (const frame of stack.matchAll(/script:(\d+):(\d+)/g)) {
    const line = Number(frame[1])
    if (line > WRAPPER_LINES) return { line, column: Number(frame[2]) }
  }
  return undefined
}

/**
 * A sandbox error of the wrapper script with the user's positions: `ScriptError`/`ScriptCompileError`
 * positions count the wrapper's prelude line, so the same error (same class) is returned with `line` and
 * the stack frames moved up by {@link WRAPPER_LINES}. An error thrown inside the prelude (a helper such as
 * `send_mail()` refusing) points at the user's line that called it. Anything else is returned as it is.
 *
 * @example
 * ```ts
 * Effect.mapError(runner.run(scriptSource(code), input, where), userPosition) // ScriptError line 3 -> 2
 * ```
 */
export const userPosition = (error: unknown): unknown => {
  if (typeof error !== "object" || error === null) return error
  const { _tag, line, column, stack } = error as {
    readonly _tag?: unknown
    readonly line?: unknown
    readonly column?: unknown
    readonly stack?: unknown
  }
  if ((_tag !== "ScriptError" && _tag !== "ScriptCompileError") || typeof line !== "number") return error
  const at =
    line > WRAPPER_LINES
      ? { line, column }
      : _tag === "ScriptError" && typeof stack === "string"
        ? firstUserFrame(stack)
        : undefined
  if (at === undefined) return error
  const moved = Object.assign(Object.create(Object.getPrototypeOf(error) as object) as object, error, {
    line: at.line - WRAPPER_LINES,
    ...(typeof at.column === "number" ? { column: at.column } : {})
  })
  if (_tag === "ScriptError" && typeof stack === "string") Object.assign(moved, { stack: shiftFrames(stack) })
  return moved
}

/**
 * The sandbox script for an nFlow box's code.
 *
 * @example
 * ```ts
 * const source = scriptSource("function main(){ payload.n = 1; next = 'output_2' }")
 * // export default function (__input, __ctx) { ...prelude...
 * // function main(){ payload.n = 1; next = 'output_2' }
 * // ...main(); return { payload, next, replies, headers } }
 * ```
 */
export const scriptSource = (code: string): string => {
  const implied = impliedGlobals(code)
  return [
    `export default function (__input, __ctx) { ${PRELUDE}${implied.length > 0 ? ` var ${implied.join(", ")};` : ""}`,
    code,
    ";main();",
    "return { payload: payload === undefined ? null : payload, next: String(next), replies: __replies, headers: __headers };",
    "}"
  ].join("\n")
}

/** Go's canonical MIME header key: `content-type` -> `Content-Type`. */
export const canonicalHeader = (name: string): string =>
  name
    .toLowerCase()
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("-")

const valuesOf = (record: Readonly<Record<string, string | ReadonlyArray<string>>>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, typeof v === "string" ? [v] : [...v]]))

/** What the script sees of one step. */
export interface StepInfo {
  readonly payload: Record<string, unknown>
  readonly request: HttpRequest.HttpRequest
  readonly box: string
  readonly prev: string | null
  readonly data: Readonly<Record<string, unknown>>
  readonly outputs: Readonly<Record<string, string>>
  readonly flowName: string
  readonly executionId: string
}

const formOf = (request: HttpRequest.HttpRequest) => {
  const form: Record<string, Array<string>> = valuesOf(request.query)
  const type = request.headers["content-type"] ?? ""
  if (typeof request.body === "string" && type.startsWith("application/x-www-form-urlencoded")) {
    const parsed = new URLSearchParams(request.body)
    for (const key of new Set(parsed.keys())) form[key] = [...(form[key] ?? []), ...parsed.getAll(key)]
  }
  return form
}

const rawQueryOf = (query: HttpRequest.HttpRequest["query"]) => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    for (const v of typeof value === "string" ? [value] : value) params.append(key, v)
  }
  return params.toString()
}

/**
 * The input of the wrapper script for one step.
 *
 * @example
 * ```ts
 * scriptInput({ payload: {}, request, box: "n1", prev: null, data: {}, outputs: {}, flowName: "Home", executionId: "e1" })
 * ```
 */
export const scriptInput = (step: StepInfo): Record<string, unknown> => {
  const request = step.request
  const rawQuery = rawQueryOf(request.query)
  return {
    payload: step.payload,
    data: step.data,
    outputs: step.outputs,
    flowName: step.flowName,
    box: step.box,
    prev: step.prev,
    wid: step.executionId,
    uuid: step.executionId,
    endpoint: request.path,
    uri: rawQuery === "" ? request.path : `${request.path}?${rawQuery}`,
    method: request.method,
    rawQuery,
    vars: request.params,
    postData:
      typeof request.body === "object" && request.body !== null && !Array.isArray(request.body) ? request.body : {},
    header: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [canonicalHeader(k), [v]])),
    form: formOf(request),
    query: valuesOf(request.query)
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Reads what the wrapper returned, defensively (it crossed a sandbox boundary). */
export const readResult = (value: unknown): ScriptResult => {
  if (!isObject(value)) throw new TypeError("the nFlow script wrapper returned no result")
  const replies = Array.isArray(value.replies)
    ? value.replies.flatMap((r: unknown): ReadonlyArray<Node.Reply> => {
        if (!isObject(r) || typeof r.status !== "number") return []
        const headers = isObject(r.headers)
          ? Object.fromEntries(Object.entries(r.headers).filter((e): e is [string, string] => typeof e[1] === "string"))
          : {}
        return [{ status: r.status, headers, body: r.body }]
      })
    : []
  const headers = isObject(value.headers)
    ? Object.fromEntries(Object.entries(value.headers).filter((e): e is [string, string] => typeof e[1] === "string"))
    : {}
  return { payload: value.payload, next: typeof value.next === "string" ? value.next : "", replies, headers }
}
