/**
 * The FStore client (`import { FeatureStore } from "fstore"`): the TypeScript twin of the guide's
 * Python `FeatureStore`. It talks to a running FStore over its REST API and works wherever `fetch`
 * does (Node 18+, Workers, browsers). URL and key default to FSTORE_URL / FSTORE_KEY.
 */

/** What the client needs of a connector object (fstore/connectors): registering itself and giving its name. */
export interface ConnectorRef {
  ensure(store: FeatureStore): Promise<string>;
}

export interface FeatureStoreOptions {
  /** Base URL of FStore; default FSTORE_URL or http://localhost:8000 (`npm run dev`). */
  url?: string;
  /** API key; default FSTORE_KEY. */
  apiKey?: string;
  /** A fetch to use instead of the global one (tests, custom agents). */
  fetch?: typeof fetch;
}

/** An error answer from FStore, with its code and details. */
export class FStoreError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "FStoreError";
  }
}

export type FeatureDefinition = {
  name: string;
  description?: string;
  entity_id?: string;
  feature_group?: string;
  value_type?: "float" | "int" | "string" | "bool" | "float_list" | "json";
  ttl?: number | string | null;
  tags?: Record<string, string>;
  owner?: string;
  connector?: string;
  query?: string;
  schedule?: string;
  update_frequency?: string;
  path?: string;
  format?: string;
  batch_config?: { path: string; schedule?: string };
} & Record<string, unknown>;

export type Feature = Required<Pick<FeatureDefinition, "name" | "entity_id" | "feature_group" | "value_type">> & {
  id: string;
  ttl: number | null;
  source_type: string;
  created_at: string;
  updated_at: string;
} & Record<string, unknown>;

export interface FeatureValue {
  feature_id: string;
  entity_id: string;
  value: unknown;
  timestamp?: string;
}

export interface Run {
  id: string;
  status: string;
  [key: string]: unknown;
}

const env = (name: string): string | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];

export class FeatureStore {
  readonly url: string;
  private readonly apiKey: string | undefined;
  private readonly fetcher: typeof fetch;

  constructor(options: FeatureStoreOptions = {}) {
    this.url = (options.url ?? env("FSTORE_URL") ?? "http://localhost:8000").replace(/\/+$/, "");
    this.apiKey = options.apiKey ?? env("FSTORE_KEY");
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** One API call; error answers become FStoreError. */
  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.fetcher(`${this.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      let error: { code?: string; message?: string; details?: unknown } = {};
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
      } catch {
        // not an FStore error body
      }
      throw new FStoreError(res.status, error.code ?? "HTTP_ERROR", error.message ?? `${method} ${path}: HTTP ${res.status}`, error.details);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Registers a feature; with `connector`, makes sure the connector exists and links it. */
  async registerFeature(definition: FeatureDefinition, options: { connector?: ConnectorRef } = {}): Promise<Feature> {
    const connector = options.connector ? await options.connector.ensure(this) : definition.connector;
    return this.request<Feature>("POST", "/api/v1/features", { ...definition, ...(connector ? { connector } : {}) });
  }

  /** The guide's `create_feature(name=..., query=..., batch_config=...)`. */
  createFeature(definition: FeatureDefinition): Promise<Feature> {
    return this.registerFeature(definition);
  }

  getFeature(name: string): Promise<Feature> {
    return this.request<Feature>("GET", `/api/v1/features/${encodeURIComponent(name)}`);
  }

  async deleteFeature(name: string): Promise<void> {
    await this.request("DELETE", `/api/v1/features/${encodeURIComponent(name)}`);
  }

  /** The guide's `send_feature_value`: true when FStore answered 200. */
  async sendFeatureValue(featureId: string, entityId: string, value: unknown, timestamp: string = new Date().toISOString()): Promise<boolean> {
    await this.request("POST", `/api/v1/features/${encodeURIComponent(featureId)}/values`, { entity_id: entityId, value, timestamp });
    return true;
  }

  /** The guide's `send_batch_values`: all or nothing. */
  async sendBatchValues(values: FeatureValue[]): Promise<boolean> {
    await this.request("POST", "/api/v1/features/batch", values);
    return true;
  }

  getLatestValue(featureId: string, entityId: string): Promise<{ value: unknown; timestamp: string }> {
    return this.request("GET", `/api/v1/features/${encodeURIComponent(featureId)}/values/${encodeURIComponent(entityId)}`);
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
   * materializes the feature now and waits for the run to finish.
   */
  async updateFeatureValues(name: string, connector?: ConnectorRef, options: { timeoutMs?: number } = {}): Promise<Run> {
    if (connector) await this.request("PATCH", `/api/v1/features/${encodeURIComponent(name)}`, { connector: await connector.ensure(this) });
    const run = await this.request<Run>("POST", `/api/v1/features/${encodeURIComponent(name)}/materialize`);
    return this.waitForRun(run.id, options.timeoutMs);
  }

  /** The guide's `run_batch_processing(name)` (data-lake features). */
  runBatchProcessing(name: string, connector?: ConnectorRef, options: { timeoutMs?: number } = {}): Promise<Run> {
    return this.updateFeatureValues(name, connector, options);
  }

  /** Polls a run until it has finished (succeeded or failed); throws when it failed. */
  async waitForRun(id: string, timeoutMs = 120_000): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.request<Run>("GET", `/api/v1/runs/${encodeURIComponent(id)}`);
      if (run.status === "succeeded") return run;
      if (run.status === "failed") throw new FStoreError(200, "RUN_FAILED", `run ${id} failed: ${String(run.error ?? "unknown error")}`, run);
      if (Date.now() > deadline) throw new FStoreError(0, "RUN_TIMEOUT", `run ${id} still ${run.status} after ${timeoutMs} ms`, run);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
