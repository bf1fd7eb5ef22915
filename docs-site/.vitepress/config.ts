import { existsSync, readFileSync } from "node:fs"
import { defineConfig } from "vitepress"

/** Sidebar entries of the generated pages (API modules, references), written by scripts/generate.ts. */
interface GeneratedSidebar {
  readonly api: ReadonlyArray<{
    readonly text: string
    readonly collapsed: boolean
    readonly items: ReadonlyArray<{ readonly text: string; readonly link: string }>
  }>
  readonly reference: ReadonlyArray<{ readonly text: string; readonly link: string }>
}

const sidebarFile = new URL("../.generated/sidebar.generated.json", import.meta.url)
const generated: GeneratedSidebar = existsSync(sidebarFile)
  ? (JSON.parse(readFileSync(sidebarFile, "utf8")) as GeneratedSidebar)
  : { api: [], reference: [] }

const guide = [
  {
    text: "Start here",
    items: [
      { text: "Getting started", link: "/guide/getting-started" },
      { text: "Example flows", link: "/guide/examples" }
    ]
  },
  {
    text: "Concepts",
    items: [
      { text: "The flow IR", link: "/concepts/ir" },
      { text: "Node definitions and ports", link: "/concepts/nodes" },
      { text: "How the engine runs a flow", link: "/concepts/engine" },
      { text: "Services and layers", link: "/concepts/services" },
      { text: "Expressions", link: "/concepts/expressions" }
    ]
  },
  {
    text: "Guides",
    items: [
      { text: "The builder", link: "/guides/builder" },
      { text: "JSON flows (DSL)", link: "/guides/json-dsl" },
      { text: "Testing flows", link: "/guides/testing" },
      { text: "Embedding in a service", link: "/guides/embedding" },
      { text: "The sandbox", link: "/guides/sandbox" },
      { text: "Audit", link: "/guides/audit" },
      { text: "Replay", link: "/guides/replay" },
      { text: "The runner", link: "/guides/runner" },
      { text: "Idempotent triggers", link: "/guides/idempotency" },
      { text: "Migrating from nFlow", link: "/guides/nflow" },
      { text: "Writing a connector", link: "/guides/writing-a-connector" }
    ]
  },
  {
    text: "Connectors",
    collapsed: false,
    items: [
      { text: "Overview", link: "/guides/connectors/" },
      { text: "HTTP", link: "/guides/connectors/http" },
      { text: "PostgreSQL", link: "/guides/connectors/sql" },
      { text: "SOAP", link: "/guides/connectors/soap" },
      { text: "gRPC", link: "/guides/connectors/grpc" },
      { text: "Redis", link: "/guides/connectors/redis" },
      { text: "Mail", link: "/guides/connectors/mail" }
    ]
  },
  { text: "Reference", items: [...generated.reference] }
]

const api = [
  { text: "API reference", items: [{ text: "Overview", link: "/api/" }] },
  ...generated.api.map((group) => ({ text: group.text, collapsed: group.collapsed, items: [...group.items] }))
]

export default defineConfig({
  title: "JSON-Flow",
  description: "Typed integration flows for TypeScript, on Effect: a builder, a JSON format, an engine, connectors.",
  lang: "en",
  cleanUrls: false,
  lastUpdated: false,
  srcExclude: ["**/README.md", "test/**", "scripts/**", "snippets/**"],
  head: [["link", { rel: "icon", href: "/logo.svg", type: "image/svg+xml" }]],
  markdown: {
    // ```mermaid fences become a component that renders the diagram in the browser.
    config: (md) => {
      const fence = md.renderer.rules.fence!
      md.renderer.rules.fence = (tokens, index, options, env, self) => {
        const token = tokens[index]!
        if (token.info.trim() !== "mermaid") return fence(tokens, index, options, env, self)
        return `<MermaidDiagram source="${encodeURIComponent(token.content)}" />\n`
      }
    }
  },
  themeConfig: {
    logo: "/logo.svg",
    nav: [
      { text: "Guide", link: "/guide/getting-started", activeMatch: "^/(guide|concepts|guides)/" },
      { text: "Reference", link: "/reference/node-catalog", activeMatch: "^/reference/" },
      { text: "API", link: "/api/", activeMatch: "^/api/" }
    ],
    sidebar: {
      "/api/": api,
      "/": guide
    },
    outline: { level: [2, 3] },
    search: { provider: "local" },
    footer: { message: "Apache-2.0. Generated pages are built from the code at every build." }
  },
  vite: {
    // Mermaid is loaded on demand and is large; its chunks are expected.
    build: { chunkSizeWarningLimit: 4096 }
  }
})
