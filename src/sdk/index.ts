/** The `fstore` package entry: the client. Connector classes are in `fstore/connectors`. */
export { FeatureStore, FStoreError } from "./client";
export type { Feature, FeatureDefinition, FeatureStoreOptions, FeatureValue, Run } from "./client";
