/**
 * A TCP proxy the test controls: `cut()` closes the listener and every connection (the database looks
 * down: connections reset, new ones refused), `restore()` listens again on the same port.
 *
 * @module proxy
 */
import { connect, createServer, type Socket } from "node:net"

export interface Proxy {
  readonly port: number
  readonly cut: () => Promise<void>
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const start = async (targetPort: number, targetHost = "127.0.0.1"): Promise<Proxy> => {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
      s.on("error", () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject)
        resolve((server.address() as { port: number }).port)
      })
    })
  const port = await listen(0)
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const s of sockets) s.destroy()
    await closed
  }
  return {
    port,
    cut,
    restore: async () => {
      await listen(port)
    },
    close: async () => {
      if (server.listening) await cut()
    }
  }
}
