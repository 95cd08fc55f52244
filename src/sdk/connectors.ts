/**
 * Connector classes of the guide (`import { PostgreSQLConnector } from "fstore/connectors"`).
 * A connector holds its config; FStore stores it (secrets encrypted) the first time it is used,
 * under `options.name` or a name derived from the non-secret parts of the config.
 */
import { FeatureStore, FStoreError, type Feature, type FeatureDefinition } from "./client";

export interface ConnectorOptions {
  /** Name in FStore; default `<type>_<hash of host/database/bucket/...>`. */
  name?: string;
  /** The FeatureStore to register with; default one from FSTORE_URL / FSTORE_KEY. */
  store?: FeatureStore;
}

const SECRET_KEYS = /password|secret|credential|token|key/i;

/** FNV-1a: a short, stable, non-cryptographic name suffix. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

export abstract class Connector {
  abstract readonly type: string;
  private ensured: Promise<string> | undefined;

  constructor(
    readonly config: Record<string, unknown>,
    private readonly options: ConnectorOptions = {},
  ) {}

  get name(): string {
    if (this.options.name) return this.options.name;
    const visible = Object.entries(this.config)
      .filter(([k]) => !SECRET_KEYS.test(k))
      .sort(([a], [b]) => a.localeCompare(b));
    return `${this.type}_${fnv1a(JSON.stringify(visible))}`;
  }

  /** Creates the connector in FStore unless it already exists; resolves to its name. */
  ensure(store: FeatureStore = this.options.store ?? new FeatureStore()): Promise<string> {
    this.ensured ??= store.request("POST", "/api/v1/connectors", { name: this.name, type: this.type, config: this.config }).then(
      () => this.name,
      (err: unknown) => {
        if (err instanceof FStoreError && err.status === 409) return this.name;
        this.ensured = undefined;
        throw err;
      },
    );
    return this.ensured;
  }

  /** Asks FStore to connect to the source; resolves to its report ({ok, kind, message}). */
  async test(store: FeatureStore = this.options.store ?? new FeatureStore()) {
    await this.ensure(store);
    return store.request<{ ok: boolean; kind?: string; message: string }>("POST", `/api/v1/connectors/${this.name}/test`);
  }

  /** The guide's `connector.register_feature(feature_def)`. */
  registerFeature(definition: FeatureDefinition): Promise<Feature> {
    return (this.options.store ?? new FeatureStore()).registerFeature(definition, { connector: this });
  }
}

/** PostgreSQL (config: host, port, database, user, password, plus ssl and ws_proxy). */
export class PostgreSQLConnector extends Connector {
  readonly type = "postgres";
}

/** The guide also calls it PostgresConnector. */
export class PostgresConnector extends PostgreSQLConnector {}

/** MySQL / MariaDB (config: host, port, database, user, password). */
export class MySQLConnector extends Connector {
  readonly type = "mysql";
}

/** Amazon S3 or any S3-compatible store (config: bucket, aws_access_key_id, aws_secret_access_key, region, endpoint). */
export class S3Connector extends Connector {
  readonly type = "s3";
}

/** Azure Data Lake / Blob Storage (config: account_name, container, credential = SAS token, endpoint). */
export class AzureDataLakeConnector extends Connector {
  readonly type = "adls";
}
