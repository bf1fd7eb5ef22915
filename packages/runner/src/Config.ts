/**
 * The runner's configuration: an Effect Schema (so it validates, documents itself and publishes a JSON
 * Schema), the defaults, and {@link load}, which reads an optional JSON file, applies `JSONFLOW_*`
 * environment overrides and validates the result, reporting **every** problem with where it came from
 * (`/server/port (from JSONFLOW_SERVER_PORT): ...`).
 *
 * Env names are derived from the schema: the path in SCREAMING_SNAKE case after `JSONFLOW_`, e.g.
 * `server.bodyLimitBytes` is `JSONFLOW_SERVER_BODY_LIMIT_BYTES`. Arrays take JSON or a comma list. Two
 * conventional shortcuts: `PORT` (platforms set it) and `FLOW_ID` (single-flow mode).
 *
 * @module Config
 */
import { readFileSync } from "node:fs"
import { Validation } from "@jsonflow/core"
import { JsonSchema, Schema } from "effect"
import { ConfigError } from "./RunnerError.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** A token bucket: `perSecond` tokens refill each second, up to `burst`. */
export const RateLimit = Schema.Struct({
  perSecond: Schema.Finite.check(Schema.isGreaterThan(0)).annotate({ description: "Refill rate (requests/second)." }),
  burst: PositiveInt.annotate({ description: "Bucket size: requests allowed at once." })
})
export type RateLimit = typeof RateLimit.Type

/** Limits of one flow; each overrides `limits` for that flow. */
export const FlowLimits = Schema.Struct({
  maxConcurrent: Schema.optionalKey(PositiveInt).annotate({
    description: "Executions of the flow running at once on this replica."
  }),
  maxQueued: Schema.optionalKey(NonNegativeInt).annotate({
    description: "Executions waiting for a slot; beyond it requests are shed with 429."
  }),
  rate: Schema.optionalKey(RateLimit).annotate({ description: "Token bucket for the whole flow (all clients)." }),
  timeoutMs: Schema.optionalKey(PositiveInt).annotate({
    description: "Time limit of an HTTP-triggered execution (504 after it)."
  }),
  enqueue: Schema.optionalKey(Schema.Boolean).annotate({
    description: "HTTP requests enqueue the execution on Redis (202 with the execution id) instead of running inline."
  }),
  skipOverlap: Schema.optionalKey(Schema.Boolean).annotate({
    description: "Cron: skip a tick while the previous run of the flow is still going (default true)."
  })
})
export type FlowLimits = typeof FlowLimits.Type

const Retention = Schema.Struct({
  ageSeconds: Schema.optionalKey(PositiveInt),
  count: Schema.optionalKey(NonNegativeInt)
})

/** Resource limits of one sandboxed call (`js`/`ts` nodes, nFlow code boxes); unset keys keep the sandbox's. */
export const SandboxLimits = Schema.Struct({
  timeoutMs: Schema.optionalKey(PositiveInt).annotate({
    description:
      "CPU and wall-clock time of one call, promises and copying the result out included (sandbox default 1000; ceiling 60000)."
  }),
  memoryMb: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(8))).annotate({
    description: "Heap of the isolate running a call, in MB, at least 8 (sandbox default 64; ceiling 512)."
  }),
  maxInputBytes: Schema.optionalKey(NonNegativeInt).annotate({
    description: "UTF-8 bytes of a call's input and variables as JSON (sandbox default 8 MiB; ceiling 64 MiB)."
  }),
  maxOutputBytes: Schema.optionalKey(NonNegativeInt).annotate({
    description: "UTF-8 bytes of a call's result as JSON (sandbox default 8 MiB; ceiling 64 MiB)."
  }),
  maxLogBytes: Schema.optionalKey(NonNegativeInt).annotate({
    description: "Bytes of captured console output per call (sandbox default 64 KiB; ceiling 1 MiB)."
  })
}).annotate({ identifier: "SandboxLimits" })
export type SandboxLimits = typeof SandboxLimits.Type

/** Built-in redaction pattern names of `@jsonflow/audit`. */
const PATTERN_NAMES = [
  "card",
  "email",
  "bearer",
  "jwt",
  "awsKey",
  "apiKey",
  "urlPassword",
  "keyValue",
  "privateKey"
] as const

/**
 * One field of a credential in the config file: a value (local development), or where to read it, an
 * environment variable or a file (a mounted Kubernetes or Docker secret, trailing newline dropped).
 */
export const CredentialField = Schema.Union([
  Schema.String,
  Schema.Struct({ env: Schema.String.check(Schema.isMinLength(1)) }),
  Schema.Struct({ file: Schema.String.check(Schema.isMinLength(1)) })
]).annotate({ identifier: "CredentialField" })
export type CredentialField = typeof CredentialField.Type

/** The configuration document (file or env), every key optional. */
export const RunnerConfig = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String).annotate({
    description:
      "The JSON Schema of this file, for editors (e.g. node_modules/@jsonflow/runner/schema/config.schema.json); ignored."
  }),
  server: Schema.optionalKey(
    Schema.Struct({
      host: Schema.optionalKey(Schema.String).annotate({ description: "Interface to bind (default 0.0.0.0)." }),
      port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))).annotate({
        description: "Port (default 8080; 0 picks a free one)."
      }),
      prefix: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^(\/[A-Za-z0-9._~-]+)*$/))).annotate({
        description: "Path prefix of every flow route (e.g. /flows); operations routes stay at the root."
      }),
      bodyLimitBytes: Schema.optionalKey(PositiveInt).annotate({ description: "Largest request body (413 above)." }),
      bodyTimeoutMs: Schema.optionalKey(PositiveInt).annotate({
        description: "Time to receive a request body (408 after it)."
      }),
      shutdownTimeoutMs: Schema.optionalKey(NonNegativeInt).annotate({
        description: "How long a graceful shutdown waits for in-flight executions."
      }),
      trustedProxies: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
        description:
          "Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed. Empty: the socket address is the client."
      })
    })
  ),
  flows: Schema.optionalKey(
    Schema.Struct({
      paths: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
        description: "Files and directories of flows (canonical JSON, nFlow exports, TypeScript modules)."
      }),
      watch: Schema.optionalKey(Schema.Boolean).annotate({ description: "Reload when a file changes (default true)." }),
      only: Schema.optionalKey(Schema.String).annotate({
        description: "Single-flow mode: serve only this flow id (env FLOW_ID)."
      })
    })
  ),
  configDb: Schema.optionalKey(
    Schema.Struct({
      url: Schema.String.annotate({ description: "PostgreSQL URL of the flow config DB." }),
      schema: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[a-z_][a-z0-9_]{0,62}$/))).annotate({
        description: "Database schema of the tables (default jsonflow)."
      })
    })
  ),
  redis: Schema.optionalKey(
    Schema.Struct({
      url: Schema.String.annotate({
        description: "Redis URL for queues, cron locks and idempotency keys, e.g. redis://127.0.0.1:6379."
      }),
      prefix: Schema.optionalKey(Schema.String).annotate({ description: "Key prefix (default jsonflow)." })
    })
  ),
  queue: Schema.optionalKey(
    Schema.Struct({
      attempts: Schema.optionalKey(PositiveInt).annotate({ description: "Attempts per job (default 3)." }),
      backoffMs: Schema.optionalKey(NonNegativeInt).annotate({
        description: "Base delay of the exponential backoff (default 2000)."
      }),
      concurrency: Schema.optionalKey(PositiveInt).annotate({ description: "Jobs per queue run at once (default 8)." }),
      lockDurationMs: Schema.optionalKey(PositiveInt).annotate({
        description: "How long a job stays locked without a heartbeat before another replica takes it (default 30000)."
      }),
      keepCompleted: Schema.optionalKey(Retention),
      keepFailed: Schema.optionalKey(Retention)
    })
  ),
  idempotency: Schema.optionalKey(
    Schema.Struct({
      store: Schema.optionalKey(Schema.Literals(["memory", "redis"])).annotate({
        description:
          "Where idempotency keys live: redis (default when redis.url is set; shared by replicas) or memory (this process only, lost at restart)."
      }),
      windowMs: Schema.optionalKey(PositiveInt).annotate({
        description:
          "How long a finished reply is replayed for a repeated key, and a queue dedupe key keeps duplicates out (default 86400000, 24 h); a trigger's windowMs wins."
      }),
      header: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/))).annotate({
        description: "Header carrying the key when a flow's idempotency names none (default Idempotency-Key)."
      }),
      inFlight: Schema.optionalKey(Schema.Literals(["wait", "reject"])).annotate({
        description:
          "A repeat arriving while the first is running: wait for its reply, up to the flow's time limit (default), or reject with 409."
      }),
      maxReplyBytes: Schema.optionalKey(PositiveInt).annotate({
        description:
          "Largest reply body kept for replay (default 1048576); a larger one is sent once, repeats get 409 with the execution id."
      })
    })
  ).annotate({
    description:
      "Idempotent triggers: defaults for HTTP triggers with `idempotency` and queue triggers with `dedupe` (set per flow in the trigger)."
  }),
  limits: Schema.optionalKey(
    Schema.Struct({
      ...FlowLimits.fields,
      perClient: Schema.optionalKey(RateLimit).annotate({ description: "Token bucket per client address." }),
      flows: Schema.optionalKey(Schema.Record(Schema.String, FlowLimits)).annotate({ description: "Per flow id." })
    })
  ),
  admin: Schema.optionalKey(
    Schema.Struct({
      token: Schema.optionalKey(Schema.String.check(Schema.isMinLength(16))).annotate({
        description: "Bearer token of the admin API (at least 16 characters); without it the admin API is off."
      })
    })
  ),
  logs: Schema.optionalKey(
    Schema.Struct({
      level: Schema.optionalKey(Schema.Literals(["debug", "info", "warn", "error", "none"])),
      format: Schema.optionalKey(Schema.Literals(["json", "pretty"]))
    })
  ),
  tracing: Schema.optionalKey(
    Schema.Struct({
      otlpUrl: Schema.String.annotate({
        description: "OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces."
      }),
      serviceName: Schema.optionalKey(Schema.String)
    })
  ),
  audit: Schema.optionalKey(
    Schema.Struct({
      sink: Schema.optionalKey(Schema.Literals(["embedded", "postgres", "redis", "jsonl", "console", "none"])).annotate(
        {
          description:
            "Where execution traces go (default embedded). redis: a Redis stream that `jsonflow audit-worker` moves into PostgreSQL (audit.url)."
        }
      ),
      path: Schema.optionalKey(Schema.String).annotate({
        description: "Directory (embedded) or file (jsonl) of the audit store."
      }),
      url: Schema.optionalKey(Schema.String).annotate({
        description:
          "PostgreSQL URL of the store: the postgres sink writes there; with the redis sink, where the worker writes and the CLI reads (?schema=<name> picks a schema)."
      }),
      redis: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^rediss?:\/\//))).annotate({
        description: "Redis URL of the audit stream (redis sink; default redis.url)."
      }),
      stream: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))).annotate({
        description: "Stream key of the redis sink (default jsonflow:audit; the worker's --stream)."
      }),
      snapshots: Schema.optionalKey(Schema.Literals(["none", "metadata", "full"])),
      retentionDays: Schema.optionalKey(PositiveInt).annotate({
        description: "PostgreSQL store: delete executions older than this many days (default: keep everything)."
      }),
      redaction: Schema.optionalKey(
        Schema.Struct({
          keys: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
            description:
              "Key stems hidden wherever they appear, added to the defaults (password, token, apiKey, authorization, ...)."
          }),
          paths: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
            description:
              "Dot paths from the event root hidden as well, e.g. input.customer.ssn (* one segment, ** any)."
          }),
          patterns: Schema.optionalKey(Schema.Array(Schema.Literals(PATTERN_NAMES))).annotate({
            description: `Patterns searched inside strings (default all: ${PATTERN_NAMES.join(", ")}).`
          }),
          mode: Schema.optionalKey(Schema.Literals(["mask", "encrypt"])).annotate({
            description:
              "mask (default) or encrypt: AES-256-GCM under keyId, keys from env JSONFLOW_AUDIT_KEYS (kid:base64,...), never in this file."
          }),
          keyId: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._-]+$/))).annotate({
            description:
              "Id of the key that encrypts (default: the first of JSONFLOW_AUDIT_KEYS); the others still decrypt."
          })
        })
      ),
      buffer: Schema.optionalKey(
        Schema.Struct({
          capacity: Schema.optionalKey(PositiveInt).annotate({
            description: "Events held in memory per sink (default 20000)."
          }),
          onFull: Schema.optionalKey(Schema.Literals(["spill", "block"])).annotate({
            description:
              "Full buffer: spill to the local journal and replay it later (default), or block (new executions wait for room)."
          }),
          journalDir: Schema.optionalKey(Schema.String).annotate({
            description: "Directory of the spill journals (default .jsonflow/audit-journal)."
          }),
          flushTimeoutMs: Schema.optionalKey(NonNegativeInt).annotate({
            description:
              "At shutdown, how long to keep writing to a sink that is down before spilling the rest to the journal (default 10000)."
          })
        })
      )
    })
  ),
  sandbox: Schema.optionalKey(
    Schema.Struct({
      limits: Schema.optionalKey(SandboxLimits).annotate({
        description: "What a call gets when its node asks for nothing."
      }),
      maxLimits: Schema.optionalKey(SandboxLimits).annotate({
        description: "Ceilings: the most a node may ask for (its requests are capped to these)."
      }),
      processes: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 }))).annotate({
        description: "Sandbox processes (default 1); each runs its calls one at a time."
      }),
      staticChecks: Schema.optionalKey(Schema.Literals(["block", "report", "off"])).annotate({
        description: "What high-severity static-check findings do: block the script (default), report, or off."
      }),
      maxRssMb: Schema.optionalKey(PositiveInt).annotate({
        description: "Memory cap: a sandbox process whose resident memory passes this is replaced (default 1024)."
      })
    })
  ),
  ssrf: Schema.optionalKey(
    Schema.Struct({
      allow: Schema.optionalKey(Schema.Array(Schema.String)).annotate({
        description: "Host names or CIDR ranges JSON flows may call although internal."
      })
    })
  ),
  connectors: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)).annotate({
    description:
      "Connectors JSON flows may use: the ConnectorsConfig of @jsonflow/connectors (http, sql, soap, grpc, redis, mail), checked at start. Settings name credentials, never hold them."
  }),
  credentials: Schema.optionalKey(Schema.Record(Schema.String, Schema.Record(Schema.String, CredentialField))).annotate(
    {
      description:
        "Credentials by name: field -> value, { env } or { file }. JSONFLOW_CREDENTIAL_<NAME>_<FIELD> wins over these."
    }
  )
}).annotate({ identifier: "RunnerConfig", title: "JSON-Flow runner configuration" })
export type RunnerConfig = typeof RunnerConfig.Type

type Retention = typeof Retention.Type

/** The configuration with every default applied. */
export interface Resolved {
  readonly server: {
    readonly host: string
    readonly port: number
    readonly prefix: string
    readonly bodyLimitBytes: number
    readonly bodyTimeoutMs: number
    readonly shutdownTimeoutMs: number
    readonly trustedProxies: ReadonlyArray<string>
  }
  readonly flows: { readonly paths: ReadonlyArray<string>; readonly watch: boolean; readonly only: string | undefined }
  readonly configDb: { readonly url: string; readonly schema: string } | undefined
  readonly redis: { readonly url: string; readonly prefix: string } | undefined
  readonly queue: {
    readonly attempts: number
    readonly backoffMs: number
    readonly concurrency: number
    readonly lockDurationMs: number
    readonly keepCompleted: Retention
    readonly keepFailed: Retention
  }
  readonly idempotency: {
    readonly store: "memory" | "redis"
    readonly windowMs: number
    readonly header: string
    readonly inFlight: "wait" | "reject"
    readonly maxReplyBytes: number
  }
  readonly limits: {
    readonly maxConcurrent: number
    readonly maxQueued: number
    readonly timeoutMs: number
    readonly rate: RateLimit | undefined
    readonly perClient: RateLimit | undefined
    readonly skipOverlap: boolean
    readonly enqueue: boolean
    readonly flows: Readonly<Record<string, FlowLimits>>
  }
  readonly admin: { readonly token: string | undefined }
  readonly logs: { readonly level: "debug" | "info" | "warn" | "error" | "none"; readonly format: "json" | "pretty" }
  readonly tracing: { readonly otlpUrl: string; readonly serviceName: string } | undefined
  readonly audit: {
    readonly sink: "embedded" | "postgres" | "redis" | "jsonl" | "console" | "none"
    readonly path: string | undefined
    readonly url: string | undefined
    /** The Redis URL of the redis sink: `audit.redis`, else `redis.url`. */
    readonly redis: string | undefined
    readonly stream: string
    readonly snapshots: "none" | "metadata" | "full"
    readonly retentionDays: number | undefined
    readonly redaction: {
      readonly keys: ReadonlyArray<string>
      readonly paths: ReadonlyArray<string>
      readonly patterns: ReadonlyArray<(typeof PATTERN_NAMES)[number]> | undefined
      readonly mode: "mask" | "encrypt"
      readonly keyId: string | undefined
    }
    readonly buffer: {
      readonly capacity: number
      readonly onFull: "spill" | "block"
      readonly journalDir: string | undefined
      readonly flushTimeoutMs: number
    }
  }
  readonly sandbox: {
    /** Only what the configuration sets; the sandbox applies its own defaults and ceilings to the rest. */
    readonly limits: SandboxLimits
    readonly maxLimits: SandboxLimits
    readonly processes: number
    readonly staticChecks: "block" | "report" | "off"
    readonly maxRssMb: number
  }
  readonly ssrf: { readonly allow: ReadonlyArray<string> }
  /** The `connectors` section as written (checked by `@jsonflow/connectors` when the runner starts). */
  readonly connectors: Readonly<Record<string, unknown>> | undefined
  readonly credentials: Readonly<Record<string, Readonly<Record<string, CredentialField>>>>
}

/** Applies the defaults. */
export const resolve = (config: RunnerConfig): Resolved => ({
  server: {
    host: config.server?.host ?? "0.0.0.0",
    port: config.server?.port ?? 8080,
    prefix: config.server?.prefix ?? "",
    bodyLimitBytes: config.server?.bodyLimitBytes ?? 1024 * 1024,
    bodyTimeoutMs: config.server?.bodyTimeoutMs ?? 10_000,
    shutdownTimeoutMs: config.server?.shutdownTimeoutMs ?? 10_000,
    trustedProxies: config.server?.trustedProxies ?? []
  },
  flows: { paths: config.flows?.paths ?? [], watch: config.flows?.watch ?? true, only: config.flows?.only },
  configDb: config.configDb ? { url: config.configDb.url, schema: config.configDb.schema ?? "jsonflow" } : undefined,
  redis: config.redis ? { url: config.redis.url, prefix: config.redis.prefix ?? "jsonflow" } : undefined,
  queue: {
    attempts: config.queue?.attempts ?? 3,
    backoffMs: config.queue?.backoffMs ?? 2_000,
    concurrency: config.queue?.concurrency ?? 8,
    lockDurationMs: config.queue?.lockDurationMs ?? 30_000,
    keepCompleted: config.queue?.keepCompleted ?? { ageSeconds: 24 * 3600, count: 1000 },
    keepFailed: config.queue?.keepFailed ?? { ageSeconds: 7 * 24 * 3600, count: 10_000 }
  },
  idempotency: {
    store: config.idempotency?.store ?? (config.redis ? "redis" : "memory"),
    windowMs: config.idempotency?.windowMs ?? 24 * 3600 * 1000,
    header: config.idempotency?.header ?? "Idempotency-Key",
    inFlight: config.idempotency?.inFlight ?? "wait",
    maxReplyBytes: config.idempotency?.maxReplyBytes ?? 1024 * 1024
  },
  limits: {
    maxConcurrent: config.limits?.maxConcurrent ?? 100,
    maxQueued: config.limits?.maxQueued ?? 100,
    timeoutMs: config.limits?.timeoutMs ?? 30_000,
    rate: config.limits?.rate,
    perClient: config.limits?.perClient,
    skipOverlap: config.limits?.skipOverlap ?? true,
    enqueue: config.limits?.enqueue ?? false,
    flows: config.limits?.flows ?? {}
  },
  admin: { token: config.admin?.token },
  logs: { level: config.logs?.level ?? "info", format: config.logs?.format ?? "json" },
  tracing: config.tracing
    ? { otlpUrl: config.tracing.otlpUrl, serviceName: config.tracing.serviceName ?? "jsonflow-runner" }
    : undefined,
  audit: {
    sink: config.audit?.sink ?? "embedded",
    path: config.audit?.path,
    url: config.audit?.url,
    redis: config.audit?.redis ?? config.redis?.url,
    stream: config.audit?.stream ?? "jsonflow:audit",
    snapshots: config.audit?.snapshots ?? "full",
    retentionDays: config.audit?.retentionDays,
    redaction: {
      keys: config.audit?.redaction?.keys ?? [],
      paths: config.audit?.redaction?.paths ?? [],
      patterns: config.audit?.redaction?.patterns,
      mode: config.audit?.redaction?.mode ?? "mask",
      keyId: config.audit?.redaction?.keyId
    },
    buffer: {
      capacity: config.audit?.buffer?.capacity ?? 20_000,
      onFull: config.audit?.buffer?.onFull ?? "spill",
      journalDir: config.audit?.buffer?.journalDir,
      flushTimeoutMs: config.audit?.buffer?.flushTimeoutMs ?? 10_000
    }
  },
  sandbox: {
    limits: config.sandbox?.limits ?? {},
    maxLimits: config.sandbox?.maxLimits ?? {},
    processes: config.sandbox?.processes ?? 1,
    staticChecks: config.sandbox?.staticChecks ?? "block",
    maxRssMb: config.sandbox?.maxRssMb ?? 1024
  },
  ssrf: { allow: config.ssrf?.allow ?? [] },
  connectors: config.connectors,
  credentials: config.credentials ?? {}
})

/** The limits that apply to one flow: its own entry over the defaults. */
export const limitsOf = (config: Resolved, flowId: string) => {
  const own = Object.hasOwn(config.limits.flows, flowId) ? config.limits.flows[flowId] : undefined
  return {
    maxConcurrent: own?.maxConcurrent ?? config.limits.maxConcurrent,
    maxQueued: own?.maxQueued ?? config.limits.maxQueued,
    timeoutMs: own?.timeoutMs ?? config.limits.timeoutMs,
    rate: own?.rate ?? config.limits.rate,
    skipOverlap: own?.skipOverlap ?? config.limits.skipOverlap,
    enqueue: own?.enqueue ?? config.limits.enqueue
  }
}

// ---------------------------------------------------------------------------------------------------------
// Environment overrides

const snake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

/** One settable leaf: its path in the document and its env name. */
interface EnvKey {
  readonly path: ReadonlyArray<string>
  readonly env: string
  readonly kind: "string" | "number" | "boolean" | "array"
}

// Leaves come from the JSON Schema so that a new config key gets its env name without further code.
const envKeys = (): ReadonlyArray<EnvKey> => {
  const document = jsonSchema() as JsonNode & { $defs?: Record<string, JsonNode> }
  const defs = document.$defs ?? {}
  const keys: Array<EnvKey> = []
  const deref = (node: JsonNode): JsonNode =>
    typeof node.$ref === "string" ? deref(defs[node.$ref.replace("#/$defs/", "")] ?? {}) : node
  const walk = (node: JsonNode, path: ReadonlyArray<string>) => {
    const resolved = deref(node)
    const variants = resolved.anyOf ?? [resolved]
    const object = variants.find((v) => deref(v).type === "object" && deref(v).properties)
    if (object && path.length < 3) {
      for (const [key, child] of Object.entries(deref(object).properties ?? {})) walk(child, [...path, key])
      return
    }
    const types = variants.map((v) => deref(v).type)
    const kind = types.includes("array")
      ? "array"
      : types.includes("boolean")
        ? "boolean"
        : types.includes("integer") || types.includes("number")
          ? "number"
          : "string"
    if (types.includes("object")) return // records (limits.flows) are file-only
    keys.push({ path, env: `JSONFLOW_${path.map(snake).join("_")}`, kind })
  }
  for (const [key, child] of Object.entries(deref(document).properties ?? {})) {
    if (key !== "$schema") walk(child, [key]) // for editors only: no variable sets it
  }
  return keys
}

interface JsonNode {
  readonly type?: string
  readonly $ref?: string
  readonly anyOf?: ReadonlyArray<JsonNode>
  readonly properties?: Record<string, JsonNode>
}

const parseEnvValue = (kind: EnvKey["kind"], text: string): unknown => {
  if (kind === "number") return text.trim() === "" ? text : Number(text)
  if (kind === "boolean")
    return text === "true" || text === "1" ? true : text === "false" || text === "0" ? false : text
  if (kind === "array") {
    if (text.trim().startsWith("[")) {
      try {
        return JSON.parse(text)
      } catch {
        return text
      }
    }
    return text === "" ? [] : text.split(",").map((s) => s.trim())
  }
  return text
}

const setIn = (target: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown) => {
  let current = target
  for (const segment of path.slice(0, -1)) {
    const next = current[segment]
    if (typeof next === "object" && next !== null && !Array.isArray(next)) current = next as Record<string, unknown>
    else {
      const created: Record<string, unknown> = {}
      current[segment] = created
      current = created
    }
  }
  current[path[path.length - 1]!] = value
}

/** What {@link load} read, for messages: where each JSON Pointer's value came from. */
export interface Loaded {
  readonly config: Resolved
  /** Unknown `JSONFLOW_*` variables (not an error: other packages read their own). */
  readonly ignoredEnv: ReadonlyArray<string>
}

/** Options of {@link load}. */
export interface LoadOptions {
  /** A JSON config file. */
  readonly file?: string
  /** Values given in code or on the command line; they win over the file, the environment wins over them. */
  readonly values?: RunnerConfig
  /** Environment (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

// Read elsewhere: credentials by connectors, keys by the audit (never configuration values), test settings.
const IGNORED_ENV_PREFIXES = ["JSONFLOW_CREDENTIAL_", "JSONFLOW_AUDIT_KEYS", "JSONFLOW_TEST_"]

const deepMerge = (a: unknown, b: unknown): unknown => {
  if (typeof a !== "object" || a === null || Array.isArray(a)) return b
  if (typeof b !== "object" || b === null || Array.isArray(b)) return b
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) }
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? deepMerge(out[k], v) : v
  return out
}

/**
 * Reads, merges and validates the configuration: the file, then `values`, then the environment.
 * Throws {@link ConfigError} listing every problem with its source.
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/runner"
 * const { config } = Config.load({ file: "runner.json", env: { JSONFLOW_SERVER_PORT: "9000" } })
 * config.server.port // 9000
 * ```
 */
export const load = (options: LoadOptions = {}): Loaded => {
  const env = options.env ?? process.env
  const origins = new Map<string, string>()
  let document: unknown = {}
  if (options.file !== undefined) {
    let text: string
    try {
      text = readFileSync(options.file, "utf8")
    } catch (error) {
      throw new ConfigError({
        problems: [
          { path: "", source: options.file, message: `cannot read the config file: ${(error as Error).message}` }
        ]
      })
    }
    try {
      document = JSON.parse(text)
    } catch (error) {
      throw new ConfigError({
        problems: [{ path: "", source: options.file, message: `not valid JSON: ${(error as Error).message}` }]
      })
    }
  }
  if (options.values !== undefined) document = deepMerge(document, options.values)
  const overrides: Record<string, unknown> = {}
  const known = envKeys()
  const knownNames = new Set(known.map((k) => k.env))
  for (const key of known) {
    const text = env[key.env]
    if (text === undefined) continue
    setIn(overrides, key.path, parseEnvValue(key.kind, text))
    origins.set(Validation.pointer(key.path), key.env)
  }
  if (env.PORT !== undefined && env.JSONFLOW_SERVER_PORT === undefined) {
    setIn(overrides, ["server", "port"], parseEnvValue("number", env.PORT))
    origins.set("/server/port", "PORT")
  }
  if (env.FLOW_ID !== undefined && env.JSONFLOW_FLOWS_ONLY === undefined) {
    setIn(overrides, ["flows", "only"], env.FLOW_ID)
    origins.set("/flows/only", "FLOW_ID")
  }
  document = deepMerge(document, overrides)
  const ignoredEnv = Object.keys(env).filter(
    (name) =>
      name.startsWith("JSONFLOW_") && !knownNames.has(name) && !IGNORED_ENV_PREFIXES.some((p) => name.startsWith(p))
  )
  const decoded = Validation.decode(RunnerConfig, document, { strict: true })
  if (decoded._tag === "Invalid") {
    throw new ConfigError({
      problems: decoded.issues.map((issue) => {
        const origin = [...origins.entries()].find(([pointer]) => issue.path.startsWith(pointer))?.[1]
        return { path: issue.path, source: origin ?? options.file ?? "options", message: issue.message }
      })
    })
  }
  const sourceOf = (pointer: string) =>
    [...origins.entries()].find(([p]) => pointer.startsWith(p))?.[1] ?? options.file ?? "options"
  const problems = crossCheck(decoded.value).map((p) => ({ ...p, source: sourceOf(p.path) }))
  if (problems.length > 0) throw new ConfigError({ problems })
  return { config: resolve(decoded.value), ignoredEnv }
}

// Rules between keys, which the Schema of each key cannot state.
const crossCheck = (config: RunnerConfig): Array<{ readonly path: string; readonly message: string }> => {
  const problems: Array<{ path: string; message: string }> = []
  const limits = config.sandbox?.limits ?? {}
  const ceilings = config.sandbox?.maxLimits ?? {}
  for (const key of Object.keys(limits) as Array<keyof SandboxLimits>) {
    const value = limits[key]
    const ceiling = ceilings[key]
    if (value !== undefined && ceiling !== undefined && value > ceiling) {
      problems.push({
        path: `/sandbox/limits/${key}`,
        message: `${value} is above its ceiling sandbox.maxLimits.${key} (${ceiling})`
      })
    }
  }
  const sink = config.audit?.sink
  if (sink === "postgres" && config.audit?.url === undefined)
    problems.push({ path: "/audit/url", message: "the postgres sink needs audit.url (a postgres:// URL)" })
  if (sink === "redis" && config.audit?.redis === undefined && config.redis?.url === undefined)
    problems.push({ path: "/audit/redis", message: "the redis sink needs audit.redis or redis.url (a redis:// URL)" })
  if ((sink === "postgres" || sink === "redis") && config.audit?.url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(config.audit.url))
      problems.push({ path: "/audit/url", message: "expected a postgres:// URL" })
  }
  if (config.idempotency?.store === "redis" && config.redis?.url === undefined)
    problems.push({ path: "/idempotency/store", message: "the redis store needs redis.url (a redis:// URL)" })
  // JSON flows are data anyone with access to the flow store may have written: their HTTP stays guarded.
  const http = config.connectors?.http
  if (typeof http === "object" && http !== null) {
    const guard = (http as { readonly ssrfGuard?: unknown }).ssrfGuard
    if (
      guard === false ||
      (typeof guard === "object" && guard !== null && (guard as { enabled?: unknown }).enabled === false)
    )
      problems.push({
        path: "/connectors/http/ssrfGuard",
        message:
          "JSON flows' HTTP requests are always SSRF-guarded; list the internal hosts they may call in ssrf.allow"
      })
  }
  return problems
}

/** The env variable names the runner reads, with the config path each sets (for docs and `--help`). */
export const environmentVariables = (): ReadonlyArray<{ readonly name: string; readonly path: string }> => [
  ...envKeys().map((k) => ({ name: k.env, path: k.path.join(".") })),
  { name: "PORT", path: "server.port" },
  { name: "FLOW_ID", path: "flows.only" }
]

let jsonSchemaCache: Record<string, unknown> | undefined

/**
 * The JSON Schema (draft 2020-12) of the configuration file, published as `@jsonflow/runner/config.schema.json`.
 *
 * @example
 * ```ts
 * import { Config } from "@jsonflow/runner"
 * console.log(JSON.stringify(Config.jsonSchema(), null, 2))
 * ```
 */
export const jsonSchema = (): Record<string, unknown> => {
  if (jsonSchemaCache) return jsonSchemaCache
  const document = Schema.toJsonSchemaDocument(RunnerConfig)
  jsonSchemaCache = {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: "https://jsonflow.dev/schema/runner-config.json",
    ...(document.schema as Record<string, unknown>),
    ...(Object.keys(document.definitions).length > 0 ? { $defs: document.definitions } : {})
  }
  return jsonSchemaCache
}
