/**
 * `@jsonflow/connectors`: one namespace per protocol. Each is also its own subpath export
 * (`@jsonflow/connectors/http`, `@jsonflow/connectors/sql`, ...), so an application loads only what it uses.
 *
 * @module @jsonflow/connectors
 */
/** HTTP (undici): the `HttpClient` service and the `http.request` node type. */
export * as Http from "./http/index.ts"
