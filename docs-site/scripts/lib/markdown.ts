/**
 * Markdown helpers for generated pages. VitePress compiles every page as a Vue template, so text that is not
 * code must not contain `{{` (interpolation) or a stray `<` (an unknown tag); code spans and fences are
 * escaped by VitePress itself.
 *
 * @module markdown
 */

const HTML_TAGS = new Set([
  "a",
  "br",
  "code",
  "details",
  "div",
  "em",
  "img",
  "kbd",
  "li",
  "ol",
  "p",
  "pre",
  "span",
  "strong",
  "sub",
  "summary",
  "sup",
  "table",
  "tbody",
  "td",
  "th",
  "thead",
  "tr",
  "ul"
])

/** Escapes prose (no code inside): mustaches and `<` that does not open a plain HTML tag or comment. */
const escapeText = (text: string): string =>
  text
    .replace(/\{\{/g, "&#123;&#123;")
    .replace(/\}\}/g, "&#125;&#125;")
    .replace(/<(\/?)([A-Za-z][\w-]*|!--)?/g, (whole, slash: string, tag: string | undefined) =>
      tag !== undefined && (tag === "!--" || HTML_TAGS.has(tag.toLowerCase())) ? whole : `&lt;${slash}${tag ?? ""}`
    )

const html = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** Inline code holding `{{` is not escaped by VitePress: write it as `<code v-pre>`. */
const safeInlineCode = (span: string): string => {
  if (!span.includes("{{") && !span.includes("}}")) return span
  const inner = span.replace(/^(`+)\s?([\s\S]*?)\s?\1$/, "$2")
  return `<code v-pre>${html(inner)}</code>`
}

/** Escapes the prose of a Markdown document, leaving fenced blocks and inline code as they are. */
export const escapeMarkdown = (markdown: string): string => {
  const out: Array<string> = []
  let fence: string | undefined
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (fence !== undefined) {
      out.push(line)
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
      continue
    }
    if (marker !== undefined) {
      fence = marker
      out.push(line)
      continue
    }
    out.push(
      line
        .split(/(`+[^`]*`+)/)
        .map((part, i) => (i % 2 === 1 ? safeInlineCode(part) : escapeText(part)))
        .join("")
    )
  }
  return out.join("\n")
}

/** Inline code that survives any content (backticks inside, pipes in tables). */
export const code = (text: string): string => {
  const ticks = text.includes("`") ? "``" : "`"
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : ""
  return safeInlineCode(`${ticks}${pad}${text.replace(/\|/g, "\\|").replace(/\n/g, " ")}${pad}${ticks}`)
}

/** A table cell from prose: one line, pipes escaped. */
export const cell = (text: string): string => escapeMarkdown(text.replace(/\s*\n\s*/g, " ")).replace(/\|/g, "\\|")

/** A fenced code block whose fence is longer than any backtick run in the content. */
export const fence = (lang: string, content: string): string => {
  const longest = Math.max(2, ...[...content.matchAll(/`+/g)].map((m) => m[0].length))
  const ticks = "`".repeat(longest + 1)
  return `${ticks}${lang}\n${content.replace(/\n+$/, "")}\n${ticks}`
}

/** A slug usable as an explicit heading anchor (`{#slug}`): letters, digits and `-`. */
export const slug = (text: string): string =>
  text
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase()

/** The YAML front matter of a generated page. */
export const frontMatter = (fields: Readonly<Record<string, string | boolean | number>>): string =>
  `---\n${Object.entries(fields)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? JSON.stringify(v) : String(v)}`)
    .join("\n")}\n---\n`

/** The note every generated page carries at its end. */
export const generatedNote = (source: string): string =>
  `\n\n---\n\n_Generated at build time from ${escapeMarkdown(source)}._\n`
