/**
 * Package READMEs as page sections. A README is written for GitHub; on the site its title is dropped (the
 * page has one), links to other files of the repository point to the page that documents them or become
 * plain text, and prose is escaped for VitePress.
 *
 * @module readme
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, relative, resolve } from "node:path"
import { escapeMarkdown } from "./markdown.ts"

/** Repository path (relative, `/`-separated) -> site page, for links that leave a README. */
export type PageMap = ReadonlyMap<string, string>

const rewriteLinks = (markdown: string, file: string, repoRoot: string, pages: PageMap): string => {
  const out: Array<string> = []
  let inFence = false
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence
    if (inFence) {
      out.push(line)
      continue
    }
    out.push(
      line.replace(
        /(!?)\[([^\]]*)\]\(([^)\s]+)(\s+"[^"]*")?\)/g,
        (whole, bang: string, label: string, target: string) => {
          if (/^[a-z]+:/i.test(target) || target.startsWith("#")) return whole
          const [path = "", hash] = target.split("#")
          const repoPath = relative(repoRoot, resolve(dirname(file), path)).replace(/\\/g, "/")
          const page = pages.get(repoPath) ?? pages.get(repoPath.replace(/\/$/, ""))
          if (page !== undefined) return `${bang}[${label}](${page}${hash ? `#${hash}` : ""})`
          // A file of the repository that has no page: keep the words, name the file.
          return bang ? "" : label.startsWith("`") ? label : `${label} (\`${repoPath}\`)`
        }
      )
    )
  }
  return out.join("\n")
}

/** Splits a Markdown document into its `## ` sections (the text before the first one is `""`). */
export const sections = (markdown: string): ReadonlyArray<{ readonly heading: string; readonly body: string }> => {
  const result: Array<{ heading: string; body: string }> = [{ heading: "", body: "" }]
  let inFence = false
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence
    const heading = inFence ? null : /^## (.*)$/.exec(line)
    if (heading !== null) result.push({ heading: heading[1]!.trim(), body: `${line}\n` })
    else result[result.length - 1]!.body += `${line}\n`
  }
  return result
}

const promote = (markdown: string): string => {
  let inFence = false
  return markdown
    .split("\n")
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) inFence = !inFence
      return !inFence && /^###+ /.test(line) ? line.slice(1) : line
    })
    .join("\n")
}

/**
 * A README (or some of its `##` sections, their headings dropped) ready to include in a page, or `undefined` when the file is not
 * there yet. The first `# ` title is dropped.
 */
export const readmeFragment = (
  file: string,
  repoRoot: string,
  pages: PageMap,
  select?: (heading: string) => boolean,
  options: { readonly keepHeadings?: boolean; readonly preamble?: boolean } = {}
): string | undefined => {
  if (!existsSync(file)) return undefined
  let markdown = readFileSync(file, "utf8").replace(/\r\n/g, "\n")
  markdown = markdown.replace(/^\s*# [^\n]*\n/, "")
  if (select !== undefined) {
    const all = sections(markdown)
    const chosen = all.filter((s) => s.heading !== "" && select(s.heading))
    if (chosen.length === 0) return undefined
    const preamble = options.preamble ? `${all[0]?.body ?? ""}\n` : ""
    markdown = options.keepHeadings
      ? preamble + chosen.map((s) => s.body).join("\n")
      : // The page is about the section: drop its heading and lift its sub-headings one level.
        preamble + promote(chosen.map((s) => s.body.replace(/^## [^\n]*\n/, "")).join("\n"))
  }
  return escapeMarkdown(rewriteLinks(markdown, file, repoRoot, pages)).trim()
}
