/**
 * The one table from connector type to implementation. A new source is a folder beside this
 * file plus one line here; routes, storage and runs look connectors up by type and never switch on it.
 */
import { adlsConnector } from "./adls";
import { kafkaConnector } from "./kafka";
import { mysqlConnector } from "./mysql";
import { postgres } from "./postgres";
import { pulsarConnector } from "./pulsar";
import { s3Connector } from "./s3";
import type { AnyConnector } from "./types";

export const connectorTypes = {
  postgres,
  /** The guide's `PostgreSQLConnector` and `PostgresConnector` are both this one. */
  postgresql: postgres,
  mysql: mysqlConnector,
  /** MariaDB speaks the MySQL protocol. */
  mariadb: mysqlConnector,
  /** The guide's `S3Connector`: AWS S3 and S3-compatible stores (R2, MinIO) through `endpoint`. */
  s3: s3Connector,
  /** The guide's `AzureDataLakeConnector` (SAS token credential). */
  adls: adlsConnector,
  azure_data_lake: adlsConnector,
  /** Kafka and Pulsar: records arrive from their bridges (`npm run stream`, the SDK's startStreamingFeature). */
  kafka: kafkaConnector,
  pulsar: pulsarConnector,
} satisfies Record<string, AnyConnector>;

export type ConnectorType = keyof typeof connectorTypes;
export const connectorTypeNames = Object.keys(connectorTypes) as [ConnectorType, ...ConnectorType[]];

export function connectorFor(type: string): AnyConnector | undefined {
  return Object.hasOwn(connectorTypes, type) ? (connectorTypes as Record<string, AnyConnector>)[type] : undefined;
}
