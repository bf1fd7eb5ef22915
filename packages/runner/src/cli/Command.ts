/**
 * The shape of one `jsonflow` sub-command: each lives in `commands/<name>.ts` and is listed in `main.ts`.
 *
 * @module Command
 */

/** Where a command writes; tests pass buffers, the binary passes the process streams. */
export interface Io {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly cwd: string
  /** Where `JSONFLOW_*` settings are read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** A sub-command: `run` resolves to the process exit code. */
export interface Command {
  readonly name: string
  /** One line for `jsonflow help`. */
  readonly summary: string
  /** Usage text shown by `jsonflow help <name>` and on argument errors. */
  readonly usage: string
  readonly run: (args: ReadonlyArray<string>, io: Io) => Promise<number>
}
