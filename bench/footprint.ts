/**
 * Install footprint: what `npm install` puts on disk for a user of JSON-Flow, next to Node-RED installed the
 * same way in the same run. The @jsonflow/* packages are packed from this workspace (`npm pack`) and
 * installed from the tarballs into fresh projects outside it; their third-party dependencies and Node-RED
 * come from the npm registry.
 *
 * Run: `npm run bench:footprint` (a few minutes: five fresh installs).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Footprint, footprint, installConsumer, optionalPeers, packWorkspace } from "../scripts/packages.ts"

const NODE_RED = process.env.BENCH_NODE_RED ?? "node-red@4"

const work = mkdtempSync(join(tmpdir(), "jsonflow-footprint-"))
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1)

try {
  const tarballs = packWorkspace(join(work, "packs"))
  const tarball = (name: string) => tarballs.find((t) => t.name === name)!.path
  const all = tarballs.map((t) => t.path)
  const cases: ReadonlyArray<{ readonly name: string; readonly specs: ReadonlyArray<string> }> = [
    { name: "@jsonflow/core", specs: [tarball("@jsonflow/core")] },
    // npm cannot fetch unpublished @jsonflow/* dependencies, so the runner's come as tarballs too.
    { name: "@jsonflow/runner", specs: all },
    { name: "@jsonflow/runner + optional protocol libraries (the image)", specs: [...all, ...optionalPeers()] },
    { name: `Node-RED (${NODE_RED}, baseline)`, specs: [NODE_RED] }
  ]
  const results: Array<{ readonly name: string; readonly footprint: Footprint }> = []
  for (const [i, c] of cases.entries()) {
    const dir = installConsumer(join(work, `case-${i}`), c.specs)
    results.push({ name: c.name, footprint: footprint(dir) })
  }
  const baseline = results.at(-1)!.footprint
  console.log(`\nInstall footprint, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}\n`)
  console.log("| install | packages | MiB (file sizes) | MiB on disk (du -s) | on disk / Node-RED |")
  console.log("| --- | ---: | ---: | ---: | ---: |")
  for (const { name, footprint: f } of results) {
    console.log(
      `| ${name} | ${f.packages} | ${mib(f.bytes)} | ${mib(f.diskBytes)} | ${(f.diskBytes / baseline.diskBytes).toFixed(2)} |`
    )
  }
  for (const { name, footprint: f } of results.slice(0, -1)) {
    console.log(`\nLargest in ${name}: ${f.largest.map((p) => `${p.name} ${mib(p.bytes)}`).join(", ")}`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
