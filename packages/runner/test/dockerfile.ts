/** The runner image's Dockerfile, read as the tests need it: the last stage's instructions and its ENV. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "./support.ts"

export const deployDir = join(repoRoot, "packages/runner/deploy")
export const dockerfile = readFileSync(join(deployDir, "Dockerfile"), "utf8")

/** The instructions of each stage, with line continuations joined and comments dropped. */
export const stages = (): ReadonlyArray<ReadonlyArray<string>> =>
  dockerfile
    .replace(/\\\n\s*/g, " ")
    .split(/^(?=FROM )/m)
    .filter((stage) => stage.startsWith("FROM "))
    .map((stage) => stage.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#")))

/** The arguments of every `name` instruction of the runtime (last) stage. */
export const instruction = (name: string): ReadonlyArray<string> =>
  stages()
    .at(-1)!
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim())

/** The runtime stage's ENV, as a record. */
export const envOf = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const line of instruction("ENV")) {
    for (const match of line.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g)) env[match[1]!] = match[2]!.replace(/^"|"$/g, "")
  }
  return env
}
