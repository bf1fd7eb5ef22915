/**
 * The API reference: one page per public module of each package, read from the sources' doc comments.
 *
 * Public modules are found from each package's `exports` map: an entry file's `export * as Name from`
 * lines are namespaces (one page each, nested namespaces included), its own declarations make a module of
 * the subpath. Signatures are printed as written in the source (like Effect's docgen), so a Schema reads as
 * its definition; only a function or constant without a written type asks the type checker for it.
 *
 * TypeScript 7 (the workspace compiler) has no JavaScript API, so this uses TypeScript 5.9, a dev
 * dependency of the docs site, for parsing and those few types.
 *
 * @module api
 */
import { readFileSync } from "node:fs"
import { dirname, relative, resolve } from "node:path"
import ts from "typescript"
import { code, escapeMarkdown, fence, frontMatter, generatedNote, slug } from "./markdown.ts"
import { sourceEntries } from "./probe.ts"

export interface PackageInfo {
  /** npm name, `@jsonflow/core`. */
  readonly name: string
  /** Folder under packages/ and under /api/, `core`. */
  readonly dir: string
  readonly root: string
}

export interface Doc {
  readonly text: string
  readonly examples: ReadonlyArray<string>
  readonly see: ReadonlyArray<string>
  readonly deprecated: string | undefined
}

export interface Member {
  readonly name: string
  readonly signature: string
  readonly doc: Doc
}

export interface Declaration {
  readonly name: string
  readonly kind: "function" | "const" | "class" | "interface" | "type" | "enum"
  readonly signature: string
  readonly doc: Doc
  readonly members: ReadonlyArray<Member>
}

export interface Module {
  readonly pkg: PackageInfo
  /** `["Nflow", "Contract"]`; a subpath module is named after the subpath (`["testing"]`). */
  readonly path: ReadonlyArray<string>
  readonly file: string
  /** How to import it. */
  readonly imports: Array<string>
  readonly doc: Doc
  readonly declarations: Array<Declaration>
}

const EMPTY_DOC: Doc = { text: "", examples: [], see: [], deprecated: undefined }

/** Parses a `/** ... *\/` comment: the description, `@example` blocks, `@see` and `@deprecated`. */
export const parseDoc = (comment: string | undefined): Doc => {
  if (comment === undefined) return EMPTY_DOC
  const body = comment
    .replace(/^\/\*\*\s?/, "")
    .replace(/\s*\*\/$/, "")
    .split("\n")
    .map((line) => line.replace(/^\s*\* ?/, ""))
    .join("\n")
  const parts = body.split(/\n?^@(?=[a-zA-Z])/m)
  const text = parts[0]?.trim() ?? ""
  const examples: Array<string> = []
  const see: Array<string> = []
  let deprecated: string | undefined
  for (const part of parts.slice(1)) {
    const tag = /^(\w+)\s*/.exec(part)
    if (tag === null) continue
    const content = part.slice(tag[0].length).replace(/\s+$/, "")
    if (tag[1] === "example") examples.push(/^\s*(```|~~~)/.test(content) ? content : fence("ts", content))
    else if (tag[1] === "see") see.push(content)
    else if (tag[1] === "deprecated") deprecated = content || "deprecated"
  }
  return { text, examples, see, deprecated }
}

const jsDocOf = (node: ts.Node, source: ts.SourceFile): string | undefined => {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? []
  const docs = ranges.map((r) => source.text.slice(r.pos, r.end)).filter((c) => c.startsWith("/**"))
  return docs.at(-1)
}

const moduleDoc = (source: ts.SourceFile): Doc => {
  const first = source.statements[0]
  if (first === undefined) return EMPTY_DOC
  const ranges = ts.getLeadingCommentRanges(source.text, first.getFullStart()) ?? []
  const comment = ranges.map((r) => source.text.slice(r.pos, r.end)).find((c) => c.includes("@module"))
  return parseDoc(comment)
}

const hasExport = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const isPrivate = (member: ts.ClassElement): boolean =>
  (member.name !== undefined && ts.isPrivateIdentifier(member.name)) ||
  (ts.canHaveModifiers(member) &&
    (ts.getModifiers(member) ?? []).some(
      (m) =>
        m.kind === ts.SyntaxKind.PrivateKeyword ||
        m.kind === ts.SyntaxKind.ProtectedKeyword ||
        m.kind === ts.SyntaxKind.OverrideKeyword
    ))

const dedent = (text: string): string => {
  const lines = text.split("\n")
  const indents = lines
    .slice(1)
    .filter((l) => l.trim() !== "")
    .map((l) => /^ */.exec(l)![0].length)
  const strip = Math.min(...indents, Number.POSITIVE_INFINITY)
  if (!Number.isFinite(strip) || strip === 0) return text
  return [lines[0], ...lines.slice(1).map((l) => l.slice(Math.min(strip, /^ */.exec(l)![0].length)))].join("\n")
}

const withoutExport = (text: string): string => text.replace(/^export\s+(default\s+)?/, "")

/** The text of a node from its start up to (not including) `until`, trailing `{`/`=>`/`=` removed. */
const head = (node: ts.Node, source: ts.SourceFile, until: number): string =>
  withoutExport(source.text.slice(node.getStart(source), until).trim())
    .replace(/\s*(\{|=>|=)\s*$/, "")
    .trim()

const MAX_INITIALIZER_LINES = 40

/** Builds the type checker on first use: only constants and functions without a written type need it. */
class Types {
  #program: ts.Program | undefined
  readonly #roots: ReadonlyArray<string>

  constructor(roots: ReadonlyArray<string>) {
    this.#roots = roots
  }

  #checker(): ts.TypeChecker {
    if (this.#program === undefined) {
      this.#program = ts.createProgram(this.#roots, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        exactOptionalPropertyTypes: true,
        allowImportingTsExtensions: true,
        // Imports between the packages resolve to their sources, as in the workspace's tsconfig.
        customConditions: ["@jsonflow/source"],
        noEmit: true,
        skipLibCheck: true,
        types: ["node"]
      })
    }
    return this.#program.getTypeChecker()
  }

  /** The declared or inferred type of a variable, printed (long types are cut by TypeScript). */
  typeOf(declaration: ts.VariableDeclaration, file: string): string | undefined {
    const checker = this.#checker()
    const source = this.#program?.getSourceFile(file)
    const found = source === undefined ? undefined : findDeclaration(source, declaration.name.getText())
    if (found === undefined) return undefined
    return checker.typeToString(checker.getTypeAtLocation(found), found, ts.TypeFormatFlags.NoTypeReduction)
  }
}

const findDeclaration = (source: ts.SourceFile, name: string): ts.VariableDeclaration | undefined => {
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue
    for (const d of statement.declarationList.declarations) if (d.name.getText(source) === name) return d
  }
  return undefined
}

const functionLike = (node: ts.Expression): ts.ArrowFunction | ts.FunctionExpression | undefined => {
  let current = node
  while (ts.isParenthesizedExpression(current) || ts.isAsExpression(current) || ts.isSatisfiesExpression(current)) {
    current = current.expression
  }
  return ts.isArrowFunction(current) || ts.isFunctionExpression(current) ? current : undefined
}

const variableSignature = (
  declaration: ts.VariableDeclaration,
  keyword: string,
  source: ts.SourceFile,
  types: Types
): string => {
  const name = declaration.name.getText(source)
  if (declaration.type !== undefined) return `${keyword} ${name}: ${declaration.type.getText(source)}`
  const init = declaration.initializer
  if (init === undefined) return `${keyword} ${name}`
  const fn = functionLike(init)
  if (fn !== undefined) {
    const typeParams = fn.typeParameters ? `<${fn.typeParameters.map((t) => t.getText(source)).join(", ")}>` : ""
    const params = fn.parameters.map((p) => p.getText(source)).join(", ")
    const returns = fn.type?.getText(source) ?? returnTypeOf(types, declaration, source) ?? "unknown"
    return `${keyword} ${name}: ${typeParams}(${params}) => ${returns}`
  }
  const text = init.getText(source)
  if (/^(Schema|Context|Layer)\./.test(text) && text.split("\n").length <= MAX_INITIALIZER_LINES) {
    return `${keyword} ${name} = ${dedent(text)}`
  }
  if (ts.isLiteralExpression(init) || ts.isNumericLiteral(init)) return `${keyword} ${name} = ${text}`
  return `${keyword} ${name}: ${types.typeOf(declaration, source.fileName) ?? "unknown"}`
}

const returnTypeOf = (types: Types, declaration: ts.VariableDeclaration, source: ts.SourceFile): string | undefined => {
  const printed = types.typeOf(declaration, source.fileName)
  if (printed === undefined) return undefined
  const arrow = printed.lastIndexOf("=> ")
  return arrow === -1 ? undefined : printed.slice(arrow + 3)
}

const classDeclaration = (node: ts.ClassDeclaration, source: ts.SourceFile): Omit<Declaration, "doc"> => {
  const name = node.name?.getText(source) ?? "default"
  const header = head(node, source, node.members.pos)
  const members: Array<Member> = []
  const lines: Array<string> = []
  for (const member of node.members) {
    if (isPrivate(member) || ts.isClassStaticBlockDeclaration(member) || ts.isSemicolonClassElement(member)) continue
    const body = (member as { readonly body?: ts.Node }).body
    const signature = dedent(
      body === undefined
        ? member.getText(source).replace(/;$/, "")
        : source.text.slice(member.getStart(source), body.getStart(source)).trim()
    )
    if (ts.isPropertyDeclaration(member) && member.initializer !== undefined) continue
    lines.push(signature)
    const doc = parseDoc(jsDocOf(member, source))
    const memberName = member.name?.getText(source) ?? "constructor"
    if (doc.text || doc.examples.length > 0) members.push({ name: memberName, signature, doc })
  }
  const indented = lines.map((l) => l.replace(/^/gm, "  ")).join("\n")
  return {
    name,
    kind: "class",
    signature: lines.length === 0 ? `${header} {}` : `${header} {\n${indented}\n}`,
    members
  }
}

/** The exported declarations of one file, by name, in source order. */
const declarationsOf = (source: ts.SourceFile, types: Types): Map<string, Array<Declaration>> => {
  const out = new Map<string, Array<Declaration>>()
  const add = (d: Declaration) => out.set(d.name, [...(out.get(d.name) ?? []), d])
  const local = new Map<string, ts.Statement>()
  for (const statement of source.statements) {
    if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name
    ) {
      local.set(statement.name.text, statement)
    } else if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) local.set(d.name.getText(source), statement)
    }
  }
  const emit = (statement: ts.Statement, only?: string) => {
    const doc = parseDoc(jsDocOf(statement, source))
    if (ts.isFunctionDeclaration(statement) && statement.name) {
      // With overloads, the implementation signature is not public.
      if (statement.body !== undefined && local.get(statement.name.text) !== statement) return
      const isImplementation =
        statement.body !== undefined &&
        source.statements.some(
          (s) => s !== statement && ts.isFunctionDeclaration(s) && s.name?.text === statement.name?.text && !s.body
        )
      if (isImplementation) return
      const end = statement.body?.getStart(source) ?? statement.end
      add({ name: statement.name.text, kind: "function", signature: head(statement, source, end), doc, members: [] })
    } else if (ts.isVariableStatement(statement)) {
      const keyword = statement.declarationList.flags & ts.NodeFlags.Const ? "const" : "let"
      for (const d of statement.declarationList.declarations) {
        const name = d.name.getText(source)
        if (only !== undefined && name !== only) continue
        add({ name, kind: "const", signature: variableSignature(d, keyword, source, types), doc, members: [] })
      }
    } else if (ts.isClassDeclaration(statement)) {
      add({ ...classDeclaration(statement, source), doc })
    } else if (ts.isInterfaceDeclaration(statement)) {
      add({
        name: statement.name.text,
        kind: "interface",
        signature: withoutExport(statement.getText(source)),
        doc,
        members: []
      })
    } else if (ts.isTypeAliasDeclaration(statement)) {
      add({
        name: statement.name.text,
        kind: "type",
        signature: withoutExport(statement.getText(source)),
        doc,
        members: []
      })
    } else if (ts.isEnumDeclaration(statement)) {
      add({
        name: statement.name.text,
        kind: "enum",
        signature: withoutExport(statement.getText(source)),
        doc,
        members: []
      })
    }
  }
  for (const statement of source.statements) {
    if (hasExport(statement)) emit(statement)
    // `export { a, b }` of local declarations.
    if (ts.isExportDeclaration(statement) && statement.moduleSpecifier === undefined && statement.exportClause) {
      if (!ts.isNamedExports(statement.exportClause)) continue
      for (const spec of statement.exportClause.elements) {
        const target = local.get((spec.propertyName ?? spec.name).text)
        if (target !== undefined && !hasExport(target)) emit(target, (spec.propertyName ?? spec.name).text)
      }
    }
  }
  return out
}

class Reader {
  readonly #sources = new Map<string, ts.SourceFile>()
  readonly #decls = new Map<string, Map<string, Array<Declaration>>>()
  readonly types: Types

  constructor(types: Types) {
    this.types = types
  }

  source(file: string): ts.SourceFile {
    let source = this.#sources.get(file)
    if (source === undefined) {
      source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true)
      this.#sources.set(file, source)
    }
    return source
  }

  declarations(file: string): Map<string, Array<Declaration>> {
    let decls = this.#decls.get(file)
    if (decls === undefined) {
      decls = declarationsOf(this.source(file), this.types)
      this.#decls.set(file, decls)
    }
    return decls
  }

  /** Follows `import { x } from "./y.ts"` and `export { x } from` chains to a name's declarations. */
  resolve(file: string, name: string, depth = 0): ReadonlyArray<Declaration> {
    const own = this.declarations(file).get(name)
    if (own !== undefined || depth > 8) return own ?? []
    for (const statement of this.source(file).statements) {
      const specifier =
        (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
        statement.moduleSpecifier !== undefined &&
        ts.isStringLiteral(statement.moduleSpecifier)
          ? statement.moduleSpecifier.text
          : undefined
      if (specifier === undefined || !specifier.startsWith(".")) continue
      const target = resolve(dirname(file), specifier)
      if (ts.isExportDeclaration(statement) && statement.exportClause === undefined) {
        const found = this.resolve(target, name, depth + 1)
        if (found.length > 0) return found
        continue
      }
      let names: ReadonlyArray<ts.ImportSpecifier | ts.ExportSpecifier> = []
      if (ts.isImportDeclaration(statement)) {
        const bindings = statement.importClause?.namedBindings
        if (bindings !== undefined && ts.isNamedImports(bindings)) names = bindings.elements
      } else if (
        ts.isExportDeclaration(statement) &&
        statement.exportClause &&
        ts.isNamedExports(statement.exportClause)
      ) {
        names = statement.exportClause.elements
      }
      const spec = names.find((s) => s.name.text === name)
      if (spec !== undefined) return this.resolve(target, (spec.propertyName ?? spec.name).text, depth + 1)
    }
    return []
  }
}

/** Collects the modules of one file: its own exports, and a child module per `export * as X from`. */
const collect = (
  reader: Reader,
  pkg: PackageInfo,
  file: string,
  path: ReadonlyArray<string>,
  imports: Array<string>,
  out: Array<Module>,
  seen: Map<string, Module>
) => {
  const already = seen.get(file)
  if (already !== undefined) {
    already.imports.push(...imports.filter((i) => !already.imports.includes(i)))
    return
  }
  const source = reader.source(file)
  const module: Module = { pkg, path, file, imports, doc: moduleDoc(source), declarations: [] }
  seen.set(file, module)
  const names = new Set<string>()
  const push = (decls: ReadonlyArray<Declaration>) => {
    for (const d of decls) {
      if (names.has(`${d.kind}:${d.name}:${d.signature}`)) continue
      names.add(`${d.kind}:${d.name}:${d.signature}`)
      module.declarations.push(d)
    }
  }
  for (const [, decls] of reader.declarations(file)) push(decls)
  const children: Array<[string, string]> = []
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement) || statement.moduleSpecifier === undefined) continue
    if (!ts.isStringLiteral(statement.moduleSpecifier) || !statement.moduleSpecifier.text.startsWith(".")) continue
    const target = resolve(dirname(file), statement.moduleSpecifier.text)
    const clause = statement.exportClause
    if (clause !== undefined && ts.isNamespaceExport(clause)) children.push([clause.name.text, target])
    else if (clause === undefined) for (const [, decls] of reader.declarations(target)) push(decls)
    else if (ts.isNamedExports(clause)) {
      for (const spec of clause.elements) push(reader.resolve(target, (spec.propertyName ?? spec.name).text))
    }
  }
  if (path.length > 0 && (module.declarations.length > 0 || module.doc.text !== "")) out.push(module)
  for (const [name, target] of children) {
    const childImports = path.length === 0 ? [`import { ${name} } from "${pkg.name}"`] : []
    collect(reader, pkg, target, [...path, name], childImports, out, seen)
  }
}

const subpathName = (subpath: string): string => subpath.replace(/^\.\//, "")

/** Reads every public module of the given packages. */
export const readModules = (packages: ReadonlyArray<PackageInfo>): ReadonlyArray<Module> => {
  const entries: Array<{ pkg: PackageInfo; subpath: string; file: string }> = []
  for (const pkg of packages) {
    for (const { subpath, source } of sourceEntries(pkg.root)) {
      entries.push({ pkg, subpath, file: resolve(pkg.root, source) })
    }
  }
  const reader = new Reader(new Types(entries.map((e) => e.file)))
  const modules: Array<Module> = []
  for (const pkg of packages) {
    const seen = new Map<string, Module>()
    const own = entries
      .filter((e) => e.pkg === pkg)
      .sort((a, b) => (a.subpath === "." ? -1 : b.subpath === "." ? 1 : 0))
    for (const entry of own) {
      if (entry.subpath === ".") {
        collect(reader, pkg, entry.file, [], [], modules, seen)
        continue
      }
      const name = subpathName(entry.subpath)
      const alias =
        name.charAt(0).toUpperCase() + name.slice(1).replace(/[^A-Za-z0-9]+(.)/g, (_, c: string) => c.toUpperCase())
      collect(reader, pkg, entry.file, [name], [`import * as ${alias} from "${pkg.name}/${name}"`], modules, seen)
    }
  }
  return modules
}

/** The page of a module, relative to the site root, without extension: `api/core/Flow`. */
export const pageOf = (module: Module): string => `api/${module.pkg.dir}/${module.path.join(".")}`

/** A declaration's anchor: its name, case kept (the page title's automatic anchor is lower case). */
export const anchorOf = (name: string): string => name.replace(/[^A-Za-z0-9_-]+/g, "-") || "default"

/** Resolves `{@link X}`, `{@link X.y}` and `{@link X | text}` to links where the target is known. */
const linker = (modules: ReadonlyArray<Module>, module: Module) => (text: string) =>
  text.replace(
    /\{@link(?:code|plain)?\s+([^}|\s]+)(?:\s*\|\s*([^}]+)|\s+([^}]+))?\}/g,
    (_, target: string, a?: string, b?: string) => {
      const label = code((a ?? b ?? target).trim())
      const [first, ...rest] = target.split(".")
      const sameModule = module.declarations.some((d) => d.name === first)
      if (sameModule) return `[${label}](#${anchorOf(first!)})`
      const sibling = modules.find((m) => m.pkg === module.pkg && m.path.at(-1) === first)
      if (sibling !== undefined) {
        const anchor = rest.length > 0 ? `#${anchorOf(rest[0]!)}` : ""
        return `[${label}](/${pageOf(sibling)}${anchor})`
      }
      return label
    }
  )

const renderDoc = (doc: Doc, link: (text: string) => string, headingLevel: number): string => {
  const parts: Array<string> = []
  if (doc.deprecated !== undefined) parts.push(`::: warning Deprecated\n${escapeMarkdown(link(doc.deprecated))}\n:::`)
  if (doc.text) parts.push(escapeMarkdown(link(doc.text)))
  for (const example of doc.examples) parts.push(`${"#".repeat(headingLevel)} Example\n\n${example}`)
  if (doc.see.length > 0) parts.push(`See: ${doc.see.map((s) => escapeMarkdown(link(s))).join(", ")}`)
  return parts.join("\n\n")
}

const KIND_LABEL: Readonly<Record<Declaration["kind"], string>> = {
  function: "function",
  const: "constant",
  class: "class",
  interface: "interface",
  type: "type",
  enum: "enum"
}

/** Renders one module page. */
export const renderModule = (modules: ReadonlyArray<Module>, module: Module, repoRoot: string): string => {
  const link = linker(modules, module)
  const title = module.path.join(".")
  const out: Array<string> = [frontMatter({ title: `${title} · ${module.pkg.name}`, outline: "deep" })]
  out.push(`# ${title} {#module}\n`)
  out.push(`<p class="api-package">${module.pkg.name}</p>\n`)
  if (module.imports.length > 0) out.push(fence("ts", module.imports.join("\n")))
  const docText = renderDoc(module.doc, link, 3)
  if (docText) out.push(docText)
  const byName = new Map<string, Array<Declaration>>()
  for (const d of module.declarations) byName.set(d.name, [...(byName.get(d.name) ?? []), d])
  const groups: Array<[string, ReadonlyArray<Declaration["kind"]>]> = [
    ["Functions", ["function"]],
    ["Classes", ["class"]],
    ["Constants and Schemas", ["const", "enum"]],
    ["Types", ["interface", "type"]]
  ]
  const placed = new Set<string>()
  for (const [heading, kinds] of groups) {
    const names = [...byName.keys()].filter((n) => !placed.has(n) && kinds.includes(byName.get(n)![0]!.kind))
    if (names.length === 0) continue
    out.push(`## ${heading} {#section-${slug(heading)}}`)
    for (const name of names) {
      placed.add(name)
      const decls = byName.get(name)!
      const kinds2 = [...new Set(decls.map((d) => KIND_LABEL[d.kind]))].join(", ")
      out.push(`### ${name} {#${anchorOf(name)}}`)
      out.push(`<span class="api-kind">${kinds2}</span>`)
      const seenDocs = new Set<string>()
      for (const d of decls) {
        out.push(fence("ts", d.signature))
        const key = `${d.doc.text}\n${d.doc.examples.join("\n")}`
        if (seenDocs.has(key)) continue
        seenDocs.add(key)
        const text = renderDoc(d.doc, link, 4)
        if (text) out.push(text)
      }
      for (const d of decls) {
        for (const member of d.members) {
          out.push(`#### ${name}.${member.name} {#${anchorOf(`${name}-${member.name}`)}}`)
          out.push(fence("ts", member.signature))
          out.push(renderDoc(member.doc, link, 5))
        }
      }
    }
  }
  if (module.declarations.length === 0) out.push("_This module exports nothing yet._")
  out.push(generatedNote(code(relative(repoRoot, module.file))))
  return out.join("\n\n")
}
