#!/usr/bin/env node
// The `jsonflow` command. It imports the package's own `./cli` export: the compiled dist/ when installed
// from npm, the TypeScript sources in this repository (whose npm scripts and tests set the
// `@jsonflow/source` condition, see .npmrc).
import module from "node:module"

const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  process.stderr.write(`jsonflow needs Node.js >= 24 (this is ${process.version})\n`)
  process.exit(2)
}
// Compiled code is cached on disk (NODE_COMPILE_CACHE, or the OS temp dir): later starts skip most of the
// parsing and compiling of effect and the SDK, which is most of the start-up time.
module.enableCompileCache?.()
const { main } = await import("@jsonflow/runner/cli")
process.exitCode = await main(process.argv.slice(2))
