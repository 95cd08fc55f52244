/** The `fstore` package entry: the client. Connector classes are in `fstore/connectors`, the CLI is `npx fstore`. */
export { FeatureStore, FStoreError } from "./client.ts";
export type {
  ConnectorInfo,
  ConnectorTestResult,
  Feature,
  FeatureDefinition,
  FeatureStoreOptions,
  FeatureValue,
  LatestValue,
  Run,
  RunOptions,
  SourceConnector,
  SourceKind,
  SourceType,
  StreamFields,
  ValueType,
} from "./client.ts";
export type { StreamingHandle, StreamingOptions, StreamTotals } from "./streaming.ts";
