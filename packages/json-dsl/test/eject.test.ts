import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { Ir, Registry } from "@jsonflow/core"
import { Nodes as SandboxNodes } from "@jsonflow/sandbox"
import { afterAll, describe, expect, it } from "vitest"
import { Eject, FlowFile, Load, Mermaid, Nflow } from "../src/index.ts"
import { fixture, modulesDir, registry as nflowRegistry } from "./support/nflow.ts"

const read = (path: string) => readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")
const codeRegistry = Registry.merge(FlowFile.validationRegistry, Registry.make(...SandboxNodes.definitions))
const loadFlow = (path: string) => {
  const result = Load.load(read(path), codeRegistry)
  if (result._tag !== "Loaded") throw new Error(JSON.stringify(result.problems))
  return result.flow
}

// Ejected modules are written inside the repo so they resolve @jsonflow/core like user code would.
const dir = new URL("./.ejected/", import.meta.url)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("eject: builder TypeScript for a JSON flow", () => {
  const files = ["orders.flow.json", "lines.flow.json", "guard.flow.json", "code.flow.json"]
  mkdirSync(dir, { recursive: true })
  for (const file of files)
    writeFileSync(new URL(file.replace(".flow.json", ".ts"), dir), Eject.toTypeScript(loadFlow(`valid/${file}`)))
  // A flow of non-built-in types (an imported nFlow flow) becomes build(definitions).
  const imported = Nflow.importExport(fixture("nflow/loops.json"), { modules: modulesDir() }).flows
  const compare = imported.find((f) => f.flow.id === "loops-get-compare")!.flow
  writeFileSync(new URL("compare.ts", dir), Eject.toTypeScript(compare))
  writeFileSync(
    new URL("tsconfig.json", dir),
    JSON.stringify({ extends: "../../../../tsconfig.base.json", include: ["*.ts"] })
  )

  it("type-checks under the project's strict settings", () => {
    const tsc = new URL("../../../node_modules/.bin/tsc", import.meta.url).pathname
    const output = (() => {
      try {
        return execFileSync(tsc, ["--noEmit", "-p", new URL("tsconfig.json", dir).pathname], { encoding: "utf8" })
      } catch (error) {
        return String((error as { stdout?: unknown }).stdout)
      }
    })()
    expect(output).toBe("")
  })

  it.each(files)("%s builds the IR it was ejected from", async (file) => {
    const module = (await import(new URL(file.replace(".flow.json", ".ts"), dir).href)) as { flow: { ir: Ir.Flow } }
    const loaded = loadFlow(`valid/${file}`)
    expect(Ir.equals(module.flow.ir, loaded)).toBe(true)
  })

  it("a flow of custom node types ejects to build(definitions) that builds the same IR", async () => {
    const module = (await import(new URL("compare.ts", dir).href)) as {
      build: (definitions: Record<string, unknown>) => { ir: Ir.Flow }
    }
    const definitions = Object.fromEntries(nflowRegistry.definitions)
    expect(Ir.equals(module.build(definitions).ir, Eject.normalize(compare))).toBe(true)
  })

  it("code nodes use the sandbox's definitions: typed `out`, own ports by name", () => {
    const code = readFileSync(new URL("code.ts", dir), "utf8")
    expect(code).toContain('import { jsNode, tsNode } from "@jsonflow/sandbox"')
    expect(code).toContain("const jsNodeWithPorts: Node.AnyWith<Node.ServicesOf<typeof jsNode>> = jsNode")
    expect(code).toContain('.node("total", tsNode, {')
    expect(code).toContain('.respond("small", (p) => p.route.small!, {')
    expect(code).not.toContain("build(definitions")
  })

  it("orders edges like the builder (grouped by target) and refuses cycles, saying why and what to do", () => {
    const flow = loadFlow("valid/orders.flow.json")
    const shuffled = { ...flow, edges: [...flow.edges.slice(1), flow.edges[0]!] }
    expect(Ir.equals(Eject.normalize(shuffled), flow)).toBe(true)
    const cyclic = {
      ...flow,
      edges: [...flow.edges, { from: { node: "reply", port: "out" }, to: { node: "shape", port: "in" } }]
    }
    expect(() => Eject.toTypeScript(cyclic)).toThrow(
      "the flow has a cycle (shape -> route -> review -> back -> remember -> reply -> shape): the builder only makes acyclic flows, so it has no code for this one. Keep the flow as JSON (jsonflow run and the runner load it as it is, loops bounded by maxSteps), or rewrite the loop as a forEach node over a list, then eject"
    )
  })
})

describe("Mermaid", () => {
  it("draws labels, ids, types and ports, failure edges dashed, forEach bodies as subgraphs", () => {
    expect(Mermaid.toMermaid(loadFlow("valid/guard.flow.json"))).toBe(
      [
        "flowchart LR",
        '  n0(["cron */5 * * * * Europe/Paris"])',
        '  n1["check<br/>switch"]',
        '  n2["All good<br/>fine · noop"]',
        '  n3["alarm<br/>fail"]',
        '  n4["caught<br/>map"]',
        '  n0 -->|"out"| n1',
        '  n1 -->|"ok"| n2',
        '  n1 -->|"default"| n3',
        '  n3 -.->|"error"| n4',
        ""
      ].join("\n")
    )
    const lines = Mermaid.toMermaid(loadFlow("valid/lines.flow.json"))
    expect(lines).toContain('  subgraph n2["price<br/>forEach"]')
    expect(lines).toContain('  n6 -->|"out → skipped"| n7')
  })
})
