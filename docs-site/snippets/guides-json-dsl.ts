/**
 * Loading JSON flows: every problem at once, each with a JSON Pointer (and line and column) into the file;
 * a file in the pre-release format (version 0) migrated on load; a canonical save that loads back equal.
 */
import { Builtins, Ir } from "@jsonflow/core"
import { Load, Save } from "@jsonflow/json-dsl"

/** A flow with three mistakes: a misspelt type, an unknown config key and a port the filter lacks. */
export const broken = `{
  "dsl": 1,
  "id": "orders",
  "version": "1",
  "trigger": { "type": "manual" },
  "nodes": {
    "big": { "type": "filter", "config": { "where": { "path": "amount", "op": "gt", "value": 100 } } },
    "shape": { "type": "mapp", "config": { "fields": { "id": "id" } } },
    "reply": { "type": "respond", "config": { "status": 201, "colour": "red" } }
  },
  "edges": [
    { "from": { "node": "$input", "port": "out" }, "to": { "node": "big", "port": "in" } },
    { "from": { "node": "big", "port": "matched" }, "to": { "node": "shape", "port": "in" } },
    { "from": { "node": "shape", "port": "out" }, "to": { "node": "reply", "port": "in" } }
  ]
}
`

/** The same flow in version 0: nodes as an array, edges as "node:port" pairs, `timeout` for `timeoutMs`. */
export const v0 = `{
  "id": "orders",
  "version": "1",
  "trigger": { "type": "manual" },
  "nodes": [
    { "id": "big", "type": "filter", "config": { "where": { "path": "amount", "op": "gt", "value": 100 } } },
    { "id": "shape", "type": "map", "config": { "fields": { "id": "id" } }, "timeout": 500, "x": 200, "y": 0 }
  ],
  "edges": [["$input", "big"], ["big:out", "shape"]],
  "output": "shape:out"
}
`

if (import.meta.main) {
  const failed = Load.load(broken, Builtins.registry)
  if (failed._tag === "Failed") {
    for (const p of failed.problems) console.log(`${p.line}:${p.column} ${p.path}: ${p.message}`)
  }
  const migrated = Load.load(v0, Builtins.registry)
  if (migrated._tag === "Loaded") {
    console.log(`read version ${migrated.version}; shape:`, JSON.stringify(migrated.flow.nodes.shape))
    const text = Save.save(migrated.flow, { layout: migrated.layout, schema: true })
    const again = Load.load(text, Builtins.registry)
    console.log("round trip:", again._tag === "Loaded" && Ir.equals(again.flow, migrated.flow))
    console.log(text)
  }
  // A problem found after migrating still points into the version 0 file.
  const typo = Load.load(v0.replace('"type": "map"', '"type": "mapp"'), Builtins.registry)
  if (typo._tag === "Failed") for (const p of typo.problems) console.log(`${p.path}: ${p.message}`)
}
