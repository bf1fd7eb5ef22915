#!/usr/bin/env node
// The `jsonflow` command. Sources are TypeScript run by Node >= 24's type stripping.
import module from "node:module"

const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  process.stderr.write(`jsonflow needs Node.js >= 24 (this is ${process.version})\n`)
  process.exit(2)
}
// Compiled code is cached on disk (NODE_COMPILE_CACHE, or the OS temp dir): later starts skip most of the
// parsing and compiling of effect and the SDK, which is most of the start-up time.
module.enableCompileCache?.()
const { main } = await import("../src/cli/main.ts")
process.exitCode = await main(process.argv.slice(2))
