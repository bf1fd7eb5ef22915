/**
 * The published shape of the workspace: pack every `@jsonflow/*` package as npm would publish it, install the
 * tarballs into a project outside the workspace, and measure what that install puts on disk. Used by the
 * consumer test (`test/consumer.test.ts`), the footprint benchmark (`bench/footprint.ts`) and, through
 * `npm run pack`, the container image.
 *
 * @example
 * ```ts
 * const tarballs = packWorkspace("/tmp/packs")
 * const project = installConsumer("/tmp/app", tarballs.map((t) => t.path))
 * console.log(footprint(project).bytes)
 * ```
 *
 * @module packages
 */
import { execFileSync } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../", import.meta.url))

/** A publishable workspace package: everything under packages/ that is not private. */
export interface WorkspacePackage {
  readonly name: string
  readonly manifest: Readonly<Record<string, unknown>>
}

export const publishable = (): ReadonlyArray<WorkspacePackage> =>
  readdirSync(join(repoRoot, "packages"))
    .map((name) => join(repoRoot, "packages", name, "package.json"))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)
    .filter((manifest) => manifest.private !== true)
    .map((manifest) => ({ name: String(manifest.name), manifest }))

/** One tarball `npm pack` wrote, with the files in it (paths inside the package). */
export interface Tarball {
  readonly name: string
  readonly version: string
  readonly path: string
  readonly files: ReadonlyArray<string>
}

/**
 * An environment for npm and node outside the workspace: without the workspace's `@jsonflow/source` condition
 * (NODE_OPTIONS) and without the `npm_*` variables an enclosing `npm test` sets, so what runs sees only what
 * the tarballs hold.
 */
export const outsideEnv = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "NODE_OPTIONS" || key === "INIT_CWD" || key.toLowerCase().startsWith("npm_")) continue
    env[key] = value
  }
  return { ...env, ...extra }
}

/**
 * Packs every publishable package into `destination` with `npm pack` (each package's `prepack` builds its
 * dist/ first), as `npm publish` would.
 */
export const packWorkspace = (destination: string): ReadonlyArray<Tarball> => {
  mkdirSync(destination, { recursive: true })
  const out = execFileSync(
    "npm",
    ["pack", "--json", "--loglevel=error", "--workspace=packages", "--pack-destination", destination],
    { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] }
  )
  const packed = JSON.parse(out.slice(out.indexOf("["))) as ReadonlyArray<{
    name: string
    version: string
    filename: string
    files: ReadonlyArray<{ path: string }>
  }>
  return packed.map((p) => ({
    name: p.name,
    version: p.version,
    path: join(destination, p.filename),
    files: p.files.map((f) => f.path)
  }))
}

/**
 * Creates a plain ES module project in `dir` and `npm install`s the given tarballs (and any other specs, e.g.
 * `typescript@7.0.2`) into it, from the registry for third-party packages, as a user would.
 */
export const installConsumer = (dir: string, specs: ReadonlyArray<string>): string => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "jsonflow-consumer", private: true, type: "module" }, null, 2)}\n`
  )
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...specs], {
    cwd: dir,
    env: outsideEnv(),
    stdio: ["ignore", "inherit", "inherit"]
  })
  return dir
}

/**
 * What an install holds: packages as npm counts them ("added N packages": its hidden lockfile's entries,
 * not those bundled inside another package), bytes (file sizes) and bytes on disk (allocated blocks of every
 * file and directory, each inode once: what `du -s node_modules` reports).
 */
export interface Footprint {
  readonly packages: number
  readonly bytes: number
  readonly diskBytes: number
  /** The largest packages, by bytes of their own files (and of what they bundle; nested packages apart). */
  readonly largest: ReadonlyArray<{ readonly name: string; readonly bytes: number }>
}

/** Measures `<project>/node_modules` in one walk. */
export const footprint = (project: string): Footprint => {
  const root = join(project, "node_modules")
  const lock = JSON.parse(readFileSync(join(root, ".package-lock.json"), "utf8")) as {
    packages: Record<string, { readonly inBundle?: boolean; readonly link?: boolean }>
  }
  const installed = new Set(
    Object.entries(lock.packages)
      .filter(([, entry]) => entry.inBundle !== true && entry.link !== true)
      .map(([path]) => path)
  )
  const seen = new Set<string>()
  // Bytes of each installed package's files, nested packages excluded (what it bundles counts as its own).
  const own = new Map<string, number>()
  let bytes = 0
  let diskBytes = 0
  const walk = (relative: string, owner: string | undefined) => {
    const stat = lstatSync(join(project, relative))
    const inode = `${stat.dev}:${stat.ino}`
    if (seen.has(inode)) return
    seen.add(inode)
    diskBytes += stat.blocks * 512
    if (!stat.isDirectory()) {
      bytes += stat.size
      if (owner !== undefined) own.set(owner, (own.get(owner) ?? 0) + stat.size)
      return
    }
    const next = installed.has(relative) ? relative : owner
    for (const entry of readdirSync(join(project, relative))) walk(`${relative}/${entry}`, next)
  }
  walk("node_modules", undefined)
  const largest = [...own]
    .map(([path, size]) => ({
      name: path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length),
      bytes: size
    }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 12)
  return { packages: installed.size, bytes, diskBytes, largest }
}

/**
 * The optional peer dependencies of the packages (`name@range`): the protocol libraries a user installs only
 * for the connectors and triggers they use. The container image installs them all.
 */
export const optionalPeers = (): ReadonlyArray<string> => {
  const specs = new Map<string, string>()
  for (const { manifest } of publishable()) {
    const peers = (manifest.peerDependencies ?? {}) as Record<string, string>
    const meta = (manifest.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>
    for (const [name, range] of Object.entries(peers)) {
      if (meta[name]?.optional === true) specs.set(name, `${name}@${range}`)
    }
  }
  return [...specs.values()].sort()
}

// `node scripts/packages.ts [dir]` (`npm run pack -- dir`): the tarballs, and optional-peers.txt beside them.
const main = () => {
  const destination = process.argv[2] ?? join(repoRoot, ".pack")
  for (const tarball of packWorkspace(destination)) console.log(tarball.path)
  writeFileSync(join(destination, "optional-peers.txt"), `${optionalPeers().join("\n")}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
