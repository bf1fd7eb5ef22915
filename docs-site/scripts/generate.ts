/**
 * Generates the parts of the docs site that come from the code, before `vitepress build`:
 *
 * - `api/**`: the API reference, from the doc comments of every package's public modules;
 * - `reference/node-catalog.md`: `Registry.catalog` of the built-ins and of every node definition the
 *   packages export at build time;
 * - `reference/json-schema.md` (+ the schema file itself): the published JSON Schema of the JSON DSL;
 * - `reference/runner-config.md` and `reference/cli.md`: from the runner's config Schema and `jsonflow help`;
 * - `.generated/**`: fragments the hand-written pages include: Mermaid diagrams of real flows, the
 *   quickstart's real output, its IR and canonical JSON, package READMEs (or their module docs until they
 *   land), the node types of each connector;
 * - `.generated/sidebar.generated.json`: the sidebar entries of the generated pages.
 *
 * A package or export that is missing is skipped with a note on the page; nothing here fails because
 * another package has not landed yet.
 *
 * @module generate
 */
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Worker } from "node:worker_threads"
import { Builtins, type Ir, type Node, Registry } from "@jsonflow/core"
import { type Module, pageOf, renderModule } from "./lib/api.ts"
import { type Entry, nodeAnchor, renderEntry } from "./lib/catalog.ts"
import { defAnchor, defsOf, type JsonSchema, rowsOf, table } from "./lib/jsonSchema.ts"
import { cell, code, escapeMarkdown, fence, frontMatter, generatedNote, slug } from "./lib/markdown.ts"
import { toMermaid as fallbackMermaid } from "./lib/mermaid.ts"
import { definitionsIn, pick, subpathsOf, tryImport } from "./lib/probe.ts"
import { type PageMap, readmeFragment } from "./lib/readme.ts"

const site = fileURLToPath(new URL("../", import.meta.url))
const repo = resolve(site, "..")
const generated = resolve(site, ".generated")
const started = performance.now()

const write = (path: string, content: string) => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content.endsWith("\n") ? content : `${content}\n`)
}
const fragment = (name: string, content: string) => write(resolve(generated, `${name}.md`), content)
const page = (path: string, content: string) => write(resolve(site, `${path}.md`), content)
const log = (message: string) =>
  console.log(`[docs:generate +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`)

const pendingNote = (what: string) =>
  `::: info Coming with the package\n${what} has no README yet. What follows is generated from its doc comments and will be replaced by the README when it lands.\n:::`

for (const dir of [".generated", "api", "reference", "public/schema", "public/mermaid"])
  rmSync(resolve(site, dir), { recursive: true, force: true })

// Mermaid's own ESM build, served as static files (see .vitepress/theme/MermaidDiagram.ts).
const mermaidDist = resolve(repo, "node_modules/mermaid/dist")
cpSync(resolve(mermaidDist, "mermaid.esm.min.mjs"), resolve(site, "public/mermaid/mermaid.esm.min.mjs"))
cpSync(resolve(mermaidDist, "chunks/mermaid.esm.min"), resolve(site, "public/mermaid/chunks/mermaid.esm.min"), {
  recursive: true,
  filter: (source) => !source.endsWith(".map")
})

// --- packages ----------------------------------------------------------------------------------------------

interface PackageSpec {
  readonly dir: string
  readonly name: string
  /** The guide page that documents the package. */
  readonly guide: string
}
const PACKAGES: ReadonlyArray<PackageSpec> = [
  { dir: "core", name: "@jsonflow/core", guide: "/guides/builder" },
  { dir: "json-dsl", name: "@jsonflow/json-dsl", guide: "/guides/json-dsl" },
  { dir: "sandbox", name: "@jsonflow/sandbox", guide: "/guides/sandbox" },
  { dir: "connectors", name: "@jsonflow/connectors", guide: "/guides/connectors/" },
  { dir: "audit", name: "@jsonflow/audit", guide: "/guides/audit" },
  { dir: "runner", name: "@jsonflow/runner", guide: "/guides/runner" }
]
const present = PACKAGES.filter((p) => existsSync(resolve(repo, "packages", p.dir, "package.json")))

/** The folders of `examples/`: each gets a section of /guide/examples (see "examples" below). */
const exampleRoot = resolve(repo, "examples")
const exampleDirs: ReadonlyArray<string> = existsSync(exampleRoot)
  ? readdirSync(exampleRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith(".") && e.name !== "node_modules")
      .map((e) => e.name)
  : []

/**
 * Where links in READMEs lead: package READMEs to their guide, the quickstart to Getting started, other
 * example folders to their section of /guide/examples.
 */
const pages: PageMap = new Map<string, string>([
  ...exampleDirs.flatMap(
    (dir): ReadonlyArray<[string, string]> => [
      [`examples/${dir}`, `/guide/examples#${slug(dir)}`],
      [`examples/${dir}/README.md`, `/guide/examples#${slug(dir)}`]
    ]
  ),
  ["README.md", "/"],
  ["examples/quickstart", "/guide/getting-started"],
  ["examples/quickstart/main.ts", "/guide/getting-started"],
  ["examples/quickstart/README.md", "/guide/getting-started"],
  ["examples/custom-connector", "/guides/writing-a-connector"],
  ["examples/custom-connector/README.md", "/guides/writing-a-connector"],
  ["packages/connectors/docs/custom-connector.md", "/guides/writing-a-connector"],
  ...PACKAGES.flatMap(
    (p): ReadonlyArray<[string, string]> => [
      [`packages/${p.dir}`, p.guide],
      [`packages/${p.dir}/README.md`, p.guide]
    ]
  )
])

// --- API reference -------------------------------------------------------------------------------------------

// Read in a worker while the rest runs; awaited where the modules are needed.
const modulesPromise = new Promise<ReadonlyArray<Module>>((resolvePromise, reject) => {
  const worker = new Worker(new URL("./api-worker.ts", import.meta.url), {
    workerData: present.map((p) => ({ name: p.name, dir: p.dir, root: resolve(repo, "packages", p.dir) }))
  })
  worker.once("message", (modules: ReadonlyArray<Module>) => resolvePromise(modules))
  worker.once("error", reject)
})

// --- node catalog --------------------------------------------------------------------------------------------

const entries: Array<Entry> = []
const seenTypes = new Set<string>()
const addDefinitions = (definitions: ReadonlyArray<Node.Any>, origin: Entry["origin"]) => {
  const fresh = definitions.filter((d) => !seenTypes.has(d.type))
  for (const d of fresh) seenTypes.add(d.type)
  for (const entry of Registry.catalog(Registry.make(...fresh))) entries.push({ entry, origin })
}
addDefinitions(Builtins.definitions, { pkg: "@jsonflow/core", subpath: "." })
const loaded = new Map<string, Readonly<Record<string, unknown>>>()
for (const p of present.filter((p) => p.dir !== "core")) {
  // Subpaths first, so a connector's node types are attributed to its own subpath.
  const subpaths = subpathsOf(resolve(repo, "packages", p.dir)).toSorted((a, b) => (a === "." ? 1 : b === "." ? -1 : 0))
  for (const subpath of subpaths) {
    if (subpath === "./cli") continue
    const specifier = subpath === "." ? p.name : `${p.name}/${subpath.slice(2)}`
    const module = await tryImport(specifier)
    if (module === undefined) continue
    loaded.set(specifier, module)
    try {
      addDefinitions(definitionsIn(module), { pkg: p.name, subpath })
    } catch (error) {
      console.warn(`  skip the node types of ${specifier}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}
const catalogGroups = [...new Set(entries.map((e) => e.origin.pkg))].map((pkg) => ({
  pkg,
  entries: entries.filter((e) => e.origin.pkg === pkg)
}))
page(
  "reference/node-catalog",
  [
    frontMatter({ title: "Node catalog", outline: "deep" }),
    "# Node catalog",
    `Every node type the packages define at this build: ${entries.length} types from ${catalogGroups.length} package(s). This is ${code("Registry.catalog(registry)")}, the same data a visual designer receives: the JSON Schema of each type's config, input and output ports. Every node also has the ${code("error")} port, which carries a ${code("NodeFailure")} (${code("{ node, type, attempts, error, input }")}) when an edge leaves it.`,
    "To print it for your own registry:",
    fence(
      "ts",
      'import { Builtins, Registry } from "@jsonflow/core"\nconsole.log(JSON.stringify(Registry.catalog(Builtins.registry), null, 2))'
    ),
    ...catalogGroups.map(
      (group) =>
        `## ${group.pkg}\n\n${group.entries
          .map((e) => `- [${code(e.entry.type)}](#${nodeAnchor(e.entry.type)})`)
          .join("\n")}\n\n${group.entries.map((e) => renderEntry(e, 3)).join("\n")}`
    ),
    generatedNote(
      `${code("Registry.catalog")} over the definitions exported by ${catalogGroups.map((g) => code(g.pkg)).join(", ")}`
    )
  ].join("\n\n")
)
log(`node catalog: ${entries.length} node types`)

// --- JSON DSL schema -------------------------------------------------------------------------------------------

const schemaFile = resolve(repo, "packages/json-dsl/schema/flow.schema.json")
if (existsSync(schemaFile)) {
  const schema = JSON.parse(readFileSync(schemaFile, "utf8")) as JsonSchema
  mkdirSync(resolve(site, "public/schema"), { recursive: true })
  cpSync(schemaFile, resolve(site, "public/schema/flow.schema.json"))
  // The JSON Schema of `*.test.json` files (what `jsonflow test --schema` prints), where their `$schema` points.
  const TestFile = (await tryImport(resolve(repo, "packages/runner/src/cli/commands/test.ts")))?.TestFile
  if (typeof TestFile === "object" && TestFile !== null && "ast" in TestFile) {
    const testSchema = {
      $id: "https://jsonflow.dev/schema/flow-test.schema.json",
      ...Registry.jsonSchemaOf(TestFile as Parameters<typeof Registry.jsonSchemaOf>[0])
    }
    write(resolve(site, "public/schema/flow-test.schema.json"), JSON.stringify(testSchema, null, 2))
  }
  const defs = defsOf(schema, defAnchor)
  const root = typeof schema.$ref === "string" ? defs.schemas[schema.$ref.replace("#/$defs/", "")] : schema
  page(
    "reference/json-schema",
    [
      frontMatter({ title: "JSON DSL schema", outline: "deep" }),
      "# JSON DSL schema",
      `${escapeMarkdown(String(schema.description ?? ""))} The file is published as ${code("@jsonflow/json-dsl/schema.json")}; point ${code("$schema")} at it and editors autocomplete and check flow files. [Download it](/schema/flow.schema.json).`,
      "## Flow (the file)",
      table(root, defs),
      ...Object.entries(defs.schemas)
        .filter(([, s]) => s !== root)
        .map(
          ([name, s]) =>
            `## ${name} {#${defAnchor(name)}}\n\n${escapeMarkdown(String(s.description ?? ""))}\n\n${table(s, defs)}`
        ),
      "## The raw schema",
      "::: details flow.schema.json",
      fence("json", JSON.stringify(schema, null, 2)),
      ":::",
      generatedNote(code("packages/json-dsl/schema/flow.schema.json"))
    ].join("\n\n")
  )
} else {
  page(
    "reference/json-schema",
    `${frontMatter({ title: "JSON DSL schema" })}\n# JSON DSL schema\n\n${pendingNote(code("@jsonflow/json-dsl/schema.json"))}`
  )
}
log("JSON DSL schema")

// --- runner: config Schema and CLI -----------------------------------------------------------------------------

const runner = loaded.get("@jsonflow/runner")
const configSchema = (() => {
  for (const path of [["Config", "RunnerConfig"], ["Config", "Config"], ["RunnerConfig"], ["Config", "schema"]]) {
    const value = pick(runner, ...path)
    if ((typeof value === "object" || typeof value === "function") && value !== null && "ast" in value) {
      return { path: path.join("."), value }
    }
  }
  return undefined
})()
if (configSchema !== undefined) {
  const json = Registry.jsonSchemaOf(configSchema.value as Parameters<typeof Registry.jsonSchemaOf>[0])
  const defs = defsOf(json, defAnchor)
  // Environment variables by config path, when the runner lists them (`Config.environmentVariables()`).
  const listEnv = pick(runner, "Config", "environmentVariables")
  const env = new Map<string, Array<string>>()
  if (typeof listEnv === "function") {
    for (const v of (listEnv as () => ReadonlyArray<{ readonly name: string; readonly path: string }>)()) {
      env.set(v.path, [...(env.get(v.path) ?? []), v.name])
    }
  }
  const rows = rowsOf(json, defs)
  const settings =
    rows.length === 0
      ? table(json, defs)
      : [
          "| key | type | required | environment | notes |",
          "| --- | --- | --- | --- | --- |",
          ...rows.map(
            (r) =>
              `| ${code(r.path)} | ${code(r.type)} | ${r.required ? "yes" : "no"} | ${r.type === "object" ? "" : (env.get(r.path) ?? []).map(code).join(", ") || "file only"} | ${cell(r.description)} |`
          )
        ].join("\n")
  page(
    "reference/runner-config",
    [
      frontMatter({ title: "Runner configuration", outline: "deep" }),
      "# Runner configuration",
      `Every setting of the runner, from its Schema (${code(configSchema.path)} of ${code("@jsonflow/runner")}). Values come from the config file, then ${code("Runner.start")} options and flags, then the environment; see the [runner guide](/guides/runner).`,
      settings,
      ...Object.entries(defs.schemas)
        .filter(([name]) => json.$ref !== `#/$defs/${name}`)
        .map(([name, s]) => `## ${name} {#${defAnchor(name)}}\n\n${table(s, defs)}`),
      "::: details JSON Schema",
      fence("json", JSON.stringify(json, null, 2)),
      ":::",
      generatedNote(`the ${code(configSchema.path)} Schema of ${code("@jsonflow/runner")}`)
    ].join("\n\n")
  )
} else {
  page(
    "reference/runner-config",
    `${frontMatter({ title: "Runner configuration" })}\n# Runner configuration\n\n${pendingNote("The runner's configuration Schema")}\n\nThis page is generated from it as soon as ${code("@jsonflow/runner")} exports it (as ${code("Config.RunnerConfig")}).`
  )
}

const exec = promisify(execFile)
const run = async (args: ReadonlyArray<string>, cwd = repo): Promise<string | undefined> => {
  try {
    const { stdout } = await exec(process.execPath, args, {
      cwd,
      timeout: 20_000,
      env: { ...process.env, NO_COLOR: "1" }
    })
    return stdout
  } catch (error) {
    console.warn(
      `  skip \`node ${args.join(" ")}\`: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`
    )
    return undefined
  }
}
// `jsonflow help [command]`, called in-process: `main(argv, io)` writes to the io it is given.
const cliMain = pick(await tryImport("@jsonflow/runner/cli"), "main")
const cliText = async (args: ReadonlyArray<string>): Promise<string | undefined> => {
  if (typeof cliMain !== "function") return undefined
  let text = ""
  const io = { stdout: (t: string) => (text += t), stderr: (t: string) => (text += t), cwd: repo }
  try {
    await (cliMain as (argv: ReadonlyArray<string>, io: unknown) => Promise<number>)(args, io)
    return text
  } catch (error) {
    console.warn(`  skip \`jsonflow ${args.join(" ")}\`: ${error instanceof Error ? error.message : String(error)}`)
    return undefined
  }
}
const help = await cliText(["help"])
if (help !== undefined) {
  const commands = [...help.matchAll(/^ {2}([a-z][\w-]*) {2,}/gm)].map((m) => m[1]!).filter((c) => c !== "help")
  const sections: Array<string> = []
  for (const command of commands) {
    const usage = await cliText(["help", command])
    sections.push(`## jsonflow ${command} {#${command}}\n\n${fence("text", usage ?? "(no help text)")}`)
  }
  page(
    "reference/cli",
    [
      frontMatter({ title: "CLI: jsonflow", outline: "deep" }),
      "# CLI: `jsonflow`",
      `The ${code("jsonflow")} command of ${code("@jsonflow/runner")}. Each section is the command's own help text.`,
      fence("text", help),
      ...sections,
      generatedNote(code("jsonflow help"))
    ].join("\n\n")
  )
} else {
  page(
    "reference/cli",
    `${frontMatter({ title: "CLI: jsonflow" })}\n# CLI: \`jsonflow\`\n\n${pendingNote("The `jsonflow` CLI")}`
  )
}
log(`runner: config ${configSchema ? "found" : "not yet exported"}, CLI ${help ? "found" : "not found"}`)

// --- diagrams and the quickstart -------------------------------------------------------------------------------

const dsl = loaded.get("@jsonflow/json-dsl")
const dslMermaid = pick(dsl, "Mermaid", "toMermaid")
const toMermaid = typeof dslMermaid === "function" ? (dslMermaid as (flow: Ir.Flow) => string) : fallbackMermaid
const mermaidSource =
  typeof dslMermaid === "function" ? "`Mermaid.toMermaid` of `@jsonflow/json-dsl`" : "the site's fallback renderer"
const dslSave = pick(dsl, "Save", "save")
const save = typeof dslSave === "function" ? (dslSave as (flow: Ir.Flow) => string) : undefined

interface Diagram {
  readonly id: string
  readonly title: string
  readonly source: string
  readonly flow: Ir.Flow
}
const diagrams: Array<Diagram> = []
const isFlow = (value: unknown): value is Ir.Flow =>
  typeof value === "object" && value !== null && "nodes" in value && "edges" in value && "trigger" in value

// The quickstart prints its result when imported: keep the build log clean.
const quiet = async <A>(f: () => Promise<A>): Promise<A> => {
  const original = console.log
  console.log = () => {}
  try {
    return await f()
  } finally {
    console.log = original
  }
}
const quickstart = await quiet(() => tryImport(resolve(repo, "examples/quickstart/main.ts")))
const invoice = pick(quickstart, "invoice", "ir")
if (isFlow(invoice)) {
  diagrams.push({ id: "invoice", title: "Quickstart: invoice", source: "examples/quickstart/main.ts", flow: invoice })
  fragment("quickstart-ir", fence("json", JSON.stringify(invoice, null, 2)))
  fragment(
    "quickstart-json",
    save === undefined
      ? `${pendingNote(code("Save.save"))}\n\n${fence("json", JSON.stringify(invoice, null, 2))}`
      : fence("json [invoice.flow.json]", save(invoice))
  )
}
const output = await run([resolve(repo, "examples/quickstart/main.ts")])
fragment("quickstart-output", fence("text", output ?? "(the quickstart did not run at this build)"))

// The reference use case: SQL query -> filter -> mapping -> HTTP POST (an example folder once it lands).
const reference = await tryImport(resolve(repo, "packages/core/test/support/reference.ts"))
const referenceFlow = pick(reference, "referenceFlow")
if (typeof referenceFlow === "function") {
  const built: unknown = (referenceFlow as (url: string) => unknown)("https://crm.example.com/orders")
  const ir = pick(built, "ir")
  if (isFlow(ir)) {
    diagrams.push({
      id: "reference",
      title: "Reference use case: paid orders to the CRM",
      source: "packages/core/test/support/reference.ts",
      flow: ir
    })
  }
}

// Every JSON flow in examples/ (canonical files: `*.flow.json`).
const walk = (dir: string): ReadonlyArray<string> =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.name === "node_modules" || e.name.startsWith(".")
          ? []
          : e.isDirectory()
            ? walk(resolve(dir, e.name))
            : e.name.endsWith(".flow.json")
              ? [resolve(dir, e.name)]
              : []
      )
    : []
for (const file of walk(resolve(repo, "examples"))) {
  try {
    const flow: unknown = JSON.parse(readFileSync(file, "utf8"))
    if (isFlow(flow)) {
      const id = relative(repo, file).replace(/[^A-Za-z0-9]+/g, "-")
      diagrams.push({ id, title: `${flow.id} (${relative(repo, file)})`, source: relative(repo, file), flow })
    }
  } catch {
    console.warn(`  skip ${relative(repo, file)}: not JSON`)
  }
}

// An nFlow designer export, imported (what `jsonflow import-nflow` does).
const importExport = pick(dsl, "Nflow", "importExport")
const nflowFixture = resolve(repo, "packages/json-dsl/test/fixtures/nflow/users.json")
if (typeof importExport === "function" && existsSync(nflowFixture)) {
  try {
    const result: unknown = (importExport as (input: unknown) => unknown)(readFileSync(nflowFixture, "utf8"))
    const first = pick(result, "flows", "0", "flow")
    if (isFlow(first)) {
      diagrams.push({
        id: "nflow",
        title: `nFlow export, imported: ${first.id}`,
        source: "packages/json-dsl/test/fixtures/nflow/users.json",
        flow: first
      })
    }
  } catch (error) {
    console.warn(`  skip the nFlow diagram: ${error instanceof Error ? error.message : String(error)}`)
  }
}

// --- examples: one section per folder of examples/, each flow it holds drawn ---------------------------------

/** Guide pages an example belongs with (a folder missing here simply gets no guide link). */
const EXAMPLE_GUIDES: Readonly<Record<string, { readonly text: string; readonly link: string }>> = {
  quickstart: { text: "Getting started", link: "/guide/getting-started" },
  flows: { text: "The runner", link: "/guides/runner" },
  "reference-use-case": { text: "Connectors", link: "/guides/connectors/" },
  embedding: { text: "Embedding in a service", link: "/guides/embedding" },
  "nflow-export": { text: "Migrating from nFlow", link: "/guides/nflow" },
  "soap-to-rest": { text: "SOAP connector", link: "/guides/connectors/soap" },
  "grpc-to-postgres": { text: "gRPC connector", link: "/guides/connectors/grpc" },
  "queue-replicas": { text: "The runner", link: "/guides/runner" },
  "custom-connector": { text: "Writing a connector", link: "/guides/writing-a-connector" }
}
const EXAMPLE_ORDER = Object.keys(EXAMPLE_GUIDES)

const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== "node_modules" && !e.name.startsWith("."))
    .toSorted((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? filesUnder(resolve(dir, e.name)) : [resolve(dir, e.name)]))

// Modules that build flows; entry points (which start servers) and tests are not imported.
const isFlowModule = (file: string) =>
  /\.(ts|js|mjs)$/.test(file) &&
  !/^main\.|\.(test|typetest|d)\.(ts|js|mjs)$/.test(basename(file)) &&
  readFileSync(file, "utf8").includes(".build()")
const isDataFile = (file: string) => file.endsWith(".json") && !/^(package|tsconfig.*)\.json$/.test(basename(file))

/** The flows of one example folder: built flows its modules export, canonical JSON flows, nFlow exports. */
const exampleFlows = async (dir: string): Promise<ReadonlyArray<Diagram>> => {
  const found: Array<Diagram> =
    dir === "quickstart" ? diagrams.filter((d) => d.id === "invoice").map((d) => ({ ...d, title: d.flow.id })) : []
  const add = (flow: Ir.Flow, source: string, id: string) => {
    if (found.some((d) => d.flow.id === flow.id && d.flow.version === flow.version)) return
    found.push({ id, title: flow.id, source, flow })
  }
  for (const file of filesUnder(resolve(repo, "examples", dir))) {
    const rel = relative(repo, file)
    if (isFlowModule(file)) {
      const module = await quiet(() => tryImport(file))
      for (const [name, value] of Object.entries(module ?? {})) {
        const ir = pick(value, "ir")
        if (isFlow(ir)) add(ir, `${rel} (export ${name})`, slug(`${rel}-${name}`))
      }
    } else if (isDataFile(file)) {
      const text = readFileSync(file, "utf8")
      let document: unknown
      try {
        document = JSON.parse(text)
      } catch {
        continue
      }
      if (isFlow(document)) add(document, rel, slug(rel))
      else if (typeof document === "object" && document !== null && "drawflow" in document) {
        if (typeof importExport !== "function") continue
        try {
          const imported = pick((importExport as (input: unknown) => unknown)(text), "flows")
          for (const entry of Array.isArray(imported) ? imported : []) {
            const flow = pick(entry, "flow")
            if (isFlow(flow)) add(flow, `${rel} (nFlow export, imported)`, slug(`${rel}-${flow.id}`))
          }
        } catch (error) {
          console.warn(`  skip the nFlow export ${rel}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
    }
  }
  return found
}

// A README's headings inside a collapsed block stay out of the page outline.
const demoteHeadings = (markdown: string) => {
  let inFence = false
  return markdown
    .split("\n")
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) inFence = !inFence
      return !inFence && /^#{1,4} /.test(line) ? `##${line}` : line
    })
    .join("\n")
}
const firstParagraph = (markdown: string) =>
  markdown
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .find((block) => block !== "" && !/^(#|```|~~~|\||[-*] |:::|<)/.test(block)) ?? ""

const exampleSections: Array<string> = []
const orderOf = (dir: string) => (EXAMPLE_ORDER.includes(dir) ? EXAMPLE_ORDER.indexOf(dir) : EXAMPLE_ORDER.length)
for (const dir of exampleDirs.toSorted((a, b) => orderOf(a) - orderOf(b) || a.localeCompare(b))) {
  const readmeFile = resolve(repo, "examples", dir, "README.md")
  const readme = readmeFragment(readmeFile, repo, pages)
  const heading = existsSync(readmeFile) ? /^# (.+)$/m.exec(readFileSync(readmeFile, "utf8"))?.[1] : undefined
  const title =
    heading?.replace(/^Example:\s*/i, "").replace(/^[a-z]+\b/, (w) => w[0]!.toUpperCase() + w.slice(1)) ??
    (dir === "quickstart" ? "Quickstart" : dir === "flows" ? "The flows `npm start` serves" : dir)
  const flows = await exampleFlows(dir)
  for (const d of flows) if (!diagrams.some((known) => known.id === d.id)) diagrams.push(d)
  const guide = EXAMPLE_GUIDES[dir]
  const hasMain = existsSync(resolve(repo, "examples", dir, "main.ts"))
  const facts = [
    `Folder: ${code(`examples/${dir}/`)}`,
    ...(hasMain ? [`run: ${code(`node examples/${dir}/main.ts`)}`] : []),
    ...(guide === undefined ? [] : [`guide: [${guide.text}](${guide.link})`])
  ]
  exampleSections.push(
    [
      `## ${escapeMarkdown(title)} {#${slug(dir)}}`,
      ...(readme === undefined ? [] : [firstParagraph(readme)]),
      `${facts.join(" · ")}.`,
      ...(flows.length === 0
        ? ["_No flow of this example can be drawn at build time: its flows are built inside its entry point._"]
        : flows.map((d) => `### ${code(d.title)}\n\n<!--@include: ../diagrams/${d.id}.md-->`)),
      ...(readme === undefined
        ? []
        : [`::: details README (examples/${dir}/README.md)\n\n${demoteHeadings(readme)}\n\n:::`])
    ].join("\n\n")
  )
}
fragment("examples/list", exampleSections.join("\n\n") || "_No examples found at this build._")
log(`examples: ${exampleDirs.length} folders`)

for (const d of diagrams) {
  fragment(
    `diagrams/${d.id}`,
    `${fence("mermaid", toMermaid(d.flow))}\n\n_Rendered from the IR of ${code(d.source)} by ${mermaidSource}._`
  )
}
fragment(
  "diagrams/all",
  diagrams.map((d) => `## ${escapeMarkdown(d.title)}\n\n<!--@include: ./${d.id}.md-->`).join("\n\n") ||
    "_No example flows found at this build._"
)
log(`diagrams: ${diagrams.map((d) => d.id).join(", ")}`)

// --- API reference pages ------------------------------------------------------------------------------------

const modules = await modulesPromise
for (const module of modules) page(pageOf(module), renderModule(modules, module, repo))
const apiSidebar = present
  .map((p) => ({
    text: p.name,
    collapsed: p.dir !== "core",
    items: modules.filter((m) => m.pkg.dir === p.dir).map((m) => ({ text: m.path.join("."), link: `/${pageOf(m)}` }))
  }))
  .filter((group) => group.items.length > 0)
page(
  "api/index",
  [
    frontMatter({ title: "API reference" }),
    "# API reference",
    "Every public module of every package, generated from the doc comments in the source. Signatures are shown as written in the code; examples are the ones the doc comments carry.",
    ...apiSidebar.map(
      (group) =>
        `## ${group.text}\n\n${group.items
          .map((item) => {
            const module = modules.find((m) => `/${pageOf(m)}` === item.link)
            const summary = module?.doc.text.split("\n\n")[0]?.replace(/\s*\n\s*/g, " ") ?? ""
            return `- [${item.text}](${item.link})${summary ? `: ${escapeMarkdown(summary)}` : ""}`
          })
          .join("\n")}`
    ),
    generatedNote("the packages' sources")
  ].join("\n\n")
)
log(`API reference: ${modules.length} modules`)

// --- READMEs and module docs as guide fragments ------------------------------------------------------------

const moduleOf = (pkgDir: string, name: string) =>
  modules.find((m) => m.pkg.dir === pkgDir && m.path.join(".") === name)
const moduleSummary = (module: Module | undefined) =>
  module === undefined
    ? ""
    : [
        escapeMarkdown(module.doc.text.replace(/\{@link\s+([^}|\s]+)[^}]*\}/g, "`$1`")),
        ...module.doc.examples,
        `Reference: [${module.path.join(".")}](/${pageOf(module)}).`
      ]
        .filter((s) => s !== "")
        .join("\n\n")

for (const p of PACKAGES) {
  const readme = readmeFragment(resolve(repo, "packages", p.dir, "README.md"), repo, pages)
  const modulesOfPackage = modules.filter((m) => m.pkg.dir === p.dir && m.path.length === 1)
  fragment(
    `readme/${p.dir}`,
    readme ??
      [
        pendingNote(code(p.name)),
        ...(modulesOfPackage.length > 0
          ? [`Its public modules: ${modulesOfPackage.map((m) => `[${m.path[0]}](/${pageOf(m)})`).join(", ")}.`]
          : [])
      ].join("\n\n")
  )
}

/** A README section chosen by heading, falling back to a module's doc comment. */
const sectionOr = (pkgDir: string, select: RegExp, fallbackModule: string, what: string) =>
  readmeFragment(resolve(repo, "packages", pkgDir, "README.md"), repo, pages, (h) => select.test(h)) ??
  (moduleOf(pkgDir, fallbackModule) === undefined
    ? pendingNote(what)
    : `${pendingNote(what)}\n\n${moduleSummary(moduleOf(pkgDir, fallbackModule))}`)

const CONNECTORS = [
  { dir: "http", module: "Http", title: /http/i },
  { dir: "sql", module: "Sql", title: /sql|postgres/i },
  { dir: "soap", module: "Soap", title: /soap/i },
  { dir: "grpc", module: "Grpc", title: /grpc/i },
  { dir: "redis", module: "Redis", title: /redis/i },
  { dir: "mail", module: "Mail", title: /mail|smtp/i }
] as const
for (const c of CONNECTORS) {
  const own = readmeFragment(resolve(repo, "packages/connectors/src", c.dir, "README.md"), repo, pages)
  const text = own ?? sectionOr("connectors", c.title, c.module, `The ${c.module} connector`)
  const nodes = entries.filter((e) => e.origin.pkg === "@jsonflow/connectors" && e.origin.subpath === `./${c.dir}`)
  const nodeList =
    nodes.length === 0
      ? "_No node types found for this connector at this build._"
      : nodes
          .map(
            (e) =>
              `- [${code(e.entry.type)}](/reference/node-catalog#${nodeAnchor(e.entry.type)}): ${escapeMarkdown(e.entry.description)}`
          )
          .join("\n")
  fragment(`connectors/${c.dir}`, text)
  fragment(`connectors/${c.dir}-nodes`, nodeList)
}
fragment(
  "connectors/overview",
  readmeFragment(
    resolve(repo, "packages/connectors/README.md"),
    repo,
    pages,
    (h) => /convention|reference use case/i.test(h),
    {
      keepHeadings: true,
      preamble: true
    }
  ) ?? pendingNote(code("@jsonflow/connectors"))
)
fragment("runner-embedding", sectionOr("runner", /^embedding/i, "Runner", "Embedding the runner"))
fragment(
  "examples/custom-connector",
  readmeFragment(resolve(repo, "examples/custom-connector/README.md"), repo, pages) ??
    "_The custom connector example has not landed yet._"
)
fragment(
  "connectors/custom-connector",
  readmeFragment(resolve(repo, "packages/connectors/docs/custom-connector.md"), repo, pages) ??
    pendingNote("The custom connector walkthrough")
)
fragment("sandbox-expressions", sectionOr("sandbox", /expression|jsonata/i, "expressions", "The expressions layer"))
fragment("audit-replay", sectionOr("audit", /replay/i, "Audit", "Replay"))
fragment("nflow", sectionOr("json-dsl", /nflow/i, "Nflow", "The nFlow importer"))
fragment("testing-module", moduleSummary(moduleOf("core", "testing")))
log("package fragments")

// --- sidebar ----------------------------------------------------------------------------------------------------

write(
  resolve(generated, "sidebar.generated.json"),
  JSON.stringify(
    {
      api: apiSidebar,
      reference: [
        { text: "Node catalog", link: "/reference/node-catalog" },
        { text: "JSON DSL schema", link: "/reference/json-schema" },
        { text: "Runner configuration", link: "/reference/runner-config" },
        { text: "CLI", link: "/reference/cli" }
      ]
    },
    null,
    2
  )
)
log("done")
