/**
 * The canonical JSON format of a flow, version 1 (`"dsl": 1`), as Effect Schemas.
 *
 * It is the IR as a person or a designer writes it: nodes keyed by id at `/nodes/<id>`, edges as a list at
 * `/edges/<i>` (so the compiler's JSON Pointers are pointers into the file too), plus what the IR does not
 * carry: the format version, an optional `$schema` for editors, and each node's designer `position`.
 * Code nodes may write their source as an array of lines, which diffs line by line. Credentials appear
 * by name only (`"credential": "orders-db"`); their values live in the environment.
 *
 * The published JSON Schema (`@jsonflow/json-dsl/schema.json`) is generated from these Schemas.
 *
 * @module Dsl
 */
import { Ir } from "@jsonflow/core"
import { Schema } from "effect"

/** The format version this package writes. Older versions are read through {@link Migrations}. */
export const CURRENT_VERSION = 1

/**
 * The `$id` of the published JSON Schema, where the docs site serves it (`/schema/flow.schema.json`, a copy of
 * the package's `schema/flow.schema.json`); `save(ir, { schema: true })` writes it as `$schema`.
 */
export const SCHEMA_ID = "https://jsonflow.dev/schema/flow.schema.json"

/**
 * `$schema` values earlier releases wrote (a URL nothing served). Files carrying them load as before; `$schema`
 * is for editors and any string is accepted, these are listed so tools can recognise and update them.
 */
export const LEGACY_SCHEMA_IDS: ReadonlyArray<string> = ["https://jsonflow.dev/schema/dsl-1.json"]

/** A node's place on the designer canvas. Not part of the IR: it never changes what a flow does. */
export const Position = Schema.Struct({
  x: Schema.Finite,
  y: Schema.Finite
}).annotate({ description: "Where the designer draws the node (ignored at run time)." })
export type Position = typeof Position.Type

/** Code as one string or as an array of lines (joined with `\n`). */
export const SourceText = Schema.Union([Schema.String, Schema.Array(Schema.String)]).annotate({
  description: "Source code: a string, or an array of lines joined with newlines (diffs line by line)."
})

/**
 * Config fields that hold source code, by node type: written as line arrays when they span several lines.
 * `js`/`ts` are the sandbox's code nodes, `nflow.js` the nFlow-contract code node of the importer.
 */
export const CODE_FIELDS: Readonly<Record<string, string>> = { js: "source", ts: "source", "nflow.js": "code" }

/** One node. */
export const NodeDocument = Schema.Struct({
  type: Schema.String.check(Schema.isMinLength(1)).annotate({
    description: "The node type, resolved against the registry (`jsonflow catalog` lists them)."
  }),
  label: Schema.optionalKey(Schema.String).annotate({
    description: "A name for people; shown by designers and graphs."
  }),
  position: Schema.optionalKey(Position),
  config: Schema.optionalKey(Schema.Unknown).annotate({
    description: "The node type's configuration, validated by its config Schema."
  }),
  retry: Schema.optionalKey(Ir.RetryPolicy),
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))).annotate({
    description: "Per-attempt time limit in milliseconds."
  })
}).annotate({ identifier: "Node" })
export type NodeDocument = typeof NodeDocument.Type

/** An edge: `from` an output port `to` an input port. `$input.out` is the flow input. */
export const EdgeDocument = Ir.Edge.annotate({ identifier: "Edge" })

/** A whole flow file. */
export const FlowDocument = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String).annotate({ description: "The JSON Schema of this format, for editors." }),
  dsl: Schema.Literal(CURRENT_VERSION).annotate({ description: "The version of this format." }),
  id: Ir.Flow.fields.id,
  version: Schema.String.annotate({ description: 'The flow\'s own version (free text, e.g. "3" or "2026-01-15").' }),
  description: Schema.optionalKey(Schema.String),
  trigger: Ir.Trigger,
  input: Schema.optionalKey(Ir.JsonSchemaObject).annotate({ description: "JSON Schema of the flow input." }),
  settings: Schema.optionalKey(Ir.Settings),
  nodes: Schema.Record(Schema.String, NodeDocument).annotate({ description: "Nodes by id." }),
  edges: Schema.Array(EdgeDocument),
  output: Schema.optionalKey(Ir.PortRef).annotate({ description: "The port whose value is the flow's result." })
}).annotate({ identifier: "Flow", title: "JSON-Flow flow (dsl 1)" })
export type FlowDocument = typeof FlowDocument.Type

/** Designer positions by node id: what a canonical file holds beyond the IR. */
export type Layout = Readonly<Record<string, Position>>
