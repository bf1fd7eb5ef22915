/**
 * The runner: loads flows from files, directories, built definitions and the PostgreSQL config DB, serves
 * their triggers (HTTP routes, cron schedules, BullMQ queues, programmatic calls) and the operations
 * routes, and shuts down gracefully. {@link make} is the scoped Effect; {@link start} the promise API for
 * services that do not use Effect. Either can listen on its own port or mount into an existing
 * `http.Server` (or hand out a connect-style handler) under a route prefix.
 *
 * Reloads (file watch, NOTIFY from the config DB, the admin API) build a new flow table and swap it in;
 * executions in flight keep the version they started with.
 *
 * @example
 * ```ts
 * import { Runner } from "@jsonflow/runner"
 * const runner = await Runner.start({ flows: ["examples/flows"], config: { server: { port: 8080 } } })
 * console.log(runner.url) // http://127.0.0.1:8080
 * const result = await runner.trigger("double", { value: 21 })
 * await runner.stop()
 * ```
 *
 * @module Runner
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { type Compiler, Credentials, type Flow, FlowError, FlowEvents } from "@jsonflow/core"
import { Sandbox } from "@jsonflow/sandbox"
import { Context, Effect, Exit, type Fiber, Layer, Scope } from "effect"
import * as Config from "./Config.ts"
import { makeAdmin, type ReloadReport } from "./http/admin.ts"
import { gates, type Handler, makeHandler } from "./http/server.ts"
import { DedupeKeyMissing } from "./idempotency/IdempotencyError.ts"
import { IdempotencyStore } from "./idempotency/IdempotencyStore.ts"
import * as Executor from "./internal/executor.ts"
import * as FlowTable from "./internal/flowTable.ts"
import * as JsonEnvironment from "./JsonEnvironment.ts"
import type * as AuditOps from "./ops/audit.ts"
import * as ClientIp from "./ops/clientIp.ts"
import * as Logger from "./ops/logger.ts"
import * as Metrics from "./ops/metrics.ts"
import * as RateLimit from "./ops/rateLimit.ts"
import { ConfigError, FlowLoadError, FlowNotFound, QueueUnavailable, Shed, StartError } from "./RunnerError.ts"
import * as Directory from "./sources/directory.ts"
import type { SourcedFlow } from "./sources/FlowSource.ts"
import type * as ConfigDb from "./sources/postgres.ts"
import * as Cron from "./triggers/cron.ts"
import type * as Queue from "./triggers/queue.ts"

export type { ReloadReport } from "./http/admin.ts"
export type { Handler } from "./http/server.ts"

/** A flow source: a file or directory path, or a built flow. */
// biome-ignore lint/suspicious/noExplicitAny: a built flow's input and output types are the author's business here
export type FlowInput<R> = string | Flow.FlowDefinition<any, any, R>

/** Options of {@link make} and {@link start}. */
export interface RunnerOptions<R = never> {
  /** Files, directories and built flows. Paths from `config.flows.paths` are added. */
  // NoInfer: the services come from `layers` only, so a flow needing one that `layers` lacks is a type error.
  readonly flows?: ReadonlyArray<FlowInput<NoInfer<R>>>
  /** The services builder flows need (a SQL client, your own services). */
  readonly layers?: Layer.Layer<R, unknown, never>
  /** Configuration values; a file (`configFile`) is read first, the environment wins over both. */
  readonly config?: Config.RunnerConfig
  readonly configFile?: string
  /** The environment to read `JSONFLOW_*` overrides from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Which triggers to run (default: all). `http: false` serves no port (use `handler`). */
  readonly triggers?: { readonly http?: boolean; readonly cron?: boolean; readonly queue?: boolean }
  /** Mount into this server instead of listening: requests under the prefix go to the runner, the rest to the server's own listeners. */
  readonly server?: Server
  /** Node types and services JSON flows get in addition to the defaults (the sandbox's code nodes, connectors). */
  readonly extensions?: ReadonlyArray<JsonEnvironment.Extension>
  /**
   * Where connectors resolve credentials by name (default: `JSONFLOW_CREDENTIAL_<NAME>_<FIELD>` from `env`).
   * The audit wraps it, so resolved values never reach a record; a `Credentials` inside `layers` is ignored.
   */
  readonly credentials?: Credentials.CredentialsShape
  /** More event subscribers (audit sinks, your own). Must not block. */
  readonly subscribers?: ReadonlyArray<FlowEvents.Subscriber>
  /** Where log lines go (default stdout). */
  readonly log?: (line: string) => void
  /** Fail the start when a flow does not load (default true); otherwise serve the others and report. */
  readonly strict?: boolean
}

/** A loaded flow as listed by {@link Runner.flows}. */
export interface LoadedFlow {
  readonly id: string
  readonly version: string
  readonly kind: "json" | "builder"
  readonly source: string
  readonly trigger: FlowTable.FlowEntry["ir"]["trigger"]
  /** The JSON Schema of the flow input, when it declares one. */
  readonly input?: Readonly<Record<string, unknown>>
}

/** Why a programmatic trigger did not run. */
export type TriggerError = FlowError.FlowError | FlowNotFound | Shed

/** A running runner (Effect API). */
export interface Runner {
  /** Where it listens (`undefined` when mounted or without HTTP). */
  readonly url: string | undefined
  readonly config: Config.Resolved
  /** The request handler, for mounting by hand: `(req, res, next?)`. */
  readonly handler: Handler
  readonly flows: () => ReadonlyArray<LoadedFlow>
  /** Runs a flow now and waits for its result. */
  readonly trigger: (
    flowId: string,
    input: unknown,
    options?: { readonly timeoutMs?: number; readonly executionId?: string }
  ) => Effect.Effect<Compiler.ExecutionResult, TriggerError>
  /**
   * Enqueues an execution (needs Redis); succeeds with the execution id, the first job's when the flow's
   * queue trigger dedupes on a key enqueued within its window.
   */
  readonly enqueue: (
    flowId: string,
    input: unknown
  ) => Effect.Effect<string, FlowNotFound | QueueUnavailable | DedupeKeyMissing>
  /** Reloads every source now. */
  readonly reload: Effect.Effect<ReloadReport>
  /** Executions running on this replica. */
  readonly inFlight: () => number
}

const loadConfig = <R>(options: RunnerOptions<R>) =>
  Effect.try({
    try: () => {
      const paths = (options.flows ?? []).filter((f): f is string => typeof f === "string")
      const values: Config.RunnerConfig = {
        ...options.config,
        flows: { ...options.config?.flows, paths: [...(options.config?.flows?.paths ?? []), ...paths] }
      }
      return Config.load({
        ...(options.configFile === undefined ? {} : { file: options.configFile }),
        values,
        ...(options.env === undefined ? {} : { env: options.env })
      })
    },
    catch: (error) =>
      error instanceof ConfigError
        ? error
        : new StartError({ reason: error instanceof Error ? error.message : String(error) })
  })

const listen = (server: Server, port: number, host: string) =>
  Effect.callback<void, StartError>((resume) => {
    const onError = (error: Error) =>
      resume(Effect.fail(new StartError({ reason: `cannot listen on ${host}:${port}: ${error.message}` })))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })

const urlOf = (server: Server, host: string) => {
  const address = server.address() as AddressInfo
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host
  return `http://${shown}:${address.port}`
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/**
 * Starts a runner in the current scope; closing the scope shuts it down gracefully (stop accepting, drain
 * in-flight executions up to `server.shutdownTimeoutMs`, stop queue workers, close connections, then the
 * layers, so audit sinks flush last).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Runner } from "@jsonflow/runner"
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const runner = yield* Runner.make({ flows: [orderFlow], layers: SqlLayer, config: { server: { port: 0 } } })
 *   const result = yield* runner.trigger("orders", { since: "2026-01-01" })
 * }))
 * ```
 */
export const make = <R = never>(
  options: RunnerOptions<R> = {}
): Effect.Effect<Runner, ConfigError | FlowLoadError | StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const { config, ignoredEnv } = yield* loadConfig(options)
    const logger = Logger.make(config.logs.level, config.logs.format, options.log)
    if (ignoredEnv.length > 0)
      logger.log("debug", "environment variables not read by the runner", { names: ignoredEnv })
    const metrics = Metrics.runnerMetrics()
    const scope = yield* Effect.scope

    // Events: node durations for metrics, plus the caller's subscribers (audit).
    const metricsSubscriber: FlowEvents.Subscriber = (event) => {
      if (event._tag === "NodeSucceeded") {
        metrics.nodeSeconds.observe({ flow: event.flowId, type: event.nodeType }, event.durationMs / 1000)
      } else if (event._tag === "NodeFailed") {
        metrics.nodeSeconds.observe({ flow: event.flowId, type: event.nodeType }, event.durationMs / 1000)
        metrics.nodeFailures.inc({ flow: event.flowId, type: event.nodeType })
      }
    }
    const buildLayer = <A>(layer: Layer.Layer<A, unknown, never>, what: string) =>
      Layer.buildWithScope(layer, scope).pipe(
        Effect.mapError(
          (error) =>
            new StartError({
              reason: `${what} failed to start: ${error instanceof Error ? error.message : String(error)}`
            })
        )
      )
    // Configured connectors (sql.query, soap.call, ...) for JSON flows; the package loads only when configured.
    const connectors = yield* Effect.tryPromise({
      try: () => JsonEnvironment.connectorsOf(config),
      catch: (error) =>
        error instanceof ConfigError
          ? error
          : new StartError({ reason: error instanceof Error ? error.message : String(error) })
    })
    const extensions = [...(connectors === undefined ? [] : [connectors]), ...(options.extensions ?? [])]
    const jsonRegistry = JsonEnvironment.registry(extensions, { sandbox: JsonEnvironment.sandboxOptions(config) })
    // Sources
    const definitions: Array<SourcedFlow> = (options.flows ?? [])
      .filter((f): f is Flow.FlowDefinition<unknown, unknown, R> => typeof f !== "string")
      .map((definition, i) => ({
        kind: "builder",
        source: `options.flows[${i}]`,
        definition: definition as Flow.FlowDefinition<unknown, unknown, unknown>
      }))
    const configDbUrl = config.configDb
    const configDb: ConfigDb.ConfigDb | undefined = configDbUrl
      ? (yield* Effect.promise(() => import("./sources/postgres.ts"))).make(configDbUrl.url, configDbUrl.schema)
      : undefined
    if (configDb) yield* Effect.addFinalizer(() => Effect.promise(() => configDb.close().catch(() => {})))
    const readSources = async () => {
      const snapshot = await Directory.readPaths(config.flows.paths, jsonRegistry)
      const flows: Array<SourcedFlow> = [...definitions, ...snapshot.flows]
      const failures = [...snapshot.failures]
      if (configDb) {
        try {
          for (const row of await configDb.active()) {
            const { FlowFile } = await import("@jsonflow/json-dsl")
            const opened = FlowFile.interpret(JSON.stringify(row.document), jsonRegistry)
            const errors = opened.problems.filter((p) => p.severity === "error")
            const source = `configDb:${row.flowId}`
            if (errors.length > 0 || opened.flows.length === 0) {
              const message = errors.map((p) => `${p.path || "/"}: ${p.message}`).join("\n")
              failures.push({ source, message: `version ${row.version}: ${message}` })
            } else
              for (const f of opened.flows) flows.push({ kind: "json", source: `${source}#${row.version}`, ir: f.flow })
          }
        } catch (error) {
          failures.push({ source: "configDb", message: error instanceof Error ? error.message : String(error) })
        }
      }
      return { flows, failures }
    }
    const limitsOf = (flowId: string) => Config.limitsOf(config, flowId)
    let registerFlows: ((table: FlowTable.FlowTable) => void) | undefined
    const buildTable = async (previous: FlowTable.FlowTable | undefined) => {
      const { flows, failures } = await readSources()
      const table = FlowTable.build(flows, {
        config,
        jsonRegistry,
        limitsOf,
        ...(previous === undefined ? {} : { previous, failedSources: failures.map((f) => f.source) }),
        warn: (message, fields) => logger.log("warn", message, fields)
      })
      registerFlows?.(table)
      return { table, failures: [...failures, ...table.failures] }
    }
    const started = performance.now()
    const first = yield* Effect.promise(() => buildTable(undefined))
    if (first.failures.length > 0) {
      if (options.strict ?? true) return yield* new FlowLoadError({ failures: first.failures })
      for (const f of first.failures) logger.log("error", "flow failed to load", { ...f })
    }
    let table = first.table
    // Layers, audit first: they close after the drain below, and the audit flushes last of them.
    // Optional parts are imported only when configured: a runner without Redis never loads BullMQ.
    const auditOps: typeof AuditOps | undefined =
      config.audit.sink === "none" ? undefined : yield* Effect.promise(() => import("./ops/audit.ts"))
    const auditLive = yield* Effect.try({
      try: () => auditOps?.auditLayer(config.audit, process.cwd(), options.env ?? process.env),
      catch: (error) =>
        error instanceof ConfigError
          ? error
          : new StartError({ reason: error instanceof Error ? error.message : String(error) })
    })
    // Credentials: the configured source, wrapped by the audit (it scrubs every resolved value from records).
    // Every environment below resolves through the wrapper, at layer build time and while flows run.
    const source = options.credentials ?? JsonEnvironment.credentialsOf(config, options.env ?? process.env)
    const credentialSource = Layer.succeed(Credentials.Credentials, source)
    const auditContext = auditLive
      ? yield* buildLayer(Layer.provideMerge(auditLive, credentialSource), "the audit store")
      : undefined
    const audit = auditContext && auditOps ? Context.get(auditContext, auditOps.Audit.Audit) : undefined
    const auditEvents = auditContext ? Context.get(auditContext, FlowEvents.FlowEvents) : undefined
    const credentials = Context.make(
      Credentials.Credentials,
      auditContext ? Context.get(auditContext, Credentials.Credentials) : source
    )
    if (audit && auditOps) metrics.registry.collect(() => auditOps.counterLines(audit.counters()))
    // The store's query protocol, for the admin API (remote `jsonflow executions` behind the token).
    const auditStore = auditContext && auditOps ? Context.get(auditContext, auditOps.Store.AuditStore) : undefined
    const auditQuery =
      auditStore && auditOps && auditStore.name !== "none" ? auditOps.Remote.handler(auditStore) : undefined
    const tracing = config.tracing
    const traceSubscriber = tracing
      ? yield* (yield* Effect.promise(() => import("./ops/tracing.ts"))).tracingSubscriber(tracing)
      : undefined
    const events = FlowEvents.layer(
      [
        metricsSubscriber,
        ...(auditEvents ? [auditEvents.emit] : []),
        ...(traceSubscriber ? [traceSubscriber] : []),
        ...(options.subscribers ?? [])
      ],
      { snapshots: config.audit.sink === "none" ? "none" : config.audit.snapshots }
    )
    const credentialsLayer = Layer.succeedContext(credentials)
    const userContext = yield* buildLayer(
      Layer.merge(
        events,
        Layer.provide((options.layers ?? Layer.empty) as Layer.Layer<unknown, unknown, never>, credentialsLayer)
      ),
      "the layers"
    )
    const jsonContext = yield* buildLayer(
      Layer.provide(
        JsonEnvironment.layer({
          ssrfAllow: config.ssrf.allow,
          sandbox: JsonEnvironment.sandboxOptions(config),
          extensions,
          http: connectors === undefined || config.connectors?.http === undefined
        }),
        credentialsLayer
      ),
      "the JSON flow environment"
    )
    const sandbox = Context.get(jsonContext as Context.Context<Sandbox>, Sandbox)
    metrics.registry.collect(() => Metrics.sandboxLines(sandbox.stats()))
    // The audit's credentials win over any a layer provides: a flow must never see an unscrubbed source.
    const contexts = {
      builder: Context.merge(userContext, credentials) as Context.Context<never>,
      json: Context.merge(Context.merge(userContext, jsonContext), credentials) as Context.Context<never>
    }
    // With the `block` policy, an execution waits for room in the audit buffers before it starts.
    const admit = audit && config.audit.buffer.onFull === "block" ? audit.admit : undefined
    const executor = Executor.make(contexts, metrics, logger, admit === undefined ? {} : { admit })
    if (audit) {
      registerFlows = (t) => {
        for (const entry of t.flows.values()) audit.registerFlow(entry.ir)
      }
      registerFlows(table)
    }
    let ready = false
    let draining = false

    // Redis: queues and cron claims.
    const redisConfig = config.redis
    const queueModule: typeof Queue | undefined = redisConfig
      ? yield* Effect.promise(() => import("./triggers/queue.ts"))
      : undefined
    const queues =
      redisConfig && queueModule && options.triggers?.queue !== false
        ? queueModule.make({
            redis: redisConfig,
            queue: config.queue,
            executor,
            table: () => table,
            logger,
            dedupeWindowMs: config.idempotency.windowMs
          })
        : undefined
    if (queues) {
      yield* Effect.addFinalizer(() => Effect.promise(() => queues.close().catch(() => {})))
      yield* Effect.tryPromise({
        try: () => queues.sync(table),
        catch: (error) =>
          new StartError({ reason: `queues: ${error instanceof Error ? error.message : String(error)}` })
      })
      metrics.registry.collect(async () => {
        let text = "# HELP jsonflow_queue_jobs Jobs by queue and state.\n# TYPE jsonflow_queue_jobs gauge\n"
        for (const [name, counts] of Object.entries(await queues.counts())) {
          for (const [state, n] of Object.entries(counts))
            text += `jsonflow_queue_jobs{queue="${name}",state="${state}"} ${n}\n`
        }
        return text
      })
    }
    const redis =
      redisConfig && queueModule && options.triggers?.cron !== false
        ? new (yield* Effect.promise(() => import("ioredis"))).Redis({
            ...queueModule.connectionOf(redisConfig.url),
            lazyConnect: true,
            maxRetriesPerRequest: 3
          })
        : undefined
    if (redis) {
      redis.on("error", () => {}) // reported where a command fails
      yield* Effect.addFinalizer(() =>
        Effect.promise(() =>
          redis.quit().then(
            () => {},
            () => redis.disconnect()
          )
        )
      )
    }
    const redisPrefix = config.redis?.prefix ?? "jsonflow"
    const cronDeps: Cron.CronDeps = {
      fire: (entry, tick) =>
        executor.execute(
          entry,
          { scheduledAt: tick.scheduledAt.toISOString() },
          {
            triggerType: "cron",
            trigger: { ...entry.ir.trigger, scheduledAt: tick.scheduledAt.toISOString() },
            timeoutMs: entry.limits.timeoutMs
          }
        ),
      ...(redis
        ? {
            claim: async (key: string, ttlMs: number) =>
              (await redis.set(`${redisPrefix}:${key}`, String(process.pid), "PX", ttlMs, "NX")) === "OK",
            release: async (key: string) => {
              await redis.del(`${redisPrefix}:${key}`)
            }
          }
        : {}),
      logger,
      metrics
    }
    let cronFibers: Array<Fiber.Fiber<void>> = []
    const restartCron = () => {
      for (const fiber of cronFibers) fiber.interruptUnsafe()
      cronFibers =
        options.triggers?.cron === false || draining
          ? []
          : table.crons.map((entry) => Effect.runFork(Cron.scheduleLoop(entry, cronDeps)))
    }
    restartCron()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const fiber of cronFibers) fiber.interruptUnsafe()
        cronFibers = []
      })
    )

    // Reload: one at a time; a failing flow keeps its previous version.
    let reloading: Promise<ReloadReport> = Promise.resolve({
      flows: 0,
      added: [],
      changed: [],
      removed: [],
      failures: []
    })
    const reloadNow = (): Promise<ReloadReport> => {
      reloading = reloading.then(async () => {
        const before = table
        const { table: next, failures } = await buildTable(before)
        const added = [...next.flows.keys()].filter((id) => !before.flows.has(id))
        const removed = [...before.flows.keys()].filter((id) => !next.flows.has(id))
        const changed = [...next.flows.values()]
          .filter((e) => {
            const old = before.flows.get(e.id)
            return old !== undefined && old !== e && JSON.stringify(old.ir) !== JSON.stringify(e.ir)
          })
          .map((e) => e.id)
        table = next
        if (queues)
          await queues
            .sync(next)
            .catch((error: unknown) => logger.log("error", "queue sync failed", { error: String(error) }))
        restartCron()
        metrics.reloads.inc({ outcome: failures.length > 0 ? "partial" : "ok" })
        for (const f of failures) logger.log("error", "flow failed to load", { ...f })
        if (added.length + removed.length + changed.length > 0) {
          logger.log("info", "flows reloaded", { flows: next.flows.size, added, changed, removed })
        }
        return { flows: next.flows.size, added, changed, removed, failures }
      })
      return reloading
    }
    if (config.flows.watch && config.flows.paths.length > 0) {
      const close = Directory.watch(config.flows.paths, () => void reloadNow())
      yield* Effect.addFinalizer(() => Effect.sync(close))
    }
    if (configDb) {
      const unlisten = yield* Effect.tryPromise({
        try: () => configDb.listen(() => void reloadNow()),
        catch: (error) =>
          new StartError({ reason: `config DB: ${error instanceof Error ? error.message : String(error)}` })
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => unlisten().catch(() => {})))
    }

    // Idempotency keys: on Redis when configured (replicas share them), else in this process.
    const idempotencyLayer =
      config.idempotency.store === "redis" && redisConfig
        ? (yield* Effect.promise(() => import("./idempotency/redis.ts"))).layerRedis(redisConfig)
        : IdempotencyStore.layerMemory
    const idempotencyStore = Context.get(yield* buildLayer(idempotencyLayer, "the idempotency store"), IdempotencyStore)
    if (
      idempotencyStore.name === "memory" &&
      [...table.flows.values()].some((e) => e.ir.trigger.type === "http" && e.ir.trigger.idempotency)
    )
      logger.log("info", "idempotency keys are kept in this process only; set redis.url to share them", {})

    // HTTP
    const gate = gates()
    const enqueueEntry = async (entry: FlowTable.FlowEntry, input: unknown, trigger: unknown, executionId?: string) => {
      if (!queues) throw new Error("enqueueing needs Redis (redis.url)")
      return queues.enqueue(entry, input, trigger, executionId)
    }
    const admin =
      config.admin.token === undefined
        ? undefined
        : makeAdmin({
            token: config.admin.token,
            table: () => table,
            versions: configDb ? (flowId) => configDb.versions(flowId) : undefined,
            trigger: async (flowId, input) => {
              const entry = table.flows.get(flowId)
              if (!entry) return undefined
              const checked = entry.checkInput?.(input)
              if (checked?._tag === "Invalid") {
                return {
                  _tag: "Failed",
                  executionId: "",
                  error: FlowTable.inputInvalidError(flowId, "", checked.issues)
                }
              }
              return executor.execute(entry, checked?._tag === "Valid" ? checked.value : input, {
                triggerType: "manual"
              })
            },
            reload: reloadNow,
            executions: executor.recent,
            queues,
            bodyLimitBytes: config.server.bodyLimitBytes,
            audit: auditQuery
          })
    const handler = makeHandler({
      config,
      table: () => table,
      executor,
      metrics,
      logger,
      clientIp: ClientIp.make(config.server.trustedProxies),
      clientLimiter: RateLimit.make(),
      flowLimiter: RateLimit.make(),
      gate,
      isReady: () => ready,
      isDraining: () => draining,
      admin,
      enqueue: enqueueEntry,
      idempotency: { store: idempotencyStore, config: config.idempotency }
    })

    let url: string | undefined
    let server: Server | undefined
    const mounted = options.server
    if (mounted) {
      // Put the runner in front of the server's own listeners: it answers what is under its prefix.
      const previous = mounted.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>
      const front = (req: IncomingMessage, res: ServerResponse) =>
        handler(req, res, () => {
          for (const listener of previous) listener.call(mounted, req, res)
        })
      mounted.removeAllListeners("request")
      mounted.on("request", front)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          mounted.off("request", front)
          for (const listener of previous) mounted.on("request", listener)
        })
      )
      if (mounted.listening) url = urlOf(mounted, config.server.host)
    } else if (options.triggers?.http !== false) {
      const own = createServer({ keepAliveTimeout: 5_000 }, (req, res) => handler(req, res))
      own.headersTimeout = 20_000
      // The handler enforces the body deadline (408); the flow's time limit applies to the execution.
      own.requestTimeout = 0
      yield* listen(own, config.server.port, config.server.host)
      server = own
      url = urlOf(own, config.server.host)
    }

    // Graceful shutdown: registered last, so it runs first when the scope closes.
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        draining = true
        ready = false
        for (const fiber of cronFibers) fiber.interruptUnsafe()
        cronFibers = []
        const closed = server
          ? new Promise<void>((resolve) => {
              server!.close(() => resolve())
              server!.closeIdleConnections()
            })
          : Promise.resolve()
        const deadline = sleep(config.server.shutdownTimeoutMs).then(() => "timeout" as const)
        const workers = queues ? queues.closeWorkers().catch(() => {}) : Promise.resolve()
        const drained = Promise.all([executor.drained(), workers]).then(() => "drained" as const)
        const inFlight = executor.inFlight()
        if (inFlight > 0) logger.log("info", "draining in-flight executions", { inFlight })
        if ((await Promise.race([drained, deadline])) === "timeout") {
          logger.log("warn", "shutdown deadline reached: interrupting executions", { inFlight: executor.inFlight() })
          executor.interruptAll()
          await Promise.race([executor.drained(), sleep(1_000)])
        }
        // Responses are written; now close the remaining keep-alive connections.
        server?.closeAllConnections()
        await Promise.race([closed, sleep(1_000)])
        logger.log("info", "runner stopped", {})
      })
    )

    ready = true
    logger.log("info", "runner started", {
      url,
      flows: table.flows.size,
      readyMs: Math.round(performance.now() - started)
    })

    const runner: Runner = {
      url,
      config,
      handler,
      flows: () =>
        [...table.flows.values()].map((e) => ({
          id: e.id,
          version: e.version,
          kind: e.kind,
          source: e.source,
          trigger: e.ir.trigger,
          ...(e.ir.input === undefined ? {} : { input: e.ir.input })
        })),
      trigger: (flowId, input, triggerOptions = {}) =>
        Effect.suspend(() => {
          const entry = table.flows.get(flowId)
          if (!entry) return Effect.fail(new FlowNotFound({ flowId }))
          if (draining) return Effect.fail(new Shed({ flowId, reason: "draining" }))
          let value = input
          if (entry.checkInput) {
            const checked = entry.checkInput(input)
            if (checked._tag === "Invalid") {
              return FlowTable.invalidInput(flowId, triggerOptions, checked.issues)
            }
            value = checked.value
          }
          const slot = gate(entry).acquire()
          if (slot === false) return Effect.fail(new Shed({ flowId, reason: "concurrency" }))
          return Effect.promise(async () => {
            try {
              if (slot !== true) await slot
              return await executor.execute(entry, value, {
                triggerType: "manual",
                ...(triggerOptions.timeoutMs === undefined ? {} : { timeoutMs: triggerOptions.timeoutMs }),
                ...(triggerOptions.executionId === undefined ? {} : { executionId: triggerOptions.executionId })
              })
            } finally {
              gate(entry).release()
            }
          }).pipe(
            Effect.flatMap((outcome): Effect.Effect<Compiler.ExecutionResult, TriggerError> => {
              switch (outcome._tag) {
                case "Succeeded":
                  return Effect.succeed(outcome.result)
                case "Failed":
                  return Effect.fail(outcome.error)
                case "TimedOut":
                  return Effect.fail(
                    new FlowError.FlowTimeout({
                      flowId,
                      executionId: outcome.executionId,
                      timeoutMs: outcome.timeoutMs
                    })
                  )
                case "Interrupted":
                  return Effect.interrupt
                default:
                  return Effect.die(new Error(outcome.message))
              }
            })
          )
        }),
      enqueue: (flowId, input) =>
        Effect.suspend((): Effect.Effect<string, FlowNotFound | QueueUnavailable | DedupeKeyMissing> => {
          const entry = table.flows.get(flowId)
          if (!entry) return Effect.fail(new FlowNotFound({ flowId }))
          if (!queues)
            return Effect.fail(new QueueUnavailable({ flowId, reason: "no Redis is configured (redis.url)" }))
          if (entry.queue === undefined) {
            return Effect.fail(
              new QueueUnavailable({
                flowId,
                reason: "the flow consumes no queue (give it a queue trigger, or limits.flows.<id>.enqueue)"
              })
            )
          }
          return Effect.tryPromise({
            try: () => queues.enqueue(entry, input),
            catch: (error) =>
              error instanceof DedupeKeyMissing
                ? error
                : new QueueUnavailable({ flowId, reason: error instanceof Error ? error.message : String(error) })
          })
        }),
      reload: Effect.promise(reloadNow),
      inFlight: executor.inFlight
    }
    return runner
  })

/** A running runner (promise API). */
export interface RunningRunner {
  readonly url: string | undefined
  readonly config: Config.Resolved
  readonly handler: Handler
  readonly flows: () => ReadonlyArray<LoadedFlow>
  /** Runs a flow; rejects with the typed error (`NodeFailed`, `InputInvalid`, `FlowNotFound`, `Shed`, ...). */
  readonly trigger: (
    flowId: string,
    input: unknown,
    options?: { readonly timeoutMs?: number; readonly executionId?: string }
  ) => Promise<Compiler.ExecutionResult>
  readonly enqueue: (flowId: string, input: unknown) => Promise<string>
  readonly reload: () => Promise<ReloadReport>
  readonly inFlight: () => number
  /** Graceful shutdown; resolves when everything is closed. */
  readonly stop: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * Starts a runner and resolves once it is ready; rejects with `ConfigError`, `FlowLoadError` or
 * `StartError`. `stop()` shuts it down gracefully.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { Runner } from "@jsonflow/runner"
 * const server = createServer(app).listen(3000) // your service
 * const runner = await Runner.start({ flows: ["flows"], server, config: { server: { prefix: "/flows" } } })
 * // POST /flows/<route> now runs flows; everything else still goes to `app`
 * ```
 */
export const start = async <R = never>(options: RunnerOptions<R> = {}): Promise<RunningRunner> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.provide(scope)(make(options)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Exit.isFailure(exit) ? squash(exit) : new Error("unreachable")
  }
  const runner = exit.value
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= Effect.runPromise(Scope.close(scope, Exit.void))
    return stopping
  }
  return {
    url: runner.url,
    config: runner.config,
    handler: runner.handler,
    flows: runner.flows,
    trigger: (flowId, input, options) => Effect.runPromise(runner.trigger(flowId, input, options)),
    enqueue: (flowId, input) => Effect.runPromise(runner.enqueue(flowId, input)),
    reload: () => Effect.runPromise(runner.reload),
    inFlight: runner.inFlight,
    stop,
    [Symbol.asyncDispose]: stop
  }
}

const squash = (exit: Exit.Failure<unknown, unknown>): unknown => {
  const reasons = exit.cause.reasons
  for (const reason of reasons) if (reason._tag === "Fail") return reason.error
  for (const reason of reasons) if (reason._tag === "Die") return reason.defect
  return new Error("the runner start was interrupted")
}
