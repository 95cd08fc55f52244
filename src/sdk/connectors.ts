/**
 * Connector classes of the guide (`import { PostgreSQLConnector } from "fstore/connectors"`).
 * A connector holds its config; FStore stores it (secrets encrypted) the first time it is used,
 * under `options.name` or a name derived from the non-secret parts of the config, so the same
 * config always maps to the same connector. A new connector is kept only once FStore could connect
 * with it: a failed connection test removes it again and throws, so mistakes leave nothing behind.
 */
import { FeatureStore, FStoreError, rememberConnector, type ConnectorInfo, type ConnectorTestResult, type Feature, type FeatureDefinition, type SourceConnector, type SourceKind } from "./client.ts";

export interface ConnectorOptions {
  /** Name in FStore; default `<type>_<hash of the non-secret config>`. */
  name?: string;
  /** The FeatureStore to register with; default one from FSTORE_URL / FSTORE_KEY. */
  store?: FeatureStore;
}

/** Config fields never used in a derived name (FStore also keeps them encrypted). */
const SECRET_FIELD = /password|secret|credential|token|key/i;

/**
 * FNV-1a over UTF-16 code units: a short, stable, non-cryptographic name suffix. The Python
 * client (clients/python/fstore/connectors.py) computes the same, so both name a config alike.
 */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** The name a config gets when none is given: `<type>_<8 hex digits>`. */
export function connectorName(type: string, config: Record<string, unknown>): string {
  const visible = Object.entries(config)
    .filter(([k]) => !SECRET_FIELD.test(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${type}_${fnv1a(JSON.stringify(visible))}`;
}

const looselyEqual = (a: unknown, b: unknown) => (typeof a === "object" || typeof b === "object" ? JSON.stringify(a) === JSON.stringify(b) : String(a) === String(b));

export abstract class Connector implements SourceConnector {
  /** FStore's connector type (postgres, mysql, s3, adls, kafka, pulsar). A getter, so the base constructor can read it. */
  abstract get type(): string;
  abstract get kind(): SourceKind;
  readonly config: Record<string, unknown>;
  private readonly options: ConnectorOptions;

  constructor(config: Record<string, unknown>, options: ConnectorOptions = {}) {
    this.config = config;
    this.options = options;
    rememberConnector(this);
  }

  get name(): string {
    return this.options.name ?? connectorName(this.type, this.config);
  }

  protected get store(): FeatureStore {
    return this.options.store ?? new FeatureStore();
  }

  /** Whether FStore must connect before a new connector is kept (stream brokers are reached by the bridge, not FStore). */
  protected get testedOnCreate(): boolean {
    return true;
  }

  /**
   * Makes sure FStore holds this connector: reuses one of the same name and config, or creates it
   * and tests the connection (removing it again, and throwing CONNECTOR_TEST_FAILED, when FStore
   * cannot connect). A connector of this name with another config is a CONFLICT.
   */
  async ensure(store: FeatureStore = this.store): Promise<{ name: string; created: boolean }> {
    const name = this.name;
    const existing = await store.getConnector(name).catch((err: unknown) => {
      if (err instanceof FStoreError && err.status === 404) return null;
      throw err;
    });
    if (existing) {
      this.checkSameConfig(existing);
      return { name, created: false };
    }
    try {
      await store.createConnector(name, this.type, this.config);
    } catch (err) {
      if (err instanceof FStoreError && err.status === 409) return { name, created: false }; // created meanwhile
      throw err;
    }
    if (!this.testedOnCreate) return { name, created: true };
    let result: ConnectorTestResult;
    try {
      result = await store.testConnector(name);
    } catch (err) {
      await store.deleteConnector(name).catch(() => undefined);
      throw err;
    }
    if (!result.ok) {
      await store.deleteConnector(name).catch(() => undefined);
      throw new FStoreError(400, "CONNECTOR_TEST_FAILED", `FStore could not connect with this ${this.type} config (${result.kind ?? "unknown"}): ${result.message}`, result);
    }
    return { name, created: true };
  }

  /** Asks FStore to connect to the source; resolves to its report ({ok, kind, message}). */
  async test(store: FeatureStore = this.store): Promise<ConnectorTestResult> {
    const { name } = await this.ensure(store);
    return store.testConnector(name);
  }

  /** The guide's `connector.register_feature(feature_def)`. */
  registerFeature(definition: FeatureDefinition): Promise<Feature> {
    return this.store.registerFeature(definition, { connector: this });
  }

  private checkSameConfig(existing: ConnectorInfo): void {
    const differs = Object.entries(this.config)
      .filter(([k]) => !existing.secret_fields.includes(k))
      .filter(([k, v]) => !looselyEqual(existing.config[k], v))
      .map(([k]) => k);
    if (existing.type !== this.type || differs.length > 0) {
      throw new FStoreError(
        409,
        "CONFLICT",
        `connector '${existing.name}' already exists with another ${existing.type === this.type ? `config (${differs.join(", ")} differ)` : `type (${existing.type})`}: ` +
          `give this one another name, or delete that one (npx fstore connectors delete ${existing.name}) once no feature uses it`,
        { existing },
      );
    }
  }
}

/** PostgreSQL (config: host, port, database, user, password, plus ssl and ws_proxy; see docs/connectors.md). */
export class PostgreSQLConnector extends Connector {
  get type() {
    return "postgres";
  }
  get kind(): SourceKind {
    return "sql";
  }
}

/** The guide also calls it PostgresConnector. */
export class PostgresConnector extends PostgreSQLConnector {}

/** MySQL / MariaDB (config: host, port, database, user, password). */
export class MySQLConnector extends Connector {
  get type() {
    return "mysql";
  }
  get kind(): SourceKind {
    return "sql";
  }
}

/** Amazon S3 or any S3-compatible store (config: bucket, aws_access_key_id, aws_secret_access_key, region, endpoint). */
export class S3Connector extends Connector {
  get type() {
    return "s3";
  }
  get kind(): SourceKind {
    return "lake";
  }
}

/** Azure Data Lake / Blob Storage (config: account_name, container, credential = SAS token, endpoint). */
export class AzureDataLakeConnector extends Connector {
  get type() {
    return "adls";
  }
  get kind(): SourceKind {
    return "lake";
  }
}

/**
 * Kafka and Pulsar: FStore stores the connector, and the stream bridge (docs/bridges.md) — run by
 * `npm run stream` / `npx fstore stream`, or in-process by `store.startStreamingFeature(name,
 * connector)` — consumes the topics and forwards the records to FStore. FStore itself never
 * connects to the broker, so a new stream connector is not connection-tested: the bridge reports
 * a broker it cannot reach, and keeps retrying.
 */
export abstract class StreamConnector extends Connector {
  get kind(): SourceKind {
    return "stream";
  }

  protected override get testedOnCreate(): boolean {
    return false;
  }

  /** The guide's `kafka_connector.register_streaming_feature(feature_def)`: a stream feature reading through this connector. */
  registerStreamingFeature(definition: FeatureDefinition): Promise<Feature> {
    return this.store.registerFeature(definition, { connector: this });
  }
}

/** Apache Kafka (config: bootstrap_servers, group_id, auto_offset_reset, client_id, security_protocol, sasl_*). */
export class KafkaConnector extends StreamConnector {
  get type() {
    return "kafka";
  }
}

/** Apache Pulsar over its WebSocket API (config: service_url, subscription_name, web_service_url, token, tenant, namespace, subscription_type). */
export class PulsarConnector extends StreamConnector {
  get type() {
    return "pulsar";
  }
}
