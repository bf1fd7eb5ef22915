/**
 * The upstream of the example: the `Meters` service of `meters.proto` on a free loopback port, streaming
 * readings computed from their sequence number. It remembers what it sent, so a test can compare.
 *
 * @module meter-server
 */
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"

/** The `.proto` of the service (the client loads the same file). */
export const protoFile = fileURLToPath(new URL("./meters.proto", import.meta.url))
export const SERVICE = "meters.v1.Meters"

/** A reading as the client sees it: int64 fields arrive as decimal strings. */
export interface Reading {
  readonly meter_id: string
  readonly seq: number
  readonly kwh: number
  readonly taken_ms: string
}

/** The running service. */
export interface MeterServer {
  /** `host:port` for the gRPC client. */
  readonly address: string
  /** Every reading written to a stream so far. */
  readonly sent: () => ReadonlyArray<Reading>
  readonly close: () => Promise<void>
}

const START_MS = Date.UTC(2026, 0, 1)

/** The reading `seq` of a meter: a quarter-hourly series. */
export const readingOf = (meterId: string, seq: number): Reading => ({
  meter_id: meterId,
  seq,
  kwh: Math.round((0.4 + (seq % 8) * 0.125) * 1000) / 1000,
  taken_ms: String(START_MS + seq * 15 * 60_000)
})

/**
 * Starts the service.
 *
 * @example
 * ```ts
 * const meters = await startMeterServer()
 * // Grpc.layer({ clients: { meters: { address: meters.address, protoFiles: [protoFile], service: SERVICE } } })
 * await meters.close()
 * ```
 */
export const startMeterServer = (): Promise<MeterServer> => {
  const definition = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, defaults: true })
  const sent: Array<Reading> = []
  const server = new grpc.Server()
  server.addService(definition[SERVICE] as protoLoader.ServiceDefinition, {
    StreamReadings: (call: grpc.ServerWritableStream<Record<string, unknown>, Reading>) => {
      const meterId = String(call.request.meter_id)
      const count = Number(call.request.count)
      const failAfter = Number(call.request.fail_after)
      let seq = 0
      // One message per turn of the event loop, honouring back-pressure and cancellation.
      const next = () => {
        if (call.cancelled) return
        if (failAfter > 0 && seq === failAfter) {
          // grpc-js turns an "error" event of a server stream into the call's final status.
          call.emit("error", { code: grpc.status.UNAVAILABLE, details: "meter gateway lost" })
          return
        }
        if (seq === count) return call.end()
        const reading = readingOf(meterId, ++seq)
        sent.push(reading)
        if (call.write(reading)) setImmediate(next)
        else call.once("drain", next)
      }
      next()
    }
  })
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) return reject(error)
      resolve({
        address: `127.0.0.1:${port}`,
        sent: () => [...sent],
        close: () =>
          new Promise<void>((done) => {
            server.tryShutdown(() => done())
          })
      })
    })
  })
}
