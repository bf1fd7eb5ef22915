// A small HTTP server standing in for the CRM: it listens on a free loopback port, records every request
// it receives (body parsed as JSON) and answers 201 with how many contacts it got.
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** One request the receiver got. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  readonly body: unknown
}

export interface Receiver {
  /** The contacts endpoint, e.g. `http://127.0.0.1:40123/api/contacts`. */
  readonly url: string
  /** The requests received since the last call, oldest first. */
  readonly take: () => ReadonlyArray<Received>
  readonly close: () => Promise<void>
}

const parse = (text: string, headers: IncomingHttpHeaders): unknown => {
  if (!headers["content-type"]?.startsWith("application/json")) return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Starts the receiver on 127.0.0.1 and an ephemeral port. */
export const startReceiver = async (): Promise<Receiver> => {
  let received: Array<Received> = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = parse(Buffer.concat(chunks).toString("utf8"), request.headers)
      received.push({
        method: request.method ?? "",
        path: request.url ?? "/",
        contentType: request.headers["content-type"],
        body
      })
      const count = Array.isArray(body) ? body.length : 1
      response.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ accepted: count }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/api/contacts`,
    take: () => {
      const taken = received
      received = []
      return taken
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
