/**
 * The `GrpcClients` service: one channel per configured client, opened when the layer starts (its `.proto`
 * loaded once per process and cached) and closed with the layer's scope. Unary calls are Effects; server
 * streaming calls are Effect `Stream`s that pull messages as the consumer asks for them. Every call has a
 * deadline, and interrupting it cancels the call on the wire (the server sees `CANCELLED`).
 *
 * `@grpc/grpc-js` and `@grpc/proto-loader` are optional peer dependencies: they are imported when the layer
 * is built, and without them the layer fails with `MissingPackage`.
 *
 * @module grpc/client
 */
import { readFile } from "node:fs/promises"
import type * as Grpc from "@grpc/grpc-js"
import type * as ProtoLoader from "@grpc/proto-loader"
import { Credentials, OptionalPackage } from "@jsonflow/core"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import { type ConnectorConfigError, decodeConfig } from "../shared/ConfigError.ts"
import { defaults, type GrpcClientConfig, GrpcConfig } from "./config.ts"
import { fromServiceError, type GrpcError, GrpcLoadError, GrpcUnknownMethod } from "./errors.ts"

/** A protobuf message as a plain object (field names per the loader options). */
export type Message = Readonly<Record<string, unknown>>

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's deadline. */
  readonly deadlineMs?: number
  /** Added to (and overriding) the client's metadata. */
  readonly metadata?: Readonly<Record<string, string>>
}

export interface GrpcClientsShape {
  /** A unary call. */
  readonly unary: (
    client: string,
    method: string,
    request: Message,
    options?: CallOptions
  ) => Effect.Effect<Message, GrpcError | GrpcUnknownMethod>
  /**
   * A server-streaming call as a `Stream`: messages are pulled as consumed (backpressure), the deadline covers
   * the whole stream, and ending the stream early (`Stream.take`, interruption) cancels the call.
   */
  readonly serverStream: (
    client: string,
    method: string,
    request: Message,
    options?: CallOptions
  ) => Stream.Stream<Message, GrpcError | GrpcUnknownMethod>
  /** The methods of a client's service, with their kind. */
  readonly methods: (client: string) => ReadonlyArray<{ readonly name: string; readonly kind: MethodKind }>
}

export type MethodKind = "unary" | "serverStream" | "clientStream" | "bidiStream"

/**
 * The gRPC service. Provide it with {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Grpc } from "@jsonflow/connectors"
 * const order = Grpc.GrpcClients.use((grpc) => grpc.unary("orders", "GetOrder", { id: 42 }))
 * const firstTen = Grpc.GrpcClients.use((grpc) =>
 *   Stream.runCollect(Stream.take(grpc.serverStream("orders", "ListOrders", { count: 100 }), 10))
 * )
 * ```
 */
export class GrpcClients extends Context.Service<GrpcClients, GrpcClientsShape>()("@jsonflow/connectors/GrpcClients") {}

type Method = ProtoLoader.MethodDefinition<object, object>

interface Ready {
  readonly name: string
  readonly config: GrpcClientConfig
  readonly channel: Grpc.Client
  /** Builds call metadata; from the loaded grpc-js, like the channel. */
  readonly Metadata: typeof Grpc.Metadata
  readonly methods: ReadonlyMap<string, Method>
  readonly authHeader: readonly [string, string] | undefined
}

/** The gRPC libraries, imported on the first layer build (never when this module loads). */
const grpcPackages = {
  feature: "the gRPC connector",
  install: "npm install @grpc/grpc-js@^1.14.7 @grpc/proto-loader@^0.8.1"
}
const loadGrpc = OptionalPackage.load("@grpc/grpc-js", () => import("@grpc/grpc-js"), grpcPackages)
const loadProtoLoader = OptionalPackage.load("@grpc/proto-loader", () => import("@grpc/proto-loader"), grpcPackages)

interface Libraries {
  readonly grpc: typeof Grpc
  readonly protoLoader: typeof ProtoLoader
}

const packageCache = new Map<string, Promise<ProtoLoader.PackageDefinition>>()

/**
 * Forgets every cached `.proto` package (after the contract files changed on disk).
 *
 * @example
 * ```ts
 * import { Grpc } from "@jsonflow/connectors"
 * Grpc.clearProtoCache()
 * ```
 */
export const clearProtoCache = (): void => packageCache.clear()

const loadPackage = (protoLoader: typeof ProtoLoader, config: GrpcClientConfig) => {
  const loader = { ...defaults.loader, ...config.loader }
  const options: ProtoLoader.Options = {
    keepCase: loader.keepCase,
    longs: loader.longs === "String" ? String : Number,
    enums: loader.enums === "String" ? String : Number,
    defaults: loader.defaults,
    oneofs: loader.oneofs,
    ...(config.includeDirs === undefined ? {} : { includeDirs: [...config.includeDirs] })
  }
  const key = JSON.stringify([config.protoFiles, config.includeDirs, loader])
  const cached = packageCache.get(key)
  if (cached !== undefined) return cached
  const loading = protoLoader.load([...config.protoFiles], options)
  packageCache.set(key, loading)
  loading.catch(() => packageCache.delete(key))
  return loading
}

const kindOf = (method: Method): MethodKind =>
  method.requestStream
    ? method.responseStream
      ? "bidiStream"
      : "clientStream"
    : method.responseStream
      ? "serverStream"
      : "unary"

const isService = (definition: ProtoLoader.AnyDefinition): definition is ProtoLoader.ServiceDefinition =>
  !("format" in definition) &&
  Object.values(definition).every((m: unknown) => typeof m === "object" && m !== null && "path" in m)

const credentialsOf = Effect.fn("Grpc.credentials")(function* (
  grpc: typeof Grpc,
  name: string,
  config: GrpcClientConfig
) {
  const tls = config.tls
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure()
  if (tls === true) return grpc.credentials.createSsl()
  const fail = (reason: string) => new GrpcLoadError({ client: name, reason, retryable: false })
  const secret = tls.credential === undefined ? {} : yield* (yield* Credentials.Credentials).resolve(tls.credential)
  const pem = (field: string) => {
    const value = secret[field]
    return value === undefined ? null : Buffer.from(Redacted.value(value))
  }
  const caFile = tls.caFile
  const ca =
    pem("ca") ??
    (caFile === undefined
      ? null
      : yield* Effect.tryPromise({
          try: () => readFile(caFile),
          catch: (error) => fail(`cannot read caFile ${caFile}: ${error instanceof Error ? error.message : error}`)
        }))
  const key = pem("key")
  const cert = pem("cert")
  if ((key === null) !== (cert === null)) {
    return yield* fail(`mutual TLS needs both "cert" and "key" in credential "${tls.credential}"`)
  }
  return grpc.credentials.createSsl(ca, key, cert)
})

const open = Effect.fn("Grpc.open")(function* (
  { grpc, protoLoader }: Libraries,
  name: string,
  config: GrpcClientConfig
) {
  const fail = (reason: string) => new GrpcLoadError({ client: name, reason, retryable: false })
  const definition = yield* Effect.tryPromise({
    try: () => loadPackage(protoLoader, config),
    catch: (error) =>
      fail(`cannot load ${config.protoFiles.join(", ")}: ${error instanceof Error ? error.message : error}`)
  })
  const service = definition[config.service]
  if (service === undefined || !isService(service)) {
    const services = Object.entries(definition)
      .filter(([, d]) => isService(d))
      .map(([n]) => n)
    return yield* fail(
      `no service "${config.service}" in the .proto files (services: ${services.join(", ") || "none"})`
    )
  }
  const methods = new Map<string, Method>()
  for (const [methodName, method] of Object.entries(service)) {
    methods.set(methodName, method)
    if (method.originalName !== undefined && !methods.has(method.originalName)) methods.set(method.originalName, method)
  }
  const credentials = yield* credentialsOf(grpc, name, config)
  let authHeader: readonly [string, string] | undefined
  if (config.auth !== undefined) {
    const token = yield* (yield* Credentials.Credentials).resolve(config.auth.credential)
    const value = token.token
    if (value === undefined) {
      return yield* new Credentials.CredentialNotFound({
        name: config.auth.credential,
        field: "token",
        retryable: false
      })
    }
    const scheme = config.auth.scheme ?? defaults.authScheme
    authHeader = [
      config.auth.header ?? defaults.authHeader,
      scheme === "" ? Redacted.value(value) : `${scheme} ${Redacted.value(value)}`
    ]
  }
  const tlsName = typeof config.tls === "object" ? config.tls.serverName : undefined
  const channel = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new grpc.Client(config.address, credentials, {
          ...config.channelOptions,
          ...(tlsName === undefined
            ? {}
            : { "grpc.ssl_target_name_override": tlsName, "grpc.default_authority": tlsName })
        })
    ),
    (channel) => Effect.sync(() => channel.close())
  )
  return { name, config, channel, Metadata: grpc.Metadata, methods, authHeader } satisfies Ready
})

const metadataOf = (ready: Ready, extra: Readonly<Record<string, string>> | undefined) => {
  const metadata = new ready.Metadata()
  for (const [key, value] of Object.entries({ ...ready.config.metadata, ...extra })) metadata.set(key, value)
  if (ready.authHeader !== undefined) metadata.set(ready.authHeader[0], ready.authHeader[1])
  return metadata
}

const deadlineOf = (ready: Ready, options: CallOptions | undefined) =>
  Date.now() + (options?.deadlineMs ?? ready.config.deadlineMs ?? defaults.deadlineMs)

const make = (clients: ReadonlyMap<string, Ready>): GrpcClientsShape => {
  const lookup = (
    name: string,
    methodName: string,
    kind: MethodKind
  ): { readonly ready: Ready; readonly method: Method } | GrpcUnknownMethod => {
    const ready = clients.get(name)
    const unknown = (reason: string) =>
      new GrpcUnknownMethod({ client: name, method: methodName, reason, retryable: false })
    if (ready === undefined) return unknown(`no such client (clients: ${[...clients.keys()].join(", ") || "none"})`)
    const method = ready.methods.get(methodName)
    if (method === undefined) {
      return unknown(
        `${ready.config.service} has no method ${methodName} (methods: ${[...ready.methods.keys()].join(", ")})`
      )
    }
    if (kindOf(method) !== kind) return unknown(`is a ${kindOf(method)} method, not ${kind}`)
    return { ready, method }
  }

  return {
    methods: (name) => {
      const ready = clients.get(name)
      if (ready === undefined) return []
      const seen = new Set<Method>()
      const list: Array<{ readonly name: string; readonly kind: MethodKind }> = []
      for (const [methodName, method] of ready.methods) {
        if (seen.has(method)) continue
        seen.add(method)
        list.push({ name: methodName, kind: kindOf(method) })
      }
      return list
    },

    unary: (name, methodName, request, options) => {
      const found = lookup(name, methodName, "unary")
      if (found instanceof GrpcUnknownMethod) return Effect.fail(found)
      const { ready, method } = found
      return Effect.callback<Message, GrpcError>((resume) => {
        const call = ready.channel.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadataOf(ready, options?.metadata),
          { deadline: deadlineOf(ready, options) },
          (error, response) => {
            if (error) resume(Effect.fail(fromServiceError(name, methodName, error)))
            else resume(Effect.succeed((response ?? {}) as Message))
          }
        )
        // Interruption cancels the call: grpc-js sends RST_STREAM, the server sees CANCELLED.
        return Effect.sync(() => call.cancel())
      }).pipe(Effect.withSpan("Grpc.unary", { attributes: { client: name, method: methodName } }))
    },

    serverStream: (name, methodName, request, options) => {
      const found = lookup(name, methodName, "serverStream")
      if (found instanceof GrpcUnknownMethod) return Stream.fail(found)
      const { ready, method } = found
      const start = Effect.acquireRelease(
        Effect.sync(() =>
          ready.channel.makeServerStreamRequest(
            method.path,
            method.requestSerialize,
            method.responseDeserialize,
            request,
            metadataOf(ready, options?.metadata),
            { deadline: deadlineOf(ready, options) }
          )
        ),
        // Ending the stream early (take, interruption, a downstream failure) cancels the call on the wire;
        // after a normal end this is a no-op.
        (call) => Effect.sync(() => call.cancel())
      )
      return Stream.unwrap(
        Effect.map(start, (call) =>
          Stream.fromAsyncIterable(call as AsyncIterable<Message>, (error) => fromServiceError(name, methodName, error))
        )
      )
    }
  }
}

/**
 * The live layer: loads every client's `.proto` (failing with `GrpcLoadError` if one cannot be loaded or
 * lacks the service, `CredentialNotFound` if a credential is missing, `MissingPackage` if `@grpc/grpc-js`
 * or `@grpc/proto-loader` is not installed), opens the channels (lazily
 * connected: a server that is down makes calls fail with a retryable `UNAVAILABLE`, not the layer) and
 * closes them when the scope ends.
 *
 * @example
 * ```ts
 * import { Grpc } from "@jsonflow/connectors"
 * const GrpcLive = Grpc.layer({
 *   clients: {
 *     orders: {
 *       address: "orders.internal:443",
 *       protoFiles: ["protos/orders.proto"],
 *       service: "shop.orders.v1.Orders",
 *       tls: true,
 *       auth: { credential: "orders-api" },
 *       deadlineMs: 5_000
 *     }
 *   }
 * })
 * ```
 */
export const layer = (
  input: GrpcConfig
): Layer.Layer<
  GrpcClients,
  GrpcLoadError | Credentials.CredentialNotFound | ConnectorConfigError | OptionalPackage.MissingPackage
> =>
  Layer.effect(
    GrpcClients,
    Effect.gen(function* () {
      const config = yield* decodeConfig("grpc", GrpcConfig, input)
      const libraries: Libraries = { grpc: yield* loadGrpc, protoLoader: yield* loadProtoLoader }
      const opened = yield* Effect.forEach(
        Object.entries(config.clients),
        ([name, client]) => Effect.map(open(libraries, name, client), (ready) => [name, ready] as const),
        { concurrency: "unbounded" }
      )
      return GrpcClients.of(make(new Map(opened)))
    })
  )
