#!/usr/bin/env node
// Why: the npm registry this project is built against serves only the Linux builds of some native tools
// (Biome's CLI for other platforms answers 404). npm then writes a lockfile without entries for those
// optional platform packages, and `npm ci` rejects it as out of sync. This adds the missing entries
// (name, version, os/cpu/libc, optional) so the lockfile is complete: `npm ci` skips them on Linux and
// fetches the right one elsewhere. Idempotent; prints what it added.
import { readFileSync, writeFileSync } from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(file, "utf8"))
const packages = lock.packages
const osOf = (name) =>
  ["darwin", "linux", "win32", "android", "freebsd", "openbsd", "sunos", "aix"].find((os) => name.includes(os))
const cpuOf = (name) =>
  ["arm64", "x64", "ia32", "arm", "ppc64", "s390x", "riscv64", "loong64"].find((cpu) =>
    new RegExp(`[-_]${cpu}(\\b|-|_)`).test(name)
  )
const added = []
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (packages[key] !== undefined || packages[`${path}/node_modules/${name}`] !== undefined) continue
    const os = osOf(name)
    const cpu = cpuOf(name)
    if (os === undefined || cpu === undefined) continue
    packages[key] = {
      version: version.replace(/^[\^~=]/, ""),
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(name.includes("musl") ? { libc: ["musl"] } : {}),
      optional: true,
      os: [os]
    }
    added.push(`${name}@${packages[key].version}`)
  }
}
if (added.length > 0) {
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
  )
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
  console.log(`complete-lockfile: added ${added.join(", ")}`)
}
