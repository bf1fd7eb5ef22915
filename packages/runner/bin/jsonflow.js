#!/usr/bin/env node
// The `jsonflow` command. Sources are TypeScript run by Node >= 24's type stripping.
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  process.stderr.write(`jsonflow needs Node.js >= 24 (this is ${process.version})\n`)
  process.exit(2)
}
const { main } = await import("../src/cli/main.ts")
process.exitCode = await main(process.argv.slice(2))
