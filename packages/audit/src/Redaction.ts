/**
 * Redaction and encryption of audit entries, applied before an entry leaves the process (sinks, the spill
 * journal, the Redis stream). Three kinds of rules, all configurable:
 *
 * - **keys**: object keys whose values are hidden wherever they appear (`password`, `token`, `apiKey`,
 *   `authorization`, `cookie`, ...); matched case-insensitively, ignoring `-` and `_`, as substrings. The
 *   credential headers of a recorded request ({@link CREDENTIAL_HEADERS}) are hidden whatever the keys.
 * - **paths**: dot paths from the event root (`input.customer.ssn`, `output.*.iban`, `**.headers.x-tenant`);
 *   an `input.` path covers the recorded request's body, query and path parameters as well.
 * - **patterns**: searched inside every string, error messages included (card numbers with a Luhn check,
 *   emails, bearer and basic credentials, JWTs, cloud and SaaS API keys, passwords in URLs, `key=value`
 *   secrets, private key blocks), plus exact secret values you supply (resolved connector credentials).
 *
 * A hidden value is either masked (`[REDACTED]`, `[REDACTED:email]`) or encrypted with AES-256-GCM under a
 * key id ({@link Keyring}), so a replay can recover it with the key and rotation keeps old records readable.
 * Entries are copied where they change, never mutated: with `full` snapshots they hold the flow's own data.
 *
 * @module Redaction
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import type { Entry } from "./Record.ts"

/** AES-256 keys by id; `current` encrypts, every key decrypts (rotation). */
export interface Keyring {
  readonly current: string
  readonly keys: ReadonlyMap<string, Uint8Array>
}

/** A pattern searched inside strings. `validate` can reject a match (the Luhn check of card numbers). */
export interface Pattern {
  readonly name: string
  readonly regex: RegExp
  /** Which capture group holds the secret (default: the whole match). */
  readonly group?: number
  readonly validate?: (match: string) => boolean
}

/** Built-in pattern names. */
export type PatternName =
  | "card"
  | "email"
  | "bearer"
  | "jwt"
  | "awsKey"
  | "apiKey"
  | "urlPassword"
  | "keyValue"
  | "privateKey"

export interface RedactionOptions {
  /** Key stems hidden wherever they appear. Default {@link DEFAULT_KEYS}; pass `[...DEFAULT_KEYS, "ssn"]` to extend. */
  readonly keys?: ReadonlyArray<string>
  /** Dot paths from the event root; `*` is one segment, `**` any number. */
  readonly paths?: ReadonlyArray<string>
  /** Patterns searched in strings. Default: every built-in. */
  readonly patterns?: ReadonlyArray<PatternName | Pattern>
  /** Exact values that must never appear (connector credentials); read at each batch. */
  readonly secrets?: () => Iterable<string>
  /** `mask` (default) or `encrypt` (needs `keyring`). */
  readonly mode?: "mask" | "encrypt"
  readonly keyring?: Keyring
  /** `false` turns redaction off entirely (tests of the pipeline itself). */
  readonly enabled?: boolean
}

/** Key stems hidden by default. */
export const DEFAULT_KEYS: ReadonlyArray<string> = [
  "password",
  "passwd",
  "pwd",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "authorization",
  "cookie",
  "credential",
  "sessionid",
  "signature",
  "cardnumber",
  "cvv",
  "cvc",
  "iban"
]

const luhn = (text: string): boolean => {
  const digits = text.replace(/\D/g, "")
  if (digits.length < 13 || digits.length > 19) return false
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

/** The built-in patterns. */
export const PATTERNS: Readonly<Record<PatternName, Pattern>> = {
  privateKey: {
    name: "privateKey",
    regex: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g
  },
  jwt: { name: "jwt", regex: /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g },
  bearer: { name: "bearer", regex: /\b(?:Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=-]{8,})/gi, group: 1 },
  awsKey: { name: "awsKey", regex: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g },
  apiKey: {
    name: "apiKey",
    regex:
      /\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,})\b/g
  },
  urlPassword: { name: "urlPassword", regex: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:([^\s@/]+)@/gi, group: 1 },
  keyValue: {
    name: "keyValue",
    regex:
      /\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret|auth)\b["']?\s*[=:]\s*["']?([^\s"'&,;}]{3,})/gi,
    group: 1
  },
  email: { name: "email", regex: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  card: { name: "card", regex: /\b\d(?:[ -]?\d){12,18}\b/g, validate: luhn }
}

const ENVELOPE = "$encrypted"
const TOKEN = /\[\[enc:v1:([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)\]\]/g

/** A value encrypted as a whole: its JSON, under AES-256-GCM. */
export interface Envelope {
  readonly $encrypted: "aes-256-gcm"
  readonly kid: string
  /** base64url of iv (12 bytes) + tag (16 bytes) + ciphertext. */
  readonly data: string
}

const seal = (keyring: Keyring, plaintext: string): { readonly kid: string; readonly data: string } => {
  const key = keyring.keys.get(keyring.current)
  if (key === undefined) throw new Error(`audit keyring: no key "${keyring.current}"`)
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", key, iv)
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return { kid: keyring.current, data: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url") }
}

const open = (keyring: Keyring, kid: string, data: string): string => {
  const key = keyring.keys.get(kid)
  if (key === undefined) throw new Error(`audit keyring: no key "${kid}" (rotated out?)`)
  const raw = Buffer.from(data, "base64url")
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12))
  decipher.setAuthTag(raw.subarray(12, 28))
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")
}

/**
 * Builds a keyring from `kid:base64key` pairs separated by commas; the first is current.
 *
 * @example
 * ```ts
 * import { Redaction } from "@jsonflow/audit"
 * const keyring = Redaction.keyringFrom(process.env.JSONFLOW_AUDIT_KEYS ?? `k1:${Redaction.generateKey()}`)
 * ```
 */
export const keyringFrom = (spec: string): Keyring => {
  const keys = new Map<string, Uint8Array>()
  let current: string | undefined
  for (const part of spec.split(",").map((p) => p.trim())) {
    if (part === "") continue
    const at = part.indexOf(":")
    const kid = part.slice(0, at)
    const key = Buffer.from(part.slice(at + 1), "base64")
    if (at <= 0 || !/^[A-Za-z0-9_-]+$/.test(kid) || key.length !== 32) {
      throw new Error(`audit keyring: expected "kid:<base64 of 32 bytes>", got "${part.slice(0, Math.max(at, 0))}:..."`)
    }
    keys.set(kid, key)
    current ??= kid
  }
  if (current === undefined) throw new Error("audit keyring: no key given")
  return { current, keys }
}

/** A fresh random AES-256 key, base64. */
export const generateKey = (): string => randomBytes(32).toString("base64")

const normalizeKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, "")

type PathPattern = ReadonlyArray<string>

const compilePath = (path: string): PathPattern => path.split(".").map((segment) => segment.toLowerCase())

// Glob match of dot-path segments: `*` is one segment, `**` any number (also none).
const matchPath = (pattern: PathPattern, pi: number, path: ReadonlyArray<string>, si: number): boolean => {
  if (pi === pattern.length) return si === path.length
  const segment = pattern[pi]!
  if (segment === "**") {
    return matchPath(pattern, pi + 1, path, si) || (si < path.length && matchPath(pattern, pi, path, si + 1))
  }
  if (si === path.length) return false
  return (segment === "*" || segment === path[si]!.toLowerCase()) && matchPath(pattern, pi + 1, path, si + 1)
}

/** Request headers hidden in recorded trigger data whatever the key rules (they carry credentials). */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key"
])

// The fields of an entry that can hold user data: snapshots, the trigger's data (the HTTP request, whose
// credential headers the key rules hide) and the execution variables.
const PAYLOAD_FIELDS = ["input", "output", "error", "triggerData", "variables"] as const

/** Redacts entries; build one with {@link make}. */
export interface Redactor {
  /** The entry with every secret hidden (a copy where something changed). */
  readonly entry: (entry: Entry) => Entry
  /** Any value, with paths relative to `root`. */
  readonly value: (value: unknown, root?: string) => unknown
}

/**
 * Builds a redactor.
 *
 * @example
 * ```ts
 * import { Redaction } from "@jsonflow/audit"
 * const redactor = Redaction.make({ paths: ["input.customer.ssn"], mode: "mask" })
 * redactor.value({ password: "hunter2", note: "mail me at ann@example.com" })
 * // { password: "[REDACTED]", note: "mail me at [REDACTED:email]" }
 * ```
 */
export const make = (options: RedactionOptions = {}): Redactor => {
  if (options.enabled === false) return { entry: (e) => e, value: (v) => v }
  const keyring = options.keyring
  const encrypt = options.mode === "encrypt"
  if (encrypt && keyring === undefined) throw new Error("audit redaction: mode encrypt needs a keyring")
  const stems = (options.keys ?? DEFAULT_KEYS).map(normalizeKey).filter((k) => k.length > 0)
  // A path into the input also covers where the input came from in the recorded request (the HTTP body,
  // or its query and path parameters): `input.customer.ssn` hides `triggerData.body.customer.ssn` too.
  const paths = (options.paths ?? [])
    .flatMap((path) =>
      /^input\./i.test(path)
        ? [path, ...["body", "query", "params"].map((part) => `triggerData.${part}.${path.slice("input.".length)}`)]
        : [path]
    )
    .map(compilePath)
  const patterns = (options.patterns ?? (Object.keys(PATTERNS) as Array<PatternName>)).map((p) =>
    typeof p === "string" ? PATTERNS[p] : p
  )
  const keyCache = new Map<string, boolean>()
  const sensitiveKey = (key: string): boolean => {
    let hit = keyCache.get(key)
    if (hit === undefined) {
      const normalized = normalizeKey(key)
      hit = stems.some((stem) => normalized.includes(stem))
      if (keyCache.size < 10_000) keyCache.set(key, hit)
    }
    return hit
  }
  const hideValue = (value: unknown): unknown => {
    if (!encrypt) return "[REDACTED]"
    const sealed = seal(keyring!, JSON.stringify(value) ?? "null")
    return { [ENVELOPE]: "aes-256-gcm", kid: sealed.kid, data: sealed.data } satisfies Envelope
  }
  const hideText = (text: string, name: string): string => {
    if (!encrypt) return `[REDACTED:${name}]`
    const sealed = seal(keyring!, text)
    return `[[enc:v1:${sealed.kid}:${sealed.data}]]`
  }

  let secretValues: ReadonlyArray<string> = []
  // Payload strings repeat a lot (codes, statuses, SKUs): short ones are scanned once. Cleared when full,
  // and whenever the exact secrets change.
  const scanned = new Map<string, string>()
  let secretsKey = ""
  const scanString = (text: string): string => {
    // The shortest pattern match is 6 characters (a@b.cd); a secret value shorter than 4 is not looked for.
    if (text.length < 4 || (text.length < 6 && secretValues.length === 0)) return text
    if (text.length > 64) return scanUncached(text)
    let out = scanned.get(text)
    if (out === undefined) {
      out = scanUncached(text)
      if (scanned.size >= 20_000) scanned.clear()
      scanned.set(text, out)
    }
    return out
  }
  const scanUncached = (text: string): string => {
    let out = text
    for (const secret of secretValues) {
      if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(hideText(secret, "secret"))
    }
    for (const pattern of patterns) {
      pattern.regex.lastIndex = 0
      if (!pattern.regex.test(out)) continue
      pattern.regex.lastIndex = 0
      out = out.replace(pattern.regex, (match: string, ...groups: Array<unknown>) => {
        if (match.startsWith("[REDACTED") || match.startsWith("[[enc:")) return match
        if (pattern.validate !== undefined && !pattern.validate(match)) return match
        const group = pattern.group === undefined ? undefined : groups[pattern.group - 1]
        if (typeof group !== "string" || group === "") return hideText(match, pattern.name)
        if (group.startsWith("[REDACTED") || group.startsWith("[[enc:")) return match
        const at = match.lastIndexOf(group)
        return `${match.slice(0, at)}${hideText(group, pattern.name)}${match.slice(at + group.length)}`
      })
    }
    return out
  }

  const walk = (value: unknown, path: ReadonlyArray<string> | undefined, depth: number): unknown => {
    if (typeof value === "string") return scanString(value)
    if (typeof value !== "object" || value === null || depth > 64) return value
    if (Array.isArray(value)) {
      let copy: Array<unknown> | undefined
      for (let i = 0; i < value.length; i++) {
        const before = value[i]
        const after = walk(before, path === undefined ? undefined : [...path, String(i)], depth + 1)
        if (after !== before) {
          copy ??= value.slice()
          copy[i] = after
        }
      }
      return copy ?? value
    }
    if ((value as { [ENVELOPE]?: unknown })[ENVELOPE] !== undefined) return value
    let copy: Record<string, unknown> | undefined
    for (const key of Object.keys(value)) {
      const before = (value as Record<string, unknown>)[key]
      const childPath = path === undefined ? undefined : [...path, key]
      let after: unknown
      if (
        (sensitiveKey(key) && before !== null && before !== undefined && before !== "") ||
        (childPath !== undefined && paths.some((p) => matchPath(p, 0, childPath, 0)))
      ) {
        after = hideValue(before)
      } else {
        after = walk(before, childPath, depth + 1)
      }
      if (after !== before) {
        copy ??= { ...(value as Record<string, unknown>) }
        copy[key] = after
      }
    }
    return copy ?? value
  }

  const loadSecrets = () => {
    if (options.secrets === undefined) return
    secretValues = [...options.secrets()]
    const key = secretValues.join("\u0000")
    if (key !== secretsKey) {
      secretsKey = key
      scanned.clear()
      done = new WeakMap()
    }
  }
  // Snapshots share objects (a node's output is the next node's input) and must not be mutated: an object
  // redacted once is redacted the same way again.
  let done = new WeakMap<object, unknown>()
  const walkTop = (value: unknown, path: ReadonlyArray<string> | undefined): unknown => {
    if (typeof value !== "object" || value === null || path !== undefined) return walk(value, path, 0)
    const cached = done.get(value)
    if (cached !== undefined) return cached
    const out = walk(value, path, 0)
    done.set(value, out)
    return out
  }

  // The request's credential headers are hidden whatever the key rules say (a `keys` list replacing the
  // defaults must not let an Authorization header through).
  const hideCredentialHeaders = (trigger: unknown): unknown => {
    const headers = (trigger as { readonly headers?: unknown } | null)?.headers
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) return trigger
    let copy: Record<string, unknown> | undefined
    for (const [name, header] of Object.entries(headers)) {
      if (header === undefined || header === "" || !CREDENTIAL_HEADERS.has(name.toLowerCase())) continue
      copy ??= { ...(headers as Record<string, unknown>) }
      copy[name] = hideValue(header)
    }
    return copy === undefined ? trigger : { ...(trigger as Record<string, unknown>), headers: copy }
  }

  const value = (input: unknown, root?: string): unknown => {
    loadSecrets()
    return walk(input, paths.length === 0 ? undefined : root === undefined ? [] : root.split("."), 0)
  }

  return {
    value,
    entry: (entry) => {
      if (entry._tag === "FlowRecorded") return entry
      loadSecrets()
      // Only the payload fields can hold user data; ids, timestamps and node types come from the engine.
      let copy: Record<string, unknown> | undefined
      for (const key of PAYLOAD_FIELDS) {
        const before = (entry as Record<string, unknown>)[key]
        if (before === undefined) continue
        const payload = key === "triggerData" ? hideCredentialHeaders(before) : before
        const after = walkTop(payload, paths.length === 0 ? undefined : [key])
        if (after !== before) {
          copy ??= { ...entry }
          copy[key] = after
        }
      }
      return (copy as Entry | undefined) ?? entry
    }
  }
}

/**
 * Decrypts what {@link make} encrypted (envelopes and in-string tokens) with a keyring; masked values stay
 * masked. Used by replay to recover recorded inputs.
 *
 * @example
 * ```ts
 * import { Redaction } from "@jsonflow/audit"
 * declare const keyring: Redaction.Keyring
 * const redactor = Redaction.make({ mode: "encrypt", keyring })
 * Redaction.reveal(redactor.value({ token: "t0ps3cret" }), keyring) // { token: "t0ps3cret" }
 * ```
 */
export const reveal = (value: unknown, keyring: Keyring): unknown => {
  if (typeof value === "string") {
    return value.includes("[[enc:v1:")
      ? value.replace(TOKEN, (_, kid: string, data: string) => open(keyring, kid, data))
      : value
  }
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return value.map((v) => reveal(v, keyring))
  const record = value as Record<string, unknown>
  if (record[ENVELOPE] === "aes-256-gcm" && typeof record.kid === "string" && typeof record.data === "string") {
    return JSON.parse(open(keyring, record.kid, record.data))
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, reveal(v, keyring)]))
}

/**
 * Whether a value still holds masked parts (`[REDACTED...]`): such a value cannot be replayed faithfully.
 *
 * @example
 * ```ts
 * import { Redaction } from "@jsonflow/audit"
 * Redaction.hasMasked({ password: "[REDACTED]" }) // true
 * ```
 */
export const hasMasked = (value: unknown): boolean => {
  if (typeof value === "string") return value.includes("[REDACTED")
  if (typeof value !== "object" || value === null) return false
  return Object.values(value).some(hasMasked)
}

/**
 * Whether a value still holds encrypted parts (envelopes or in-string tokens): it needs the keyring.
 *
 * @example
 * ```ts
 * import { Redaction } from "@jsonflow/audit"
 * Redaction.hasEncrypted({ token: { $encrypted: "aes-256-gcm", kid: "k1", data: "..." } }) // true
 * ```
 */
export const hasEncrypted = (value: unknown): boolean => {
  if (typeof value === "string") return value.includes("[[enc:v1:")
  if (typeof value !== "object" || value === null) return false
  if ((value as { [ENVELOPE]?: unknown })[ENVELOPE] !== undefined) return true
  return Object.values(value).some(hasEncrypted)
}
