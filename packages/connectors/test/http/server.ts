/**
 * A loopback HTTP server for the HTTP connector tests: routes by path, records every request it receives,
 * and counts the sockets it sees open and close (to prove that cancellation really drops a connection and
 * that nothing leaks).
 *
 * @module server
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Effect } from "effect"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

export type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void

export interface TestServer {
  readonly url: string
  readonly origin: string
  readonly received: Array<Received>
  /** Sockets currently open on the server side. */
  readonly openSockets: () => number
  /** Sockets the server saw close so far. */
  readonly closedSockets: () => number
  /** Resolves when the next socket closes. */
  readonly nextSocketClose: () => Promise<void>
  readonly server: Server
}

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

/** Starts a server on an ephemeral 127.0.0.1 port for the current scope. */
export const testServer = (routes: Readonly<Record<string, Handler>>) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<TestServer> => {
      const received: Array<Received> = []
      const sockets = new Set<Socket>()
      let closed = 0
      let waiters: Array<() => void> = []
      const server = createServer((request, response) => {
        readBody(request).then(
          (body) => {
            const path = request.url ?? "/"
            received.push({ method: request.method ?? "", path, headers: request.headers, body })
            const route = routes[path.split("?")[0]!] ?? routes["*"]
            if (route) route(request, response, body)
            else response.writeHead(404).end("no route")
          },
          () => response.destroy()
        )
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => {
          sockets.delete(socket)
          closed++
          const pending = waiters
          waiters = []
          for (const wake of pending) wake()
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      return {
        url: `${origin}/`,
        origin,
        received,
        openSockets: () => sockets.size,
        closedSockets: () => closed,
        nextSocketClose: () => new Promise<void>((resolve) => waiters.push(resolve)),
        server
      }
    }),
    ({ server }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          })
      )
  )

/** Replies with a JSON body. */
export const json =
  (status: number, value: unknown, headers: Record<string, string> = {}): Handler =>
  (_request, response) => {
    response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value))
  }

/** Never replies (until the client gives up). */
export const hang: Handler = () => {}
