/**
 * A small static file server for the built site, on an ephemeral loopback port: what a static host does
 * (directory -> index.html, 404.html for the rest), with the MIME types module scripts need.
 */
import { createReadStream, existsSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { extname, join, normalize, resolve } from "node:path"

const MIME: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}

/** The file a URL path names, or `undefined`. Never leaves `root`. */
export const fileFor = (root: string, urlPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0]!.split("#")[0]!)
  } catch {
    return undefined
  }
  const path = resolve(root, `.${normalize(`/${decoded}`)}`)
  if (!path.startsWith(resolve(root))) return undefined
  for (const candidate of [path, join(path, "index.html"), `${path}.html`]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  }
  return undefined
}

export interface StaticServer {
  readonly origin: string
  readonly close: () => Promise<void>
}

export const serve = async (root: string): Promise<StaticServer> => {
  const server: Server = createServer((request, response) => {
    const file = fileFor(root, request.url ?? "/")
    const status = file === undefined ? 404 : 200
    const body = file ?? fileFor(root, "/404.html")
    if (body === undefined) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(status, { "content-type": MIME[extname(body)] ?? "application/octet-stream" })
    if (request.method === "HEAD") response.end()
    else createReadStream(body).pipe(response)
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => done())
      })
  }
}
