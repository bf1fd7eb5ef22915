/**
 * The node types the committed `schema/flow.schema.json` describes: the built-ins, the nFlow types and the
 * sandbox's `js`/`ts` code nodes. The sandbox is a development dependency only: the file is generated here,
 * so editors get `source`/`ports` completion for code nodes without the package depending on the sandbox.
 *
 * @module published-registry
 */
import { Registry } from "@jsonflow/core"
import { Nodes } from "@jsonflow/sandbox"
import { publishedRegistry as dslTypes } from "../src/JsonSchema.ts"

export const publishedRegistry = Registry.merge(dslTypes, Registry.make(...Nodes.definitions))
