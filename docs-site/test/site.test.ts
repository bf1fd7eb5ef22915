/**
 * The built site in a real browser: Debian's Chromium, driven by playwright-core, opens every page of
 * docs-site/.vitepress/dist served on a loopback port and checks that
 *
 * - the page logs no console error and throws no uncaught exception;
 * - it renders its main heading (a visible, non-empty `h1`);
 * - every Mermaid diagram on it renders to an SVG;
 * - every link within the site answers 200, and a link to `#anchor` finds that id on the target page.
 *
 * Without a built site (`npm run docs:build`) or without Chromium the test is skipped with the reason
 * locally, and fails under CI=true.
 */
import { existsSync, readdirSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileFor, type StaticServer, serve } from "./server.ts"

const dist = fileURLToPath(new URL("../.vitepress/dist/", import.meta.url))
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const missing = !existsSync(resolve(dist, "index.html"))
  ? `no built site at ${dist}: run \`npm run docs:build\``
  : !existsSync(executablePath)
    ? `no Chromium at ${executablePath}: \`apt-get install chromium\` (or set CHROMIUM_PATH)`
    : undefined
const inCi = process.env.CI === "true"
if (missing !== undefined && !inCi) console.warn(`docs-site browser test skipped: ${missing}`)

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** Every HTML page of the build, as URL paths (`/`, `/guide/getting-started.html`). */
const pagesOf = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".html") && f !== "404.html")
    .map((f) => `/${relative(dir, resolve(dir, f)).replace(/\\/g, "/")}`.replace(/(^|\/)index\.html$/, "$1"))
    .sort()

interface PageReport {
  readonly path: string
  readonly problems: ReadonlyArray<string>
  readonly links: ReadonlyArray<string>
}

const checkPage = async (page: Page, origin: string, path: string): Promise<PageReport> => {
  const problems: Array<string> = []
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`)
  }
  const onError = (error: Error) => problems.push(`uncaught: ${error.message}`)
  page.on("console", onConsole)
  page.on("pageerror", onError)
  try {
    const response = await page.goto(`${origin}${path}`, { waitUntil: "load" })
    if (response?.status() !== 200) problems.push(`status ${response?.status()}`)
    const heading = page.locator("h1").first()
    if (
      (await heading.count()) === 0 ||
      !(await heading.isVisible()) ||
      ((await heading.textContent()) ?? "").trim() === ""
    ) {
      problems.push("no visible main heading (h1)")
    }
    const diagrams = await page.locator(".mermaid-diagram").count()
    if (diagrams > 0) {
      try {
        await page.waitForFunction(
          (n) => document.querySelectorAll(".mermaid-diagram[data-rendered] svg").length >= n,
          diagrams,
          { timeout: 20_000 }
        )
      } catch {
        const rendered = await page.locator(".mermaid-diagram[data-rendered] svg").count()
        problems.push(`${rendered} of ${diagrams} Mermaid diagram(s) rendered to SVG`)
      }
    }
    const links = await page.$$eval("a[href]", (anchors) => anchors.map((a) => (a as HTMLAnchorElement).href))
    // Let late errors (hydration, diagrams) surface before leaving the page.
    await page.waitForTimeout(50)
    return { path, problems, links: links.filter((href) => href.startsWith(`${origin}/`)) }
  } finally {
    page.off("console", onConsole)
    page.off("pageerror", onError)
  }
}

/** Whether `hash` (without `#`) is an element id in the HTML of `file`. */
const hasAnchor = (html: string, hash: string): boolean => {
  const id = decodeURIComponent(hash)
  return html.includes(`id="${id}"`) || html.includes(`id="${id.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}"`)
}

describe.runIf(missing === undefined || inCi)("docs site in Chromium", () => {
  let server: StaticServer
  let browser: Browser

  beforeAll(async () => {
    if (missing !== undefined) return
    server = await serve(dist)
    browser = await chromium.launch({ executablePath, args: ARGS })
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it("every page renders without errors, diagrams render, internal links resolve", { timeout: 240_000 }, async () => {
    if (missing !== undefined) throw new Error(`docs-site browser test cannot run under CI=true: ${missing}`)
    const paths = pagesOf(dist)
    expect(paths.length).toBeGreaterThan(10)
    const queue = [...paths]
    const reports: Array<PageReport> = []
    const context = await browser.newContext()
    // Two tabs at a time: the machine has two cores.
    await Promise.all(
      [1, 2].map(async () => {
        const page = await context.newPage()
        for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
          reports.push(await checkPage(page, server.origin, path))
        }
        await page.close()
      })
    )
    await context.close()

    const failures = reports.flatMap((r) => r.problems.map((p) => `${r.path}: ${p}`))
    const htmlCache = new Map<string, Promise<string | undefined>>()
    const htmlOf = (urlPath: string) => {
      let html = htmlCache.get(urlPath)
      if (html === undefined) {
        const file = fileFor(dist, urlPath)
        html = file === undefined ? Promise.resolve(undefined) : readFile(file, "utf8")
        htmlCache.set(urlPath, html)
      }
      return html
    }
    const links = new Map<string, string>()
    for (const r of reports) for (const href of r.links) if (!links.has(href)) links.set(href, r.path)
    for (const [href, from] of links) {
      const url = new URL(href)
      const response = await fetch(`${server.origin}${url.pathname}`, { method: "HEAD" })
      if (response.status !== 200) {
        failures.push(`${from}: link ${url.pathname} answers ${response.status}`)
        continue
      }
      const hash = url.hash.slice(1)
      if (hash !== "" && (url.pathname.endsWith(".html") || url.pathname.endsWith("/"))) {
        const html = await htmlOf(url.pathname)
        if (html !== undefined && !hasAnchor(html, hash))
          failures.push(`${from}: link ${url.pathname}#${hash} has no such anchor`)
      }
    }
    console.log(
      `docs-site: ${reports.length} pages, ${reports.reduce((n, r) => n + r.links.length, 0)} links (${links.size} distinct) checked in Chromium`
    )
    expect(failures, failures.join("\n")).toEqual([])
  })
})

if (missing !== undefined && !inCi) {
  describe("docs site in Chromium", () => {
    it.skip(`skipped: ${missing}`, () => {})
  })
}
