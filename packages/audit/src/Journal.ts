/**
 * The spill journal: where the audit buffer puts entries it cannot hold (the buffer is full because the sink
 * is slow or down) and what it could not write at shutdown. One directory per sink; files of JSON lines,
 * each line one entry **after redaction**. When the sink works again, or when the next process starts, the
 * buffer claims the files (an atomic rename, so two processes never replay the same file), writes their
 * entries, and deletes them. Sinks are idempotent on event id, so replaying a file twice is harmless.
 *
 * Appends are asynchronous and batched: `add` only pushes onto an array, and one write at a time moves the
 * array to disk, so spilling never blocks an execution.
 *
 * @module Journal
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { appendFile } from "node:fs/promises"
import { join } from "node:path"
import type { Entry } from "./Record.ts"
import * as Serialize from "./Serialize.ts"

/** A journal file claimed for replay. */
export interface Claimed {
  readonly path: string
}

export interface Journal {
  readonly dir: string
  /** Queues an entry for the current spill file (prepared lazily, on the write). */
  readonly add: (entry: Entry) => void
  /** Entries added and not yet on disk. */
  readonly pendingCount: () => number
  /** Waits until every added entry is on disk. */
  readonly settle: () => Promise<void>
  /** Writes prepared entries at once, synchronously (shutdown). */
  readonly addSync: (entries: ReadonlyArray<Entry>) => void
  /** Closes the current spill file and claims every unclaimed file of the directory (own and orphaned). */
  readonly claim: () => Promise<ReadonlyArray<Claimed>>
  /** Whether files are waiting to be replayed (or entries to be written to one). */
  readonly hasWork: () => boolean
  /** Reads a claimed file's entries (a torn last line, from a crash mid-append, is skipped). */
  readonly read: (file: Claimed) => ReadonlyArray<Entry>
  readonly remove: (file: Claimed) => void
  /** Appends entries the sink rejected as malformed (kept for a person to look at, never dropped). */
  readonly deadLetter: (entries: ReadonlyArray<Entry>) => void
}

const SPILL = /^spill-(\d+)-(\d+)-(\d+)\.jsonl$/
const CLAIMED = /^claimed-(\d+)-(.+)$/

const alive = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Opens (creates) the journal directory of one sink.
 *
 * @example
 * ```ts
 * import { Journal, Redaction } from "@jsonflow/audit"
 * const journal = Journal.open(".jsonflow/audit-journal/postgres", Redaction.make().entry)
 * ```
 */
export const open = (dir: string, prepare: (entry: Entry) => Entry): Journal => {
  mkdirSync(dir, { recursive: true })
  let pending: Array<Entry> = []
  let writing: Promise<void> | undefined
  let fileSeq = 0
  let current = ""
  let currentHasData = false
  // Files left by earlier processes are looked for once, at the first claim.
  let scanned = false
  const nextFile = () => {
    current = join(dir, `spill-${Date.now()}-${process.pid}-${fileSeq++}.jsonl`)
    currentHasData = false
  }
  nextFile()

  const serialize = (entries: ReadonlyArray<Entry>) => {
    let text = ""
    for (const entry of entries) text += `${Serialize.entry(prepare(entry))}\n`
    return text
  }

  const pump = (): Promise<void> => {
    if (writing !== undefined) return writing
    if (pending.length === 0) return Promise.resolve()
    const run = async () => {
      while (pending.length > 0) {
        const chunk = pending
        pending = []
        const target = current
        currentHasData = true
        await appendFile(target, serialize(chunk))
      }
    }
    writing = run().finally(() => {
      writing = undefined
    })
    return writing
  }

  const unclaimedFiles = (): Array<string> => {
    if (!existsSync(dir)) return []
    return readdirSync(dir).filter((name) => {
      const spill = SPILL.exec(name)
      if (spill !== null) return join(dir, name) !== current || currentHasData
      const claimed = CLAIMED.exec(name)
      // A file claimed by a process that died mid-replay is up for grabs again.
      return claimed !== null && !alive(Number(claimed[1]))
    })
  }

  return {
    dir,
    add: (entry) => {
      pending.push(entry)
      if (writing === undefined) void pump().catch(() => undefined)
    },
    pendingCount: () => pending.length,
    settle: async () => {
      while (writing !== undefined || pending.length > 0) await pump()
    },
    addSync: (entries) => {
      if (entries.length === 0) return
      appendFileSync(current, serialize(entries))
      currentHasData = true
    },
    claim: async () => {
      while (writing !== undefined || pending.length > 0) await pump()
      if (currentHasData) nextFile()
      scanned = true
      const claimed: Array<Claimed> = []
      for (const name of unclaimedFiles().sort()) {
        const base = CLAIMED.exec(name)?.[2] ?? name
        const target = join(dir, `claimed-${process.pid}-${base}`)
        try {
          renameSync(join(dir, name), target)
          claimed.push({ path: target })
        } catch {
          // Another process claimed it first.
        }
      }
      return claimed
    },
    hasWork: () => !scanned || pending.length > 0 || writing !== undefined || currentHasData,
    read: (file) => {
      const entries: Array<Entry> = []
      let text: string
      try {
        text = readFileSync(file.path, "utf8")
      } catch {
        return entries
      }
      for (const line of text.split("\n")) {
        if (line === "") continue
        try {
          entries.push(JSON.parse(line) as Entry)
        } catch {
          // A torn line from a crash mid-append.
        }
      }
      return entries
    },
    remove: (file) => rmSync(file.path, { force: true }),
    deadLetter: (entries) => {
      if (entries.length === 0) return
      appendFileSync(join(dir, "dead-letter.jsonl"), entries.map((e) => `${JSON.stringify(e)}\n`).join(""))
    }
  }
}
