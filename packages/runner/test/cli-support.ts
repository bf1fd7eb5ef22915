/**
 * Support for the CLI tests: `jsonflow` as a child process (what a user runs: a fresh process per command,
 * so stores really close and locks are really released), `jsonflow serve` started as `npm start` starts it,
 * and the same CLI in this process for the cheaper cases.
 *
 * @module cli-support
 */
import { type ChildProcess, spawn } from "node:child_process"
import { dirname } from "node:path"
import { main } from "../src/cli/main.ts"
import { bin, repoRoot } from "./support.ts"

/** What a command printed and returned. */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a child: this one, without `JSONFLOW_*` settings a developer may have exported. */
export const cleanEnv = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("JSONFLOW_") && key !== "PORT" && key !== "FLOW_ID") env[key] = value
  }
  // Node 24 (this process's) first on the PATH: `#!/usr/bin/env node` and `npx` then run it.
  env.PATH = `${dirname(process.execPath)}:${repoRoot}node_modules/.bin:${env.PATH ?? ""}`
  return { ...env, ...extra }
}

/**
 * Runs `node bin/jsonflow.js <args>` in `cwd` and resolves when it exits.
 *
 * @example
 * ```ts
 * const { code, stdout } = await jsonflow(["executions", "list"], { cwd })
 * ```
 */
export const jsonflow = (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> }
): Promise<Ran> => shell(process.execPath, [bin, ...args], options)

/** Runs a command line through `sh -c` (a line printed for users, run as they would run it). */
export const sh = (
  line: string,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> }
): Promise<Ran> => shell("sh", ["-c", line], options)

const shell = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> }
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env: cleanEnv(options.env) })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

/**
 * The CLI in this process, with its own working directory and environment (no `process.env` leaks in).
 *
 * @example
 * ```ts
 * const { code, stderr } = await cli(["run", "flow.json"], { cwd, env: { JSONFLOW_AUDIT_SNAPSHOTS: "full" } })
 * ```
 */
export const cli = async (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> }
): Promise<Ran> => {
  let stdout = ""
  let stderr = ""
  const code = await main(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: options.cwd,
    env: options.env ?? {}
  })
  return { code, stdout, stderr }
}

/** A started server process: its output so far, and how it ended. */
export interface Started {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** Sends SIGTERM to the process group (what Ctrl-C in a terminal reaches) and waits for the exit code. */
  readonly stop: () => Promise<number | null>
}

/**
 * Starts a simple command line through `sh -c` in its own process group and resolves once its stdout or
 * stderr matches `ready`.
 *
 * @example
 * ```ts
 * const served = await start("jsonflow serve examples/flows", { cwd: repoRoot, ready: /\nTry:\n/ })
 * ```
 */
export const start = (
  line: string,
  options: {
    readonly cwd: string
    readonly env?: Readonly<Record<string, string>>
    readonly ready: RegExp
    readonly timeoutMs?: number
  }
): Promise<Started> =>
  new Promise((resolve, reject) => {
    // `exec`: the shell becomes the command, so the exit code is the command's and not a shell killed by
    // the signal (a simple command line, as npm scripts are).
    const child = spawn("sh", ["-c", `exec ${line}`], { cwd: options.cwd, env: cleanEnv(options.env), detached: true })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const stop = async () => {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGTERM")
        } catch {
          // already gone
        }
      }
      return exited
    }
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      reject(new Error(`"${line}" did not get ready in time\nstdout: ${out}\nstderr: ${err}`))
    }, options.timeoutMs ?? 60_000)
    const check = () => {
      if (options.ready.test(out) || options.ready.test(err)) {
        clearTimeout(timer)
        resolve({ child, stdout: () => out, stderr: () => err, exited, stop })
      }
    }
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      check()
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString()
      check()
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`"${line}" exited with ${code} before it was ready\nstdout: ${out}\nstderr: ${err}`))
    })
  })

/** The execution id `jsonflow run` printed on stderr. */
export const executionIdOf = (stderr: string): string => {
  const match = /execution ([0-9a-f-]{36}) recorded in /.exec(stderr)
  if (match === null) throw new Error(`no recorded execution id in:\n${stderr}`)
  return match[1]!
}
