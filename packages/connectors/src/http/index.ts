/**
 * `@jsonflow/connectors/http`: the HTTP connector (undici). The {@link HttpClient} service and its layer,
 * the `http.request` node type, its typed errors and the SSRF guard.
 *
 * @module http
 */
import { Registry } from "@jsonflow/core"
import { request } from "./HttpRequestNode.ts"

export { ConfigIssue, ConnectorConfigError } from "../shared/ConfigError.ts"
export * from "./Body.ts"
export { HttpConfig, SsrfAllowEntry, SsrfGuardConfig } from "./config.ts"
export {
  DEFAULTS,
  describeUrl,
  HttpClient,
  type HttpClientOptions,
  type HttpClientShape,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  isIdempotent,
  isRetryableStatus,
  layer,
  make,
  type PoolStats,
  parseRetryAfter,
  type QueryValue
} from "./HttpClient.ts"
export * from "./HttpErrors.ts"
export {
  HttpAuth,
  HttpRequestConfig,
  HttpRequestInput,
  HttpResponseValue,
  request,
  statusError,
  toRequest
} from "./HttpRequestNode.ts"
export { type AddressClass, classifyAddress, makeGuard, type SsrfOptions } from "./SsrfGuard.ts"

/** A registry holding `http.request`, to merge into the registry JSON flows are compiled against. */
export const registry = Registry.make(request)
