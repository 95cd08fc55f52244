/**
 * The connector contract. A connector is one of three kinds, each a config schema (secret fields
 * marked with `secret()`), a connection test and ONE capability:
 *
 * - `sql`: `query` runs one read-only SELECT and yields raw rows in bounded batches;
 * - `object_store`: `open` gives an ObjectStore that lists keys and reads byte ranges;
 * - `stream`: the records come from a bridge process (Kafka, Pulsar) posting to the Worker, so the
 *   Worker-side capability is describing how the bridge subscribes.
 *
 * Connectors only fetch: turning cells into feature values (types, timestamps, limits) happens in
 * the Worker's one write path (src/ingest). Nothing here imports src/. Adding a source is adding a
 * folder beside this file and one line in registry.ts.
 */
import { z } from "zod";
import { scrubMessage } from "./scrub";

/** Fields whose values are secrets: encrypted at rest, never returned, never logged. */
export const secretFields = z.registry<{ secret: true }>();

/** Marks a config field as secret. */
export function secret<T extends z.ZodType>(schema: T): T {
  secretFields.add(schema, { secret: true });
  return schema;
}

/** Names of the fields of `schema` marked with `secret()`. */
export function secretFieldNames(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => isSecret(field as z.ZodType))
    .map(([name]) => name);
}

/** The mark may sit on the field or under its optional/default/nullable wrappers. */
function isSecret(field: z.ZodType): boolean {
  let f = field;
  for (;;) {
    if (secretFields.has(f)) return true;
    if (f instanceof z.ZodOptional || f instanceof z.ZodDefault || f instanceof z.ZodNullable) f = f.unwrap() as z.ZodType;
    else return false;
  }
}

/** Why a connection test or a read failed, in words a user can act on. */
export type FailureKind = "dns" | "refused" | "auth" | "database" | "timeout" | "query" | "read_only" | "connection_lost" | "tls" | "egress" | "unknown";

export interface TestResult {
  ok: boolean;
  kind?: FailureKind;
  message: string;
  /** Server version, when connected. */
  server?: string;
  /** Time to connect and read, only when the test succeeded (a failure's timing would make the test a port scanner). */
  latency_ms?: number;
}

/**
 * A failure talking to a source, classified. Messages never contain a secret: every message is
 * scrubbed of URL credentials, credential pairs and API keys here (scrub.ts), and the connectors
 * scrub their own known secrets before (errors.ts `toSourceError`).
 */
export class SourceError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(scrubMessage(message));
    this.name = "SourceError";
  }
}

/**
 * A point in time a source hands over exactly (Parquet TIMESTAMP MICROS/NANOS, INT96): microseconds
 * since the epoch, where a JS Date would keep only milliseconds.
 */
export class Instant {
  constructor(readonly micros: bigint) {}
}

/** One address a connector config makes FStore connect to (checked by the egress policy, egress.ts). */
export interface Endpoint {
  /** The config field that holds it (`host`, `ws_proxy`, `endpoint`), for messages. */
  field: string;
  /** A host name or an address, as written (IPv6 with or without brackets). */
  host: string;
}

interface ConnectorBase<Kind extends string, Schema extends z.ZodObject> {
  /** The type name users write (`postgres`, `s3`, ...). */
  type: string;
  kind: Kind;
  /** Config as the guide writes it, plus the options the source needs. */
  configSchema: Schema;
  /** Every host the config makes FStore connect to, for the egress policy (none through a Hyperdrive binding). */
  endpoints(config: z.infer<Schema>): Endpoint[];
  /** Connects, does the cheapest real read, disconnects; never throws. */
  test(config: z.infer<Schema>): Promise<TestResult>;
}

// --- sql -------------------------------------------------------------------------------------------

export interface QueryRequest {
  /** The feature's query: exactly one SELECT (or WITH/VALUES/TABLE) statement; `:since` is bound. */
  sql: string;
  /** The previous run's watermark (RFC 3339, UTC) bound to each `:since`; null on a first run. */
  since: string | null;
  /**
   * Read in key order from just after `after` (keyset continuation of a run that did not fit one
   * invocation): the result is ordered by the columns at `positions` (0-based) and only rows whose
   * key is greater than `after` are returned. `columns` are the result's column names, as an
   * earlier read of the same query reported them.
   */
  keyset?: { columns: string[]; positions: number[]; after: string[] | null };
}

export interface QueryOptions {
  /** Rows per batch; a batch is all a read holds in memory. */
  batchSize: number;
  /** Statement timeout in milliseconds. */
  timeoutMs: number;
}

/** Raw rows as the driver returned them, with the result's column names. */
export interface QueryBatch {
  columns: string[];
  rows: unknown[][];
}

export interface SqlConnector<Schema extends z.ZodObject = z.ZodObject> extends ConnectorBase<"sql", Schema> {
  /**
   * Runs one read-only query inside a read-only transaction with a statement timeout and yields its
   * rows in batches of at most `batchSize`. A query that is not one row-returning statement is
   * refused before anything executes (SourceError kind "query").
   */
  query(config: z.infer<Schema>, request: QueryRequest, options: QueryOptions): AsyncGenerator<QueryBatch>;
}

// --- object_store ----------------------------------------------------------------------------------

export interface ObjectInfo {
  key: string;
  /** The store's entity tag of this version of the object, quotes included as the store sends it. */
  etag: string;
  size: number;
}

export interface ObjectStore {
  /** `s3://bucket` or `abfs://container@account`: how errors and run records name the store. */
  readonly location: string;
  /** Every object whose key starts with `prefix`, in key order, one listing page at a time. */
  list(prefix: string): AsyncGenerator<ObjectInfo[]>;
  /** Bytes [start, end) of `key`. With `etag`, a changed object fails (412) instead of mixing versions. */
  read(key: string, start: number, end: number, etag?: string): Promise<Uint8Array>;
  /** Lists at most one key: proves the credentials and the bucket/container. */
  probe(): Promise<void>;
}

export interface ObjectStoreConnector<Schema extends z.ZodObject = z.ZodObject> extends ConnectorBase<"object_store", Schema> {
  open(config: z.infer<Schema>): ObjectStore;
}

// --- stream ----------------------------------------------------------------------------------------

/**
 * Kafka, Pulsar: their records arrive from a bridge process posting to the Worker, so the Worker
 * side is the config (which the bridges read through `GET /api/v1/streams`) and a connection test.
 */
export type StreamConnector<Schema extends z.ZodObject = z.ZodObject> = ConnectorBase<"stream", Schema>;

// --- the union -------------------------------------------------------------------------------------

export type ConnectorKind = "sql" | "object_store" | "stream";
export type AnyConnector = SqlConnector | ObjectStoreConnector | StreamConnector;
