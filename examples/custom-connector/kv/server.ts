/**
 * A tiny KV server: the "third-party service" of this example, used by its tests and by `main.ts`. Plain
 * Node, no Effect: it stands for whatever your connector talks to.
 *
 * @module kv/server
 */
import { createServer, type Socket } from "node:net"
import { request } from "./protocol.ts"

export interface ServerOptions {
  /** Require `AUTH <token>` before any other command. */
  readonly token?: string
  /** Wait `ms` before replying to these commands (to exercise timeouts and cancellation). */
  readonly slow?: { readonly commands: ReadonlyArray<string>; readonly ms: number }
  /** Answer these commands (e.g. `["INCR"]`) with `ERR BUSY`, without applying them. */
  readonly busy?: ReadonlyArray<string>
  /** Answer every command with a line that is not KV. */
  readonly garbage?: boolean
}

export interface KvServer {
  readonly port: number
  /** Connections the client closed while a reply was still pending (cancelled or timed-out calls). */
  readonly abandoned: () => number
  /** Every command received, in order (`AUTH` included). */
  readonly received: ReadonlyArray<string>
  /** The stored data, for assertions. */
  readonly data: Map<string, string>
  readonly close: () => Promise<void>
}

/**
 * Starts a KV server on an ephemeral loopback port.
 *
 * @example
 * ```ts
 * const server = await startServer({ token: "s3cret" })
 * // ... connect to 127.0.0.1:server.port
 * await server.close()
 * ```
 */
export const startServer = (options: ServerOptions = {}): Promise<KvServer> => {
  const data = new Map<string, string>()
  const sockets = new Set<Socket>()
  const received: Array<string> = []
  let abandoned = 0

  const answer = (line: string, session: { authenticated: boolean }): string => {
    const [command = "", key = "", ...rest] = line.split(" ")
    received.push(command)
    if (options.garbage) return "HELLO?\n"
    if (options.busy?.includes(command)) return "ERR BUSY try again later\n"
    if (command === "PING" && (options.token === undefined || session.authenticated)) return "PONG\n"
    if (command === "AUTH") {
      session.authenticated = key === options.token
      return session.authenticated ? "OK\n" : "ERR AUTH invalid token\n"
    }
    if (options.token !== undefined && !session.authenticated) return "ERR AUTH authenticate first\n"
    switch (command) {
      case "GET": {
        const value = data.get(key)
        return value === undefined ? "NOTFOUND\n" : `VALUE ${value}\n`
      }
      case "PUT":
        data.set(key, rest.join(" "))
        return "OK\n"
      case "INCR": {
        const next = Number(data.get(key) ?? "0") + Number(rest[0] ?? "1")
        data.set(key, String(next))
        return request("VALUE", next)
      }
      default:
        return `ERR BAD unknown command ${command}\n`
    }
  }

  const server = createServer((socket) => {
    sockets.add(socket)
    const session = { authenticated: false }
    let pending = 0
    let buffer = ""
    socket.on("close", () => {
      sockets.delete(socket)
      if (pending > 0) abandoned++
    })
    socket.on("error", () => {})
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8")
      for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n")) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 1)
        pending++
        const reply = answer(line, session)
        const delay = options.slow?.commands.includes(line.split(" ")[0] ?? "") ? options.slow.ms : 0
        setTimeout(() => {
          if (socket.destroyed) return
          pending--
          socket.write(reply)
        }, delay)
      }
    })
  })
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({
        port: typeof address === "object" && address !== null ? address.port : 0,
        abandoned: () => abandoned,
        received,
        data,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}
