/**
 * `@jsonflow/json-dsl`: the canonical JSON format of flows (load, save, migrate, JSON Schema), the nFlow
 * designer importer, and the Mermaid and TypeScript views of a flow.
 *
 * @module @jsonflow/json-dsl
 */

/** The text layout of canonical files. */
export * as CanonicalJson from "./CanonicalJson.ts"
/** The canonical format's Schemas. */
export * as Dsl from "./Dsl.ts"
/** Builder TypeScript for a JSON flow. */
export * as Eject from "./Eject.ts"
/** Running a flow once for an input or an HTTP request. */
export * as Execute from "./Execute.ts"
/** Flow files on disk: canonical or nFlow, and custom box modules. */
export * as FlowFile from "./FlowFile.ts"
/** The HTTP request seen by HTTP-triggered flows, and route matching. */
export * as HttpRequest from "./HttpRequest.ts"
/** Reading text, bytes or values with size, depth and syntax guards. */
export * as Input from "./Input.ts"
/** The JSON Schema of the canonical format. */
export * as JsonSchema from "./JsonSchema.ts"
/** A guarded JSON parser with duplicate-key detection and locations. */
export * as JsonText from "./JsonText.ts"
/** Loading a canonical flow: the IR or every problem. */
export * as Load from "./Load.ts"
/** A Mermaid flowchart of a flow. */
export * as Mermaid from "./Mermaid.ts"
/** Reading older versions of the format. */
export * as Migrations from "./Migrations.ts"
/** The nFlow designer importer and its node types. */
export * as Nflow from "./Nflow.ts"
/** Problems with JSON Pointers into the file. */
export * as Problem from "./Problem.ts"
/** Writing a flow as a canonical file. */
export * as Save from "./Save.ts"
