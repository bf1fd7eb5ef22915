/**
 * `@jsonflow/connectors`: one namespace per protocol. Each is also its own subpath export
 * (`@jsonflow/connectors/http`, `@jsonflow/connectors/sql`, ...), so an application loads only what it uses.
 *
 * `environment(config)` builds the node types and layers of every connector a {@link ConnectorsConfig}
 * document configures (a runner's `connectors` section); also at `@jsonflow/connectors/environment`.
 *
 * @module @jsonflow/connectors
 */

export {
  ConnectorsConfig,
  type ConnectorsEnvironment,
  environment,
  SqlSection,
  validate
} from "./Environment.ts"
/** gRPC (@grpc/grpc-js): the `GrpcClients` service and the `grpc.unary`, `grpc.serverStream` node types. */
export * as Grpc from "./grpc/index.ts"
/** HTTP (undici): the `HttpClient` service and the `http.request` node type. */
export * as Http from "./http/index.ts"
/** E-mail over SMTP (nodemailer): the `Mailer` service and the `mail.send` node type. */
export * as Mail from "./mail/index.ts"
/** Redis (ioredis): the `RedisClient` service and one `redis.*` node type per command. */
export * as Redis from "./redis/index.ts"
export { ConfigIssue, ConnectorConfigError } from "./shared/ConfigError.ts"
/** SOAP (soap): the `SoapClients` service and the `soap.call` node type. */
export * as Soap from "./soap/index.ts"
/** PostgreSQL (postgres.js): the `SqlClient` service and the `sql.query`, `sql.transaction`, `sql.stream` node types. */
export * as Sql from "./sql/index.ts"
