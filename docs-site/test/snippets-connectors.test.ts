// The connector examples the guides include (docs-site/snippets/connectors-*) load without a problem
// against the connectors' node types, and run against real servers: PostgreSQL and Redis (skipped with
// the reason when absent, failing under CI=true), and loopback HTTP, SOAP, gRPC and SMTP servers started here.
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readdirSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { type ConnectorsConfig, environment, Grpc, Http, Mail, Redis, Soap, Sql } from "@jsonflow/connectors"
import { Builtins, Compiler, Credentials, type Ir, Registry } from "@jsonflow/core"
import { Load } from "@jsonflow/json-dsl"
import { Effect, Exit, Layer } from "effect"
import postgres from "postgres"
import { SMTPServer } from "smtp-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { protoFile, SERVICE, startMeterServer } from "../../examples/grpc-to-postgres/meter-server.ts"
import { startCrm } from "../../examples/soap-to-rest/crm-service.ts"
import * as Services from "../../packages/connectors/test/services.ts"

const snippets = fileURLToPath(new URL("../snippets/", import.meta.url))
const flowFiles = readdirSync(snippets).filter((f) => f.startsWith("connectors-") && f.endsWith(".flow.json"))

/** Every connector's node types and the built-ins: what a runner with every section configured knows. */
const connectorRegistries: ReadonlyArray<Registry.Registry<unknown>> = [
  Http.registry,
  Sql.registry,
  Soap.registry,
  Grpc.registry,
  Redis.registry,
  Mail.registry
]
const everything = connectorRegistries.reduce((r, c) => Registry.merge(r, c), Builtins.registry)

const load = async (file: string, registry: Registry.Registry<unknown> = everything): Promise<Ir.Flow> => {
  const loaded = Load.load(await readFile(`${snippets}${file}`, "utf8"), registry)
  if (loaded._tag === "Failed") throw new Error(loaded.problems.map((p) => `${file}${p.path}: ${p.message}`).join("\n"))
  return loaded.flow
}

/** Loads `file` against the node types of `settings`, compiles it and runs it with their layer. */
const runJson = async (
  file: string,
  settings: ConnectorsConfig,
  input: unknown,
  options: {
    readonly patch?: (flow: Ir.Flow) => Ir.Flow
    readonly credentials?: Readonly<Record<string, Readonly<Record<string, string>>>>
  } = {}
): Promise<Exit.Exit<{ readonly output: unknown }, unknown>> => {
  const connectors = environment(settings)
  const registry = Registry.merge(Builtins.registry, connectors.registry)
  const flow = (options.patch ?? ((f) => f))(await load(file, registry))
  // Credentials are read when the layer opens its clients, and per request (HTTP `auth`) while the flow runs.
  const layer = Layer.provideMerge(connectors.layer, Credentials.layerRecord(options.credentials ?? {}))
  const program = Effect.gen(function* () {
    const compiled = yield* Compiler.compile(flow, registry)
    return yield* (compiled as Compiler.CompiledFlow<never>).run(input)
  })
  return Effect.runPromiseExit(program.pipe(Effect.provide(layer)))
}

const outputOf = (exit: Exit.Exit<{ readonly output: unknown }, unknown>): unknown => {
  if (Exit.isFailure(exit)) throw new Error(`the flow failed: ${String(exit.cause)}`)
  return exit.value.output
}

/** The error a failed run ended with: `NodeFailed`, the node's own error (`inner`) and its `code`, if any. */
const failureOf = (
  exit: Exit.Exit<unknown, unknown>
): { readonly tag: string; readonly inner?: string; readonly code?: string } => {
  if (Exit.isSuccess(exit)) throw new Error("expected the flow to fail")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as
    | {
        readonly _tag: string
        readonly error?: { readonly _tag?: string }
        readonly cause?: { readonly code?: unknown }
      }
    | undefined
  const code = error?.cause?.code
  return {
    tag: error?._tag ?? "(none)",
    ...(error?.error?._tag === undefined ? {} : { inner: error.error._tag }),
    ...(typeof code === "string" ? { code } : {})
  }
}

const withNodeConfig = (node: string, patch: Readonly<Record<string, unknown>>) => (flow: Ir.Flow) => {
  const spec = flow.nodes[node]
  if (spec === undefined) throw new Error(`no node ${node}`)
  return { ...flow, nodes: { ...flow.nodes, [node]: { ...spec, config: { ...(spec.config as object), ...patch } } } }
}

describe("connector snippets", () => {
  it("there is a JSON flow for every connector", () => {
    expect(flowFiles.toSorted()).toEqual(
      expect.arrayContaining([
        "connectors-grpc.flow.json",
        "connectors-http.flow.json",
        "connectors-http-request.flow.json",
        "connectors-mail.flow.json",
        "connectors-redis.flow.json",
        "connectors-soap.flow.json",
        "connectors-sql.flow.json"
      ])
    )
  })

  it.each(flowFiles)("%s loads without problems and compiles against the connectors' node types", async (file) => {
    const loaded = Load.load(await readFile(`${snippets}${file}`, "utf8"), everything)
    expect(loaded._tag === "Failed" ? loaded.problems : loaded.warnings).toEqual([])
    const flow = await load(file)
    const compiled = await Effect.runPromiseExit(Compiler.compile(flow, everything))
    expect(Exit.isSuccess(compiled)).toBe(true)
  })

  it("an unknown config key is a problem at its JSON Pointer (the loader checks connector configs)", async () => {
    const text = (await readFile(`${snippets}connectors-http.flow.json`, "utf8")).replace(
      '"nonOk": "port"',
      '"nonOk": "port", "password": "x"'
    )
    const loaded = Load.load(text, everything)
    expect(loaded._tag).toBe("Failed")
    if (loaded._tag === "Failed") expect(loaded.problems.map((p) => p.path)).toContain("/nodes/post/config/password")
  })
})

describe("http.request JSON flows on a loopback server", () => {
  interface Received {
    readonly method: string | undefined
    readonly url: string | undefined
    readonly authorization: string | undefined
    readonly apiKey: string | undefined
    readonly body: unknown
  }
  const received: Array<Received> = []
  /** The statuses of the next answers (201 once they are used up). */
  const statuses: Array<number> = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      received.push({
        method: request.method,
        url: request.url,
        authorization: request.headers.authorization,
        apiKey: request.headers["x-api-key"] as string | undefined,
        body: text === "" ? undefined : JSON.parse(text)
      })
      const status = statuses.shift() ?? 201
      response.writeHead(status, {
        "content-type": "application/json",
        ...(status === 503 ? { "retry-after": "0" } : {})
      })
      response.end(JSON.stringify(status < 300 ? { id: "c-1", name: "Ada" } : { error: "no" }))
    })
  })
  let origin = ""
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const contact = { name: "Ada", email: "ada@example.com" }
  const credentials = { crm: { token: "t0ken" }, "crm-key": { value: "k3y" } }
  const allowLoopback = { http: { ssrfGuard: { allow: ["127.0.0.1/32"] } } }

  it("connectors-http.flow.json POSTs the input with the bearer credential; nonOk fails with the flow's code", async () => {
    const patch = withNodeConfig("post", { url: `${origin}/api/contacts` })
    const created = await runJson("connectors-http.flow.json", allowLoopback, contact, { patch, credentials })
    expect(outputOf(created)).toEqual({ id: "c-1", status: 201 })
    expect(received.at(-1)).toMatchObject({ method: "POST", authorization: "Bearer t0ken", body: contact })

    statuses.push(409)
    const refused = await runJson("connectors-http.flow.json", allowLoopback, contact, { patch, credentials })
    expect(failureOf(refused)).toEqual({ tag: "NodeFailed", inner: "FlowFailure", code: "CRM_REFUSED" })
  })

  it("connectors-http-request.flow.json fills {id} and the query, and its connector retry waits out a 503", async () => {
    const patch = withNodeConfig("lookup", { url: `${origin}/api/contacts/{id}` })
    const before = received.length
    statuses.push(503, 200)
    const found = await runJson(
      "connectors-http-request.flow.json",
      allowLoopback,
      { id: "c-1" },
      { patch, credentials }
    )
    expect(outputOf(found)).toMatchObject({ status: 200, body: { id: "c-1", name: "Ada" } })
    const calls = received.slice(before)
    expect(calls).toHaveLength(2)
    expect(calls[1]).toMatchObject({ method: "GET", url: "/api/contacts/c-1?fields=name%2Cemail", apiKey: "k3y" })
  })

  it("in environment() the SSRF guard refuses the loopback target unless it is allowed", async () => {
    const before = received.length
    const denied = await runJson("connectors-http.flow.json", { http: {} }, contact, {
      patch: withNodeConfig("post", { url: `${origin}/api/contacts` }),
      credentials
    })
    expect(failureOf(denied).inner).toBe("HttpTargetDenied")
    expect(received.length).toBe(before)
  })
})

describe("soap.call JSON flow on the soap-to-rest example's CRM", () => {
  it("maps a customer, and turns a SOAP fault on the error port into data", async () => {
    const crm = await startCrm()
    try {
      const settings = { soap: { clients: { crm: { wsdl: `${crm.endpoint}?wsdl`, endpoint: crm.endpoint } } } }
      expect(outputOf(await runJson("connectors-soap.flow.json", settings, { id: "C-1" }))).toEqual({
        found: true,
        name: "Ada Lovelace",
        tier: "GOLD"
      })
      expect(outputOf(await runJson("connectors-soap.flow.json", settings, { id: "C-9" }))).toMatchObject({
        found: false,
        error: "SoapFault",
        faultCode: "soap:Client",
        reason: "no customer C-9"
      })
    } finally {
      await crm.close()
    }
  })
})

describe("mail.send JSON flow on a loopback SMTP server", () => {
  it("sends the mapped message with the config's sender and subject", async () => {
    const got: Array<{ readonly from: string; readonly to: ReadonlyArray<string>; readonly raw: string }> = []
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Array<Buffer> = []
        stream.on("data", (chunk: Buffer) => chunks.push(chunk))
        stream.on("end", () => {
          got.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("latin1")
          })
          callback(null)
        })
      }
    })
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve))
    try {
      const port = (smtp.server.address() as AddressInfo).port
      const output = outputOf(
        await runJson(
          "connectors-mail.flow.json",
          { mail: { host: "127.0.0.1", port, ignoreTLS: true } },
          {
            customer: { email: "ada@example.com" },
            note: "We received your order 42.",
            files: [{ filename: "order-42.csv", content: "id,total\n42,99.50\n" }]
          }
        )
      )
      expect(output).toMatchObject({ accepted: ["ada@example.com"], rejected: [] })
      expect(got).toHaveLength(1)
      expect(got[0]?.from).toBe("flows@example.com")
      expect(got[0]?.to).toEqual(["ada@example.com"])
      expect(got[0]?.raw).toContain("Subject: Order received")
      expect(got[0]?.raw).toContain("filename=order-42.csv")
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()))
    }
  })
})

const pg = await Services.postgres()
const redis = await Services.redis()

Services.describeWith(pg, "sql.* JSON flows on PostgreSQL", () => {
  const schema = `jf_docs_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const admin = postgres(Services.postgresUrl, { max: 1, onnotice: () => {} })
  const settings = { sql: { url: Services.postgresUrl, searchPath: schema, max: 3, applicationName: "jsonflow-docs" } }
  beforeAll(async () => {
    await admin.unsafe(`create schema ${schema}`)
    await admin.unsafe(
      `create table ${schema}.orders (id int primary key, customer text not null, amount numeric not null, status text not null)`
    )
    await admin.unsafe(`create table ${schema}.order_copies (id int primary key, customer text not null)`)
    await admin.unsafe(
      `insert into ${schema}.orders values (1, 'Ada', 250, 'paid'), (2, 'Bob', 40, 'paid'), (3, 'Cy', 900, 'open'), (4, 'Di', 120, 'paid'), (5, 'Ed', 300, 'paid')`
    )
  })
  afterAll(async () => {
    await admin.unsafe(`drop schema if exists ${schema} cascade`)
    await admin.end()
  })

  it("connectors-sql.flow.json reads the paid orders and marks them in one transaction", async () => {
    const output = outputOf(await runJson("connectors-sql.flow.json", settings, { min: 100 }))
    expect(output).toEqual([
      { rows: [], count: 1 },
      { rows: [], count: 1 },
      { rows: [], count: 1 }
    ])
    const rows = await admin.unsafe(`select id, status from ${schema}.orders order by id`)
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      [1, "exported"],
      [2, "paid"],
      [3, "open"],
      [4, "exported"],
      [5, "exported"]
    ])
    // A second run finds nothing left to export.
    expect(outputOf(await runJson("connectors-sql.flow.json", settings, { min: 100 }))).toEqual([])
  })

  it("connectors-sql-stream.flow.json copies every row through a cursor, in batches of 2", async () => {
    const output = outputOf(await runJson("connectors-sql-stream.flow.json", settings, undefined))
    expect(output).toEqual({ rows: 5, batches: 3 })
    const copies = await admin.unsafe(`select id, customer from ${schema}.order_copies order by id`)
    expect(copies.map((r) => r.customer)).toEqual(["Ada", "Bob", "Cy", "Di", "Ed"])
  })

  it("connectors-sql-stream.flow.json with a pool too small for its body fails with SqlPoolTooSmall", async () => {
    const small = { sql: { ...settings.sql, max: 1 } }
    expect(failureOf(await runJson("connectors-sql-stream.flow.json", small, undefined)).inner).toBe("SqlPoolTooSmall")
  })

  it("connectors-grpc.flow.json stores the streamed readings (the grpc-to-postgres example, in JSON)", async () => {
    await admin.unsafe(
      `create table ${schema}.readings (meter_id text not null, seq int not null, kwh double precision not null, taken_ms bigint not null, primary key (meter_id, seq))`
    )
    const meters = await startMeterServer()
    try {
      const both: ConnectorsConfig = {
        ...settings,
        grpc: { clients: { meters: { address: meters.address, protoFiles: [protoFile], service: SERVICE } } }
      }
      const output = outputOf(await runJson("connectors-grpc.flow.json", both, { meter_id: "m-1", count: 12 }))
      expect(output).toHaveLength(12)
      const rows = await admin.unsafe(
        `select meter_id, seq, kwh, taken_ms::text as taken_ms from ${schema}.readings order by seq`
      )
      expect(rows.map((r) => ({ ...r }))).toEqual(meters.sent())
      // Run again: `on conflict do nothing` stores nothing twice.
      await runJson("connectors-grpc.flow.json", both, { meter_id: "m-1", count: 12 })
      expect((await admin.unsafe(`select count(*)::int as n from ${schema}.readings`))[0]?.n).toBe(12)
    } finally {
      await meters.close()
    }
  })
})

Services.describeWith(redis, "redis.* JSON flow on Redis", () => {
  const prefix = `jf-docs-${randomUUID().slice(0, 8)}:`
  const url = new URL(Services.redisUrl)
  const host = url.hostname
  const port = Number(url.port || 6379)
  afterAll(async () => {
    await Effect.runPromise(
      Redis.RedisClient.use((client) => client.command("del", [`${prefix}order:42`, `${prefix}order-events`])).pipe(
        Effect.provide(Redis.layer({ host, port })),
        Effect.ignore
      )
    )
  })

  it("connectors-environment.ts runs connectors-redis.flow.json from the settings", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [`${snippets}connectors-environment.ts`], {
      env: { ...process.env, REDIS_HOST: host, REDIS_PORT: String(port), KEY_PREFIX: prefix },
      timeout: 20_000
    })
    expect(stdout.trim()).toBe('{"found":true,"value":{"total":99.5}}')
    const entries = await Effect.runPromise(
      Redis.RedisClient.use((client) => client.command("xrange", [`${prefix}order-events`, "-", "+"])).pipe(
        Effect.provide(Redis.layer({ host, port }))
      )
    )
    expect(entries).toEqual([[expect.any(String), ["key", "order:42"]]])
  })
})
