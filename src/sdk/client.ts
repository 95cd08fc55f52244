/**
 * The FStore client (`import { FeatureStore } from "fstore"`): the TypeScript twin of the guide's
 * Python `FeatureStore`. It talks to a running FStore over its REST API and works wherever `fetch`
 * does (Node 22, Workers, browsers). URL and key default to FSTORE_URL / FSTORE_KEY.
 *
 * Calls are safe to repeat: creating a feature that already exists with a compatible definition
 * updates it instead of failing, and a call that fails removes the connector it created.
 */

export interface FeatureStoreOptions {
  /** Base URL of FStore; default FSTORE_URL or http://localhost:8000 (`npm run dev`). */
  url?: string;
  /** API key; default FSTORE_KEY. */
  apiKey?: string;
  /** A fetch to use instead of the global one (tests, custom agents). */
  fetch?: typeof fetch;
}

/** An error answer from FStore (or no answer at all), with FStore's error code and details. */
export class FStoreError extends Error {
  /** HTTP status; 0 when FStore could not be reached or a run did not finish. */
  readonly status: number;
  /** FStore's error code (FEATURE_NOT_FOUND, VALIDATION_FAILED, ...) or a client one (UNREACHABLE, RUN_FAILED, ...). */
  readonly code: string;
  readonly details?: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "FStoreError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export type ValueType = "float" | "int" | "string" | "bool" | "float_list" | "json";

/** A feature definition as the guide writes it (test/sdk-types.test.ts keeps it in step with the server's schema). */
export type FeatureDefinition = {
  name: string;
  description?: string;
  entity_id?: string;
  feature_group?: string;
  value_type?: ValueType;
  ttl?: number | string | null;
  tags?: Record<string, string>;
  owner?: string;
  connector?: string;
  query?: string;
  schedule?: string;
  update_frequency?: string;
  timeout?: string;
  incremental_column?: string;
  path?: string;
  format?: "parquet" | "csv" | "json" | "ndjson" | "orc";
  entity_column?: string;
  value_column?: string;
  timestamp_column?: string;
  batch_config?: { path: string; schedule?: string };
  topic?: string;
  stream_config?: StreamFields & { topic: string };
} & StreamFields;

/** A stream feature's fields, top level or under `stream_config` (docs/streaming.md). */
export type StreamFields = {
  value_field?: string;
  window_size?: string;
  entity_field?: string;
  timestamp_field?: string;
  aggregation?: "last" | "count" | "sum" | "avg" | "min" | "max";
  window?: "sliding" | "tumbling";
  slide?: string;
  allowed_lateness?: string;
  dead_letter_late?: boolean;
};

export type SourceType = "push" | "sql" | "file" | "stream";

export type Feature = {
  /** The same as `ref`. */
  id: string;
  /** What addresses the feature in calls: its name while no other feature group has it, else `group:name`. */
  ref: string;
  name: string;
  description: string | null;
  entity_id: string;
  feature_group: string;
  value_type: ValueType;
  ttl: number | null;
  tags: Record<string, string>;
  owner: string | null;
  source_type: SourceType;
  created_at: string;
  updated_at: string;
} & Record<string, unknown>;

export interface FeatureValue {
  feature_id: string;
  entity_id: string;
  value: unknown;
  timestamp?: string;
}

export interface LatestValue {
  feature_id: string;
  entity_id: string;
  value: unknown;
  timestamp: string;
}

export interface Run {
  id: string;
  feature_id: string;
  status: "queued" | "running" | "succeeded" | "failed";
  trigger: "schedule" | "manual";
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  duration_ms: number | null;
  watermark: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ConnectorInfo {
  name: string;
  type: string;
  config: Record<string, unknown>;
  secret_fields: string[];
  created_at: string;
  updated_at: string;
}

export interface ConnectorTestResult {
  ok: boolean;
  kind?: string;
  message: string;
  server?: string;
  /** Only when the test succeeded. */
  latency_ms?: number;
}

/** What a source reads from: SQL databases, data lakes, streams. */
export type SourceKind = "sql" | "lake" | "stream";

/**
 * What the client needs of a connector (the classes in `fstore/connectors` implement it):
 * where it reads from, and a way to make sure FStore holds it.
 */
export interface SourceConnector {
  readonly kind: SourceKind;
  readonly name: string;
  /** FStore's connector type (postgres, kafka, ...). */
  readonly type: string;
  /** The full config, secrets included (the in-process stream bridge connects with it). */
  readonly config: Record<string, unknown>;
  /** Makes sure FStore holds this connector; `created` says whether this call created it. */
  ensure(store: FeatureStore): Promise<{ name: string; created: boolean }>;
}

export interface RunOptions {
  /** Called with the run each time it is polled (status, rows read so far). */
  onProgress?: (run: Run) => void;
  /** Give up waiting after this long (the run goes on in FStore); default 10 minutes. */
  timeoutMs?: number;
  /** Poll interval; default 500 ms. */
  pollMs?: number;
}

import { loadBridge, type StreamingHandle, type StreamingOptions } from "./streaming.ts";

const env = (name: string): string | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];

/** The connector constructed last of each kind: what a definition that names none reads from. */
const latestConnectors = new Map<SourceKind, SourceConnector>();

/** Called by every connector's constructor (the guide never passes its S3 connector along). */
export function rememberConnector(connector: SourceConnector): void {
  latestConnectors.set(connector.kind, connector);
}

/** Which kind of source a definition reads from, by its fields. */
export function sourceKindOf(definition: Partial<FeatureDefinition>): SourceKind | null {
  if (definition.query) return "sql";
  if (definition.path || definition.batch_config) return "lake";
  if (definition.topic || definition.stream_config) return "stream";
  return null;
}

const SOURCE_TYPE_OF_KIND: Record<SourceKind, SourceType> = { sql: "sql", lake: "file", stream: "stream" };
/** Fixed once a feature exists: a different value means a different feature. */
const FIXED_FIELDS = ["entity_id", "feature_group", "value_type"] as const;

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const path = (part: string) => encodeURIComponent(part);

export class FeatureStore {
  readonly url: string;
  private readonly apiKey: string | undefined;
  private readonly fetcher: typeof fetch;

  constructor(options: FeatureStoreOptions = {}) {
    this.url = (options.url ?? env("FSTORE_URL") ?? "http://localhost:8000").replace(/\/+$/, "");
    this.apiKey = options.apiKey ?? env("FSTORE_KEY");
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** One API call; error answers become FStoreError with FStore's code and message. */
  async request<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.url}${apiPath}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new FStoreError(
        0,
        "UNREACHABLE",
        `cannot reach FStore at ${this.url} (${cause?.code ?? cause?.message ?? (err as Error).message}): is it running (npm run dev)? FSTORE_URL sets its address`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let error: { code?: string; message?: string; details?: unknown } = {};
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
      } catch {
        // not an FStore error body (a proxy, another server on that port)
      }
      let message = error.message ?? `${method} ${apiPath}: HTTP ${res.status} ${text.slice(0, 200)}`;
      if (res.status === 401 && !this.apiKey) message += " (no API key given: set FSTORE_KEY; `npm run dev` writes one to .dev.vars as FSTORE_ADMIN_KEY)";
      throw new FStoreError(res.status, error.code ?? "HTTP_ERROR", message, error.details);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Registers a feature, or brings an existing one of the same name up to this definition, so a
   * script can run twice. With `connector` (or, when the definition reads a source and names no
   * connector, the connector of that kind constructed last), makes sure FStore holds it and links it.
   * A feature that exists with another entity, group, value type or kind of source is a CONFLICT.
   */
  async registerFeature(definition: FeatureDefinition, options: { connector?: SourceConnector } = {}): Promise<Feature> {
    const kind = sourceKindOf(definition);
    const connector = options.connector ?? (definition.connector || !kind || kind === "stream" ? undefined : latestConnectors.get(kind));
    return this.withConnector(connector, (name) => this.applyFeature(name ? { ...definition, connector: name } : definition));
  }

  /** The guide's `create_feature(name=..., query=..., batch_config=...)`. */
  createFeature(definition: FeatureDefinition): Promise<Feature> {
    return this.registerFeature(definition);
  }

  listFeatures(filter: { feature_group?: string; entity?: string; source_type?: SourceType } = {}): Promise<Feature[]> {
    return this.collectFeatures(filter);
  }

  getFeature(name: string): Promise<Feature> {
    return this.request<Feature>("GET", `/api/v1/features/${path(name)}`);
  }

  /** Changes a feature's editable fields (description, ttl, tags, owner, source). */
  updateFeature(name: string, changes: Partial<FeatureDefinition>): Promise<Feature> {
    return this.request<Feature>("PATCH", `/api/v1/features/${path(name)}`, changes);
  }

  async deleteFeature(name: string): Promise<void> {
    await this.request("DELETE", `/api/v1/features/${path(name)}`);
  }

  /** The guide's `send_feature_value`: true when FStore answered 200. */
  async sendFeatureValue(featureId: string, entityId: string, value: unknown, timestamp: string = new Date().toISOString()): Promise<boolean> {
    await this.request("POST", `/api/v1/features/${path(featureId)}/values`, { entity_id: entityId, value, timestamp });
    return true;
  }

  /** The guide's `send_batch_values`: all or nothing. */
  async sendBatchValues(values: FeatureValue[]): Promise<boolean> {
    await this.request("POST", "/api/v1/features/batch", values);
    return true;
  }

  getLatestValue(featureId: string, entityId: string): Promise<LatestValue> {
    return this.request<LatestValue>("GET", `/api/v1/features/${path(featureId)}/values/${path(entityId)}`);
  }

  getOnlineFeatures(request: { features?: string[]; feature_group?: string; entity_ids: string[] }) {
    return this.request<{ features: string[]; results: { entity_id: string; values: Record<string, unknown>; statuses: Record<string, string> }[] }>(
      "POST",
      "/api/v1/online-features",
      request,
    );
  }

  getHistoricalFeatures(request: { features: string[]; entity_rows: { entity_id: string; timestamp: string }[] }) {
    return this.request<{ features: string[]; rows: Record<string, unknown>[] }>("POST", "/api/v1/historical-features", { ...request, format: "json" });
  }

  /**
   * The guide's `update_feature_values(name, connector)`: links the connector when given, then
   * materializes the feature now and waits for the run to finish (`onProgress` sees each poll).
   * Throws FStoreError RUN_FAILED with the run's error when the run failed.
   */
  async updateFeatureValues(name: string, connector?: SourceConnector, options: RunOptions = {}): Promise<Run> {
    if (connector) await this.withConnector(connector, (linked) => this.updateFeature(name, { connector: linked }));
    return this.materialize(name, options);
  }

  /** The guide's `run_batch_processing(name)` (data-lake features); same as updateFeatureValues. */
  runBatchProcessing(name: string, connector?: SourceConnector, options: RunOptions = {}): Promise<Run> {
    return this.updateFeatureValues(name, connector, options);
  }

  /** Starts a run of a SQL or file feature now and waits for it (see updateFeatureValues). */
  async materialize(name: string, options: RunOptions = {}): Promise<Run> {
    const run = await this.request<Run>("POST", `/api/v1/features/${path(name)}/materialize`);
    options.onProgress?.(run);
    return this.waitForRun(run.id, options);
  }

  /**
   * The guide's `start_streaming_feature(name, connector)`: runs the stream bridge in this process
   * for the topic the feature reads (docs/bridges.md). Makes sure FStore holds the connector and
   * binds the feature to it when it reads through none yet (PATCH {connector}); without a
   * connector, uses the one the feature is bound to (secrets from FSTORE_SECRET_<CONNECTOR>_<FIELD>).
   * Records are forwarded to FStore and committed (Kafka) / acked (Pulsar) only after FStore
   * accepted them. Resolves once consuming started; `stop()` on the handle ends it cleanly.
   */
  async startStreamingFeature(name: string, connector?: SourceConnector, options: StreamingOptions = {}): Promise<StreamingHandle> {
    let feature = await this.getFeature(name);
    const streamConfig = feature.stream_config as { topic?: string } | null | undefined;
    const topic = (feature.topic as string | null | undefined) ?? streamConfig?.topic;
    if (feature.source_type !== "stream" || !topic) {
      throw new FStoreError(400, "NOT_A_STREAM_FEATURE", `feature '${name}' reads no topic (it is a ${feature.source_type} feature): define it with topic or stream_config`);
    }
    const bound = feature.connector as string | null | undefined;
    let connectors: { name: string; type: string; config: Record<string, unknown> }[] | undefined;
    if (connector) {
      if (connector.kind !== "stream") throw new FStoreError(400, "VALIDATION_FAILED", `a ${connector.type} connector cannot feed a stream feature: use a KafkaConnector or PulsarConnector`);
      if (bound && bound !== connector.name) {
        throw new FStoreError(409, "CONFLICT", `feature '${name}' already reads through connector '${bound}', not '${connector.name}': PATCH its connector, or start it without a connector`);
      }
      if (!bound) feature = await this.withConnector(connector, (linked) => this.updateFeature(name, { connector: linked }));
      else await connector.ensure(this);
      connectors = [{ name: connector.name, type: connector.type, config: connector.config }];
    } else if (!bound) {
      throw new FStoreError(400, "NO_CONNECTOR", `feature '${name}' reads through no connector: pass a KafkaConnector or PulsarConnector to startStreamingFeature`);
    }
    const { StreamBridge } = await loadBridge();
    const bridge = new StreamBridge({ url: this.url, apiKey: this.apiKey, topics: [topic], connectors, ...options });
    await bridge.start();
    return { topic, connector: connector?.name ?? (bound as string), stop: () => bridge.stop(), done: bridge.done, totals: () => bridge.totals() };
  }

  getRun(id: string): Promise<Run> {
    return this.request<Run>("GET", `/api/v1/runs/${path(id)}`);
  }

  async listRuns(feature: string, limit = 50): Promise<Run[]> {
    return (await this.request<{ runs: Run[] }>("GET", `/api/v1/features/${path(feature)}/runs?limit=${limit}`)).runs;
  }

  /** Polls a run until it has finished; throws RUN_FAILED when it failed, RUN_TIMEOUT when it took too long. */
  async waitForRun(id: string, { onProgress, timeoutMs = 600_000, pollMs = 500 }: RunOptions = {}): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.getRun(id);
      onProgress?.(run);
      if (run.status === "succeeded") return run;
      if (run.status === "failed") throw new FStoreError(0, "RUN_FAILED", `run ${id} of '${run.feature_id}' failed: ${run.error ?? "unknown error"}`, run);
      if (Date.now() > deadline) {
        throw new FStoreError(0, "RUN_TIMEOUT", `run ${id} is still ${run.status} after ${Math.round(timeoutMs / 1000)} s; it goes on in FStore (GET /api/v1/runs/${id})`, run);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  listConnectors(): Promise<ConnectorInfo[]> {
    return this.request<{ connectors: ConnectorInfo[] }>("GET", "/api/v1/connectors").then((r) => r.connectors);
  }

  getConnector(name: string): Promise<ConnectorInfo> {
    return this.request<ConnectorInfo>("GET", `/api/v1/connectors/${path(name)}`);
  }

  createConnector(name: string, type: string, config: Record<string, unknown>): Promise<ConnectorInfo> {
    return this.request<ConnectorInfo>("POST", "/api/v1/connectors", { name, type, config });
  }

  testConnector(name: string): Promise<ConnectorTestResult> {
    return this.request<ConnectorTestResult>("POST", `/api/v1/connectors/${path(name)}/test`);
  }

  async deleteConnector(name: string): Promise<void> {
    await this.request("DELETE", `/api/v1/connectors/${path(name)}`);
  }

  /** Runs `fn` with the connector's name; if `fn` fails, a connector this call created is removed again. */
  private async withConnector<T>(connector: SourceConnector | undefined, fn: (name: string | undefined) => Promise<T>): Promise<T> {
    if (!connector) return fn(undefined);
    const { name, created } = await connector.ensure(this);
    try {
      return await fn(name);
    } catch (err) {
      if (created) await this.deleteConnector(name).catch(() => undefined);
      throw err;
    }
  }

  /** Create, or bring an existing feature of the same name up to `definition` (see registerFeature). */
  private async applyFeature(definition: FeatureDefinition): Promise<Feature> {
    try {
      return await this.request<Feature>("POST", "/api/v1/features", definition);
    } catch (err) {
      if (!(err instanceof FStoreError && err.status === 409)) throw err;
      // Names are unique per feature group: the conflicting feature is this name in the definition's group (the server's defaults).
      const ref = `${definition.feature_group ?? definition.entity_id ?? "entity"}:${definition.name}`;
      const existing = await this.getFeature(ref).catch(() => null);
      if (!existing) throw err; // a conflict other than the name (e.g. the group's entity)
      const fix = `delete it first (store.deleteFeature('${definition.name}') or npx fstore features delete ${definition.name}) or choose another name`;
      for (const field of FIXED_FIELDS) {
        if (definition[field] !== undefined && definition[field] !== existing[field]) {
          throw new FStoreError(409, "CONFLICT", `feature '${definition.name}' already exists with ${field} '${existing[field]}', not '${definition[field]}': ${fix}`, { existing });
        }
      }
      const kind = sourceKindOf(definition);
      if (kind && SOURCE_TYPE_OF_KIND[kind] !== existing.source_type) {
        throw new FStoreError(
          409,
          "CONFLICT",
          `feature '${definition.name}' already exists as a ${existing.source_type} feature; this definition makes a ${SOURCE_TYPE_OF_KIND[kind]} feature: ${fix}`,
          { existing },
        );
      }
      const changes = Object.fromEntries(
        Object.entries(definition).filter(([k, v]) => k !== "name" && !(FIXED_FIELDS as readonly string[]).includes(k) && v !== undefined && !sameValue(existing[k], v)),
      );
      return Object.keys(changes).length > 0 ? this.updateFeature(ref, changes) : existing;
    }
  }

  private async collectFeatures(filter: Record<string, string | undefined>): Promise<Feature[]> {
    const all: Feature[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: "1000" });
      for (const [k, v] of Object.entries(filter)) if (v) query.set(k, v);
      if (cursor) query.set("cursor", cursor);
      const page: { features: Feature[]; next_cursor: string | null } = await this.request("GET", `/api/v1/features?${query}`);
      all.push(...page.features);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }
}
