/**
 * The consumer test: what a user gets from npm. Every package is packed with `npm pack`, the tarballs are
 * installed with a plain `npm install` into a fresh project outside the workspace, and that project then
 * (a) runs a builder flow from a `.mjs` file through the promise API, (b) type-checks a strict `.ts` file
 * against the published declarations, (c) serves a JSON flow with `npx jsonflow serve` and calls it. Nothing
 * here sees the workspace: no `@jsonflow/source` condition, no hoisted dev dependencies.
 */
import { execFile } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { parse } from "acorn"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { envOf, instruction, stages } from "../packages/runner/test/dockerfile.ts"
import { serve } from "../packages/runner/test/support.ts"
import {
  installConsumer,
  optionalPeers,
  outsideEnv,
  packWorkspace,
  publishable,
  repoRoot,
  type Tarball
} from "../scripts/packages.ts"

const run = promisify(execFile)
const rootManifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>
}

let work = ""
let app = ""
let tarballs: ReadonlyArray<Tarball> = []

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "jsonflow-consumer-"))
  app = join(work, "app")
  tarballs = packWorkspace(join(work, "packs"))
  // The tarballs, and the TypeScript a consumer type-checks with (the workspace's versions).
  installConsumer(app, [
    ...tarballs.map((t) => t.path),
    `typescript@${rootManifest.devDependencies.typescript}`,
    `@types/node@${rootManifest.devDependencies["@types/node"]}`
  ])
}, 300_000)

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true })
})

const node = (file: string, env: Record<string, string> = {}) =>
  run(process.execPath, [file], { cwd: app, env: outsideEnv(env), encoding: "utf8" })

describe("the tarballs", () => {
  it("pack every publishable package at one version, with dist, declarations, maps, README and LICENSE", () => {
    const packages = publishable()
    expect(tarballs.map((t) => t.name).sort()).toEqual(packages.map((p) => p.name).sort())
    const versions = new Set(tarballs.map((t) => t.version))
    expect(versions.size).toBe(1)
    // Changesets keeps them on that one line: a single fixed group holding every package.
    const changesets = JSON.parse(readFileSync(join(repoRoot, ".changeset/config.json"), "utf8")) as {
      fixed: ReadonlyArray<ReadonlyArray<string>>
    }
    expect(changesets.fixed).toEqual([["@jsonflow/*"]])
    for (const tarball of tarballs) {
      const files = new Set(tarball.files)
      for (const required of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]) {
        expect(files.has(required), `${tarball.name} lacks ${required}`).toBe(true)
      }
      expect(files.has("dist/index.js.map") && files.has("dist/index.d.ts.map"), `${tarball.name} maps`).toBe(true)
      const stray = tarball.files.filter((f) => /\.test\.ts$|\/test\/|tsbuildinfo|\/fixtures\//.test(f))
      expect(stray, `${tarball.name} ships test files`).toEqual([])
      // Every export target is in the tarball.
      const manifest = packages.find((p) => p.name === tarball.name)!.manifest
      for (const [subpath, target] of Object.entries(manifest.exports as Record<string, unknown>)) {
        if (target === null) continue
        const paths = typeof target === "string" ? [target] : Object.values(target as Record<string, string>)
        for (const path of paths) {
          expect(files.has(path.replace(/^\.\//, "")), `${tarball.name} "${subpath}" -> ${path}`).toBe(true)
        }
      }
      // Internal packages depend on each other at exactly the one version.
      for (const [name, range] of Object.entries((manifest.dependencies ?? {}) as Record<string, string>)) {
        if (name.startsWith("@jsonflow/")) expect(range, `${tarball.name} -> ${name}`).toBe(tarball.version)
      }
    }
  })

  // The ecosystem's two checks of a package as published: publint (package.json against the files) and
  // Are the Types Wrong (what TypeScript resolves for every subpath under node16 and bundler resolution).
  it("pass publint --strict and attw (ESM-only profile)", async () => {
    const bin = (name: string) => join(repoRoot, "node_modules/.bin", name)
    for (const tarball of tarballs) {
      const lint = await run(bin("publint"), ["run", "--strict", tarball.path], { encoding: "utf8" }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr })
      )
      expect(lint.code, `publint ${tarball.name}: ${lint.out}`).toBe(0)
      const types = await run(bin("attw"), [tarball.path, "--profile", "esm-only", "--format", "ascii"], {
        encoding: "utf8"
      }).then(
        () => ({ code: 0, out: "" }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr })
      )
      expect(types.code, `attw ${tarball.name}: ${types.out}`).toBe(0)
    }
  }, 120_000)

  it("declare every package their compiled code imports, and nothing it does not use", () => {
    const builtins = new Set(builtinModules)
    for (const tarball of tarballs) {
      const root = join(app, "node_modules", tarball.name)
      const manifest = installedManifest(tarball.name)
      const declared = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {})
      ])
      const used = new Set<string>()
      for (const file of tarball.files.filter((f) => f.endsWith(".js"))) {
        for (const specifier of bareSpecifiers(readFileSync(join(root, file), "utf8"))) {
          if (specifier.startsWith("node:") || builtins.has(specifier)) continue
          const name = packageOf(specifier)
          // A package may import itself through its own exports (the CLI does).
          if (name !== tarball.name) used.add(name)
        }
      }
      expect(
        [...used].filter((name) => !declared.has(name)),
        `${tarball.name} imports undeclared`
      ).toEqual([])
      expect(
        [...declared].filter((name) => !used.has(name)),
        `${tarball.name} declares unused`
      ).toEqual([])
    }
  })

  it("install nothing native for a user of @jsonflow/core alone, and no optional protocol library by default", () => {
    const installed = (name: string) => {
      try {
        readFileSync(join(app, "node_modules", name, "package.json"))
        return true
      } catch {
        return false
      }
    }
    const core = installedManifest("@jsonflow/core")
    expect(Object.keys(core.dependencies ?? {})).toEqual([])
    expect(Object.keys(core.peerDependencies ?? {})).toEqual(["effect"])
    // Installed alone: @jsonflow/core and effect, and not one native addon.
    const alone = installConsumer(join(work, "core-alone"), [tarballs.find((t) => t.name === "@jsonflow/core")!.path])
    const lock = JSON.parse(readFileSync(join(alone, "node_modules/.package-lock.json"), "utf8")) as {
      packages: Record<string, unknown>
    }
    expect(Object.keys(lock.packages).sort()).toEqual(["node_modules/@jsonflow/core", "node_modules/effect"])
    const addons = readdirSync(join(alone, "node_modules"), { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".node") || f.endsWith("binding.gyp")
    )
    expect(addons).toEqual([])
    // The optional peers (soap, gRPC, nodemailer, bullmq) are not installed unless asked for.
    for (const spec of optionalPeers()) expect(installed(spec.slice(0, spec.lastIndexOf("@"))), spec).toBe(false)
    expect(installed("isolated-vm")).toBe(true)
  }, 120_000)
})

// Bare specifiers the compiled code loads: import declarations, re-exports, import("x"), require("x"),
// require.resolve("x/...") and createRequire(...)("x"). Parsed (acorn), so doc comments and generated code in
// strings do not count.
const bareSpecifiers = (code: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const literal = (node: unknown) => {
    const n = node as { type?: string; value?: unknown } | undefined
    if (n?.type === "Literal" && typeof n.value === "string" && !/^[./]/.test(n.value)) found.push(n.value)
  }
  const isRequire = (callee: Record<string, unknown>): boolean => {
    if (callee.type === "Identifier") return callee.name === "require"
    if (callee.type === "MemberExpression") {
      const object = callee.object as Record<string, unknown>
      return object.type === "Identifier" && object.name === "require"
    }
    // createRequire(import.meta.url)("x")
    const inner = callee.callee as Record<string, unknown> | undefined
    return callee.type === "CallExpression" && inner?.type === "Identifier" && inner.name === "createRequire"
  }
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item)
      return
    }
    if (typeof node !== "object" || node === null) return
    const n = node as Record<string, unknown>
    if (n.type === "ImportDeclaration" || n.type === "ExportAllDeclaration" || n.type === "ExportNamedDeclaration")
      literal(n.source)
    if (n.type === "ImportExpression") literal(n.source)
    if (n.type === "CallExpression" && isRequire(n.callee as Record<string, unknown>))
      literal((n.arguments as Array<unknown>)[0])
    for (const value of Object.values(n)) if (typeof value === "object") visit(value)
  }
  visit(parse(code, { ecmaVersion: "latest", sourceType: "module" }))
  return found
}

const packageOf = (specifier: string) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/")

/** The package.json of an installed package of the consumer project. */
const installedManifest = (name: string) =>
  JSON.parse(readFileSync(join(app, "node_modules", name, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
  }

describe("(a) a builder flow from a plain .mjs file, through the promise API", () => {
  it("runs, from dist/, and the internals stay closed", async () => {
    writeFileSync(
      join(app, "points.mjs"),
      `import { Flow, Node } from "@jsonflow/core"
import { Effect, Schema } from "effect"

// Loyalty points for the large orders: one point per 10 spent, times a config multiplier.
const Purchase = Schema.Struct({ customer: Schema.String, spent: Schema.Number })
const points = Node.define({
  type: "loyalty.points",
  config: Schema.Struct({ multiplier: Schema.Number }),
  input: Purchase,
  output: Schema.Struct({ customer: Schema.String, points: Schema.Number }),
  run: (p, config) => Effect.succeed({ customer: p.customer, points: Math.floor(p.spent / 10) * config.multiplier })
})
const loyalty = Flow.make({ id: "loyalty", input: Schema.Array(Purchase) })
  .filter("large", (p) => p.$input, { path: "spent", op: "gt", value: 20 })
  .forEach("award", (p) => p.large.out, (each) => each.andThen("points", points, { multiplier: 3 }))
  .build()

const flow = Flow.toPromise(loyalty)
const { output } = await flow.run(JSON.parse(process.env.PURCHASES))
let rejected
try {
  await flow.run([{ customer: 1 }])
} catch (error) {
  rejected = error._tag
}
await flow.dispose()
let internal
try {
  await import("@jsonflow/core/internal/Engine.js")
} catch (error) {
  internal = error.code
}
console.log(JSON.stringify({ output, rejected, internal, resolved: import.meta.resolve("@jsonflow/core") }))
`
    )
    const purchases = [
      { customer: "ada", spent: 125 },
      { customer: "bob", spent: 15 },
      { customer: "cy", spent: 21.5 }
    ]
    const { stdout } = await node("points.mjs", { PURCHASES: JSON.stringify(purchases) })
    const result = JSON.parse(stdout) as { output: unknown; rejected: string; internal: string; resolved: string }
    expect(result.output).toEqual(
      purchases.filter((p) => p.spent > 20).map((p) => ({ customer: p.customer, points: Math.floor(p.spent / 10) * 3 }))
    )
    expect(result.rejected).toBe("InputInvalid")
    expect(result.internal).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED")
    expect(result.resolved).toBe(`file://${join(app, "node_modules/@jsonflow/core/dist/index.js")}`)
  })
})

describe("the README of @jsonflow/core", () => {
  it("its example runs as written against the installed packages and prints what its comment says", async () => {
    const readme = readFileSync(join(repoRoot, "packages/core/README.md"), "utf8")
    const example = /```ts\n([\s\S]*?)```/.exec(readme)![1]!
    const printed = /console\.log\(JSON\.stringify\(output\)\) \/\/ (.*)/.exec(example)![1]!
    writeFileSync(join(app, "core-readme.ts"), example)
    const { stdout } = await node("core-readme.ts")
    expect(JSON.parse(stdout)).toEqual(JSON.parse(printed))
  })
})

describe("(b) a strict TypeScript consumer type-checks against the published declarations", () => {
  it("compiles what is right and refuses a wrong wiring", async () => {
    mkdirSync(join(app, "ts"), { recursive: true })
    writeFileSync(
      join(app, "ts", "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2024"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noImplicitOverride: true,
          noUnusedLocals: true,
          verbatimModuleSyntax: true,
          skipLibCheck: false,
          noEmit: true
        },
        include: ["*.ts"]
      })
    )
    writeFileSync(
      join(app, "ts", "consumer.ts"),
      `import { Audit, Embedded } from "@jsonflow/audit"
import { Grpc, Mail, Soap } from "@jsonflow/connectors"
import { HttpClient } from "@jsonflow/connectors/http"
import { query } from "@jsonflow/connectors/sql"
import { Flow, Node } from "@jsonflow/core"
import { Load } from "@jsonflow/json-dsl"
import { Runner } from "@jsonflow/runner"
import { Sandbox } from "@jsonflow/sandbox"
import { Effect, Schema } from "effect"

const double = Node.define({
  type: "consumer.double",
  input: Schema.Struct({ value: Schema.Number }),
  output: Schema.Struct({ result: Schema.Number }),
  run: ({ value }) => Effect.succeed({ result: value * 2 })
})
const shout = Node.define({
  type: "consumer.shout",
  input: Schema.String,
  output: Schema.String,
  run: (text) => Effect.succeed(text.toUpperCase())
})

const flow = Flow.make({ id: "double", input: Schema.Struct({ value: Schema.Number }) })
  .andThen("double", double, {})
  .build()
const { output } = await Flow.toPromise(flow).run({ value: 21 })
export const result: number = output.result

// @ts-expect-error a { value: number } input does not fit shout's string input
Flow.make({ id: "wrong", input: Schema.Struct({ value: Schema.Number }) }).andThen("loud", shout, {})

// @ts-expect-error the output is { result: number }, not a string
export const wrongOutput: string = output.result

// The protocol connectors type-check without their optional libraries (soap, @grpc/*, nodemailer, bullmq).
export const used = [Audit, Embedded, Grpc, HttpClient, Mail, query, Soap, Load, Runner, Sandbox]
`
    )
    // tsc's diagnostics, or "" when the project type-checks.
    const typecheck = () =>
      run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "ts/tsconfig.json"], {
        cwd: app,
        env: outsideEnv(),
        encoding: "utf8"
      }).then(
        () => "",
        (e: { stdout: string }) => e.stdout
      )
    expect(await typecheck()).toBe("")
    // The same check fails on a real type error: the declarations are not \`any\`.
    writeFileSync(
      join(app, "ts", "broken.ts"),
      `import { Flow } from "@jsonflow/core"\nexport const n: number = Flow\n`
    )
    const broken = await typecheck()
    rmSync(join(app, "ts", "broken.ts"))
    expect(broken).toMatch(/broken\.ts\(2,14\): error TS2322/)
  }, 120_000)
})

/** SIGTERM to a process group (npx and the runner it started), then waits until every member is gone. */
const stopGroup = async (pid: number) => {
  const alive = () => {
    try {
      process.kill(-pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (alive()) process.kill(-pid, "SIGTERM")
  for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 50))
  if (alive()) process.kill(-pid, "SIGKILL")
  expect(alive(), "the runner outlived SIGTERM by 10 s").toBe(false)
}

const doubleJs = {
  dsl: 1,
  id: "double-js",
  version: "1",
  trigger: { type: "http", method: "POST", path: "/double" },
  input: { type: "object", properties: { value: { type: "number" } }, required: ["value"] },
  nodes: {
    twice: {
      type: "js",
      config: { source: "export default (o) => ({ result: o.value * 2, isolated: typeof process })" }
    },
    reply: { type: "respond", config: { status: 200 } }
  },
  edges: [
    { from: { node: "$input", port: "out" }, to: { node: "twice", port: "in" } },
    { from: { node: "twice", port: "out" }, to: { node: "reply", port: "in" } }
  ]
}

describe("(c) npx jsonflow serve on a JSON flow", () => {
  it("serves it: the request runs a JS transform in the sandbox (isolated-vm) and is audited", async () => {
    mkdirSync(join(app, "flows"), { recursive: true })
    writeFileSync(join(app, "flows", "double.flow.json"), JSON.stringify(doubleJs, null, 2))
    const served = await serve(["--no-install", "jsonflow", "serve", "flows", "--port", "0"], {}, [], {
      cwd: app,
      baseEnv: outsideEnv(),
      executable: "npx",
      group: true
    })
    try {
      const reply = await fetch(`${served.url}/double`, { method: "POST", body: JSON.stringify({ value: 21.5 }) })
      expect(reply.status).toBe(200)
      expect(await reply.json()).toEqual({ result: 43, isolated: "undefined" })
      const invalid = await fetch(`${served.url}/double`, { method: "POST", body: JSON.stringify({ value: "x" }) })
      expect(invalid.status).toBe(400)
    } finally {
      await stopGroup(served.child.pid!)
    }
    const listed = await run("npx", ["--no-install", "jsonflow", "executions", "list", "--json"], {
      cwd: app,
      env: outsideEnv(),
      encoding: "utf8"
    })
    const executions = JSON.parse(listed.stdout) as ReadonlyArray<{ flowId: string; status: string }>
    expect(executions.filter((e) => e.flowId === "double-js").map((e) => e.status)).toContain("succeeded")
  }, 60_000)
})

describe("an optional protocol library that is not installed", () => {
  it("the runner refuses to start with the typed error naming the package and its install command", async () => {
    mkdirSync(join(app, "soap-flows"), { recursive: true })
    writeFileSync(join(app, "soap-flows", "double.flow.json"), JSON.stringify(doubleJs))
    writeFileSync(
      join(app, "soap.runner.json"),
      JSON.stringify({ connectors: { soap: { clients: { orders: { wsdl: "http://127.0.0.1:1/orders?wsdl" } } } } })
    )
    const failed = await run(
      "npx",
      ["--no-install", "jsonflow", "serve", "soap-flows", "--config", "soap.runner.json"],
      {
        cwd: app,
        env: outsideEnv({ PORT: "0", JSONFLOW_AUDIT_PATH: join(app, "soap-audit") }),
        encoding: "utf8",
        timeout: 30_000
      }
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e
    )
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain(
      'the SOAP connector needs the "soap" package, which is not installed: npm install soap@^1.13.0'
    )
    expect(failed.stderr).not.toMatch(/\n\s+at /)
  }, 60_000)
})

describe("the container image's layout: the tarballs and the optional libraries in /app", () => {
  beforeAll(() => {
    installConsumer(app, [...tarballs.map((t) => t.path), ...optionalPeers()])
    cpSync(join(repoRoot, "examples/flows"), join(app, "image-flows"), { recursive: true })
  }, 300_000)

  it("the Dockerfile installs the packed packages, not the workspace", () => {
    const [packStage, installStage, runtime] = stages()
    expect(packStage?.join("\n")).toMatch(/npm run pack -- \/packs/)
    expect(installStage?.join("\n")).toMatch(
      /npm install --omit=dev .*\/packs\/\*\.tgz \$\(cat \/packs\/optional-peers\.txt\)/
    )
    expect(runtime?.join("\n")).toMatch(/COPY --from=install --chown=node:node \/app \.\//)
    expect(runtime?.join("\n")).not.toMatch(/COPY (--from=pack )?.*packages/)
  })

  // No Docker engine runs here: this runs the image's ENTRYPOINT + CMD with its ENV in a directory laid out
  // as the install stage lays out /app (the same tarballs and optional libraries, the example flows).
  it("the entrypoint serves the example flows, passes its health check and stops on SIGTERM", async () => {
    const entrypoint = JSON.parse(instruction("ENTRYPOINT")[0]!) as Array<string>
    const cmd = JSON.parse(instruction("CMD")[0]!) as Array<string>
    expect(entrypoint[0]).toBe("node")
    const state = mkdtempSync(join(work, "state-"))
    const env = {
      ...envOf(),
      PORT: "0",
      JSONFLOW_SERVER_HOST: "127.0.0.1",
      JSONFLOW_FLOWS_PATHS: join(app, "image-flows"),
      JSONFLOW_AUDIT_PATH: join(state, "audit")
    }
    const served = await serve([...entrypoint.slice(2), ...cmd], env, entrypoint.slice(1, 2), {
      cwd: app,
      baseEnv: outsideEnv()
    })
    try {
      const r = await fetch(`${served.url}/double`, { method: "POST", body: '{"value":21}' })
      expect(await r.json()).toEqual({ result: 42 })
      // The TypeScript example (a module exporting a built flow) imports @jsonflow/core from the install.
      expect(await (await fetch(`${served.url}/hello/world`)).json()).toMatchObject({ message: "Hello, world" })
      const health = JSON.parse(instruction("HEALTHCHECK")[0]!.replace(/^.*CMD /, "")) as Array<string>
      const check = await run(health[0] === "node" ? process.execPath : health[0]!, health.slice(1), {
        env: { ...outsideEnv(), PORT: new URL(served.url).port }
      }).then(
        () => 0,
        (e: { code: number }) => e.code
      )
      expect(check).toBe(0)
    } finally {
      served.child.kill("SIGTERM")
    }
    expect(await served.exited).toBe(0)
  }, 60_000)
})
