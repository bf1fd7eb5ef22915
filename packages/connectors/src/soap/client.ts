/**
 * The `SoapClients` service: one soap client per configured web service, built when the layer starts (the
 * WSDL fetched and parsed once per process, then cached) and released with the layer's scope. A call
 * names the client and the operation; it has a time limit, and interrupting it aborts the HTTP request.
 *
 * The `soap` package is an optional peer dependency: it is imported when the layer is built, and without it
 * the layer fails with `MissingPackage` (`npm install soap@^1.13.0`).
 *
 * @module soap/client
 */
import { createHash } from "node:crypto"
import * as http from "node:http"
import * as https from "node:https"
import { Credentials, OptionalPackage } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted } from "effect"
import type * as Soap from "soap"
import { abortable } from "../shared/Abortable.ts"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { defaults, type SoapAuth, type SoapClientConfig, SoapConfig } from "./config.ts"
import { fromSoapError, type SoapError, SoapTimeout, SoapUnknownOperation, SoapWsdlError } from "./errors.ts"

/** What a call returns: the operation's output and the response's SOAP header, both as plain objects. */
export interface SoapResponse {
  readonly result: unknown
  readonly header: unknown
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's `timeoutMs`. */
  readonly timeoutMs?: number
  /** Overrides the client's `idempotent` (retry classification). */
  readonly idempotent?: boolean
}

export interface SoapClientsShape {
  /**
   * Calls `operation` (`Operation`, or `Service.Port.Operation` when several ports define it) of the
   * client named `client` with `args` (an object shaped like the operation's input message).
   */
  readonly call: (
    client: string,
    operation: string,
    args: Readonly<Record<string, unknown>>,
    options?: CallOptions
  ) => Effect.Effect<SoapResponse, SoapError>
  /** The operations of a client, as `Service.Port.Operation` paths. */
  readonly operations: (client: string) => ReadonlyArray<string>
}

/**
 * The SOAP service. Provide it with {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Soap } from "@jsonflow/connectors"
 * const order = Soap.SoapClients.use((soap) => soap.call("orders", "GetOrder", { orderId: 42 }))
 * ```
 */
export class SoapClients extends Context.Service<SoapClients, SoapClientsShape>()("@jsonflow/connectors/SoapClients") {}

/** The `soap` package, imported on the first layer build (never when this module loads). */
const loadSoap = OptionalPackage.load("soap", () => import("soap"), {
  feature: "the SOAP connector",
  install: "npm install soap@^1.13.0"
})

// Parsed WSDLs by source + fetch headers: parsing is the expensive part (imports, schemas), clients are cheap.
const wsdlCache = new Map<string, Promise<Soap.WSDL>>()

/**
 * Forgets every cached WSDL (for example after a service published a new contract).
 *
 * @example
 * ```ts
 * import { Soap } from "@jsonflow/connectors"
 * Soap.clearWsdlCache()
 * ```
 */
export const clearWsdlCache = (): void => wsdlCache.clear()

const loadWsdl = (soap: typeof Soap, wsdl: string, headers: Readonly<Record<string, string>>, timeoutMs: number) => {
  // Header values may hold secrets: the cache key keeps only their digest.
  const key = `${wsdl}\n${createHash("sha256").update(JSON.stringify(headers)).digest("hex")}`
  const cached = wsdlCache.get(key)
  if (cached !== undefined) return cached
  const loading = soap
    .createClientAsync(wsdl, { disableCache: true, wsdl_headers: { ...headers }, wsdl_options: { timeout: timeoutMs } })
    .then((client) => client.wsdl)
  wsdlCache.set(key, loading)
  loading.catch(() => wsdlCache.delete(key))
  return loading
}

const secretsOf = Effect.fn("Soap.secrets")(function* (name: string) {
  const credential = yield* (yield* Credentials.Credentials).resolve(name)
  const username = credential.username ?? credential.user
  const password = credential.password
  if (username === undefined)
    return yield* new Credentials.CredentialNotFound({ name, field: "username", retryable: false })
  if (password === undefined)
    return yield* new Credentials.CredentialNotFound({ name, field: "password", retryable: false })
  return { username: Redacted.value(username), password: Redacted.value(password) }
})

const securityOf = (
  soap: typeof Soap,
  auth: SoapAuth,
  secrets: { readonly username: string; readonly password: string }
) =>
  auth.type === "basic"
    ? new soap.BasicAuthSecurity(secrets.username, secrets.password)
    : new soap.WSSecurity(secrets.username, secrets.password, {
        passwordType: auth.passwordType ?? defaults.passwordType,
        hasTimeStamp: auth.hasTimeStamp ?? defaults.hasTimeStamp,
        hasNonce: auth.hasNonce ?? defaults.hasNonce,
        hasTokenCreated: auth.hasTokenCreated ?? defaults.hasTokenCreated,
        mustUnderstand: auth.mustUnderstand ?? defaults.mustUnderstand
      })

type SoapCallback = (error: unknown, result: unknown, raw: unknown, header: unknown) => void
type SoapMethod = (args: unknown, callback: SoapCallback, options: unknown, extraHeaders: unknown) => void

interface Ready {
  readonly config: SoapClientConfig
  /** Operation name or `Service.Port.Operation` -> the bound method. */
  readonly methods: ReadonlyMap<string, SoapMethod>
  readonly paths: ReadonlyArray<string>
}

/** Indexes the operations a WSDL describes; an unqualified name maps to the first port that has it. */
const indexOperations = (client: Soap.Client) => {
  const methods = new Map<string, SoapMethod>()
  const paths: Array<string> = []
  const services = client.describe() as Record<string, Record<string, Record<string, unknown>>>
  const bound = client as unknown as Record<string, Record<string, Record<string, unknown>>>
  for (const [service, ports] of Object.entries(services)) {
    for (const [port, operations] of Object.entries(ports)) {
      for (const operation of Object.keys(operations)) {
        const method = bound[service]?.[port]?.[operation]
        if (typeof method !== "function") continue
        const path = `${service}.${port}.${operation}`
        paths.push(path)
        methods.set(path, method as SoapMethod)
        if (!methods.has(operation)) methods.set(operation, method as SoapMethod)
      }
    }
  }
  return { methods, paths }
}

const open = Effect.fn("Soap.open")(function* (soap: typeof Soap, name: string, config: SoapClientConfig) {
  const secrets = config.auth === undefined ? undefined : yield* secretsOf(config.auth.credential)
  const wsdlHeaders: Record<string, string> =
    config.auth?.type === "basic" && secrets !== undefined && /^https?:/i.test(config.wsdl)
      ? { Authorization: `Basic ${Buffer.from(`${secrets.username}:${secrets.password}`).toString("base64")}` }
      : {}
  const wsdlTimeoutMs = config.wsdlTimeoutMs ?? defaults.wsdlTimeoutMs
  const wsdl = yield* Effect.tryPromise({
    try: () => loadWsdl(soap, config.wsdl, wsdlHeaders, wsdlTimeoutMs),
    catch: (error) =>
      new SoapWsdlError({
        client: name,
        wsdl: config.wsdl,
        reason: error instanceof Error ? error.message : String(error),
        retryable: false
      })
  }).pipe(
    Effect.timeoutOrElse({
      duration: wsdlTimeoutMs,
      orElse: () =>
        Effect.fail(
          new SoapWsdlError({
            client: name,
            wsdl: config.wsdl,
            reason: `not loaded within ${wsdlTimeoutMs} ms`,
            retryable: false
          })
        )
    })
  )
  const client = new soap.Client(wsdl, config.endpoint)
  if (config.auth !== undefined && secrets !== undefined) client.setSecurity(securityOf(soap, config.auth, secrets))
  for (const [header, value] of Object.entries(config.headers ?? {})) client.addHttpHeader(header, value)
  return { config, ...indexOperations(client) } satisfies Ready
})

interface Agents {
  readonly httpAgent: http.Agent
  readonly httpsAgent: https.Agent
}

const make = (clients: ReadonlyMap<string, Ready>, agents: Agents): SoapClientsShape => ({
  operations: (name) => clients.get(name)?.paths ?? [],
  call: (name, operation, args, options) => {
    const ready = clients.get(name)
    if (ready === undefined) {
      return Effect.fail(
        new SoapUnknownOperation({ client: name, operation, available: [...clients.keys()], retryable: false })
      )
    }
    const method = ready.methods.get(operation)
    if (method === undefined) {
      return Effect.fail(
        new SoapUnknownOperation({ client: name, operation, available: ready.paths, retryable: false })
      )
    }
    const idempotent = options?.idempotent ?? ready.config.idempotent ?? defaults.idempotent
    return abortable({
      run: (signal) =>
        new Promise<SoapResponse>((resolve, reject) => {
          // The soap package hands these options to axios: `signal` aborts the HTTP request on interruption,
          // and the layer's own keep-alive agents hold the sockets, so closing the layer closes them.
          method(
            args,
            (error, result, _raw, header) => (error ? reject(error) : resolve({ result: result ?? null, header })),
            { signal, httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent },
            {}
          )
        }),
      timeoutMs: options?.timeoutMs ?? ready.config.timeoutMs ?? defaults.timeoutMs,
      onTimeout: (timeoutMs): SoapError =>
        new SoapTimeout({ client: name, operation, timeoutMs, retryable: idempotent }),
      onError: (error) => fromSoapError(name, operation, idempotent, error)
    }).pipe(Effect.withSpan("Soap.call", { attributes: { client: name, operation } }))
  }
})

/**
 * The live layer: loads every client's WSDL (failing with `SoapWsdlError` if one cannot be loaded,
 * `CredentialNotFound` if a credential is missing, or `MissingPackage` if the `soap` package is not
 * installed) and serves calls until the scope ends.
 *
 * @example
 * ```ts
 * import { Soap } from "@jsonflow/connectors"
 * const SoapLive = Soap.layer({
 *   clients: {
 *     orders: {
 *       wsdl: "https://erp.example.com/orders?wsdl",
 *       endpoint: "https://erp-staging.example.com/orders",
 *       auth: { type: "wsSecurity", credential: "erp", passwordType: "PasswordDigest", hasNonce: true },
 *       timeoutMs: 10_000
 *     }
 *   }
 * })
 * ```
 */
export const layer = (
  input: SoapConfig
): Layer.Layer<
  SoapClients,
  SoapWsdlError | Credentials.CredentialNotFound | ConnectorConfigError | OptionalPackage.MissingPackage
> =>
  Layer.effect(
    SoapClients,
    Effect.gen(function* () {
      const config = yield* decodeConfig("soap", SoapConfig, input)
      const soap = yield* loadSoap
      const agents = yield* Effect.acquireRelease(
        Effect.sync(
          (): Agents => ({
            httpAgent: new http.Agent({ keepAlive: true }),
            httpsAgent: new https.Agent({ keepAlive: true })
          })
        ),
        ({ httpAgent, httpsAgent }) =>
          Effect.sync(() => {
            httpAgent.destroy()
            httpsAgent.destroy()
          })
      )
      const opened = yield* Effect.forEach(
        Object.entries(config.clients),
        ([name, client]) => Effect.map(open(soap, name, client), (ready) => [name, ready] as const),
        { concurrency: "unbounded" }
      )
      return SoapClients.of(make(new Map(opened), agents))
    })
  )
