/**
 * The connector interface every SQL source implements. A connector is a config schema (with its
 * secret fields marked), a connection test, and `pull`, which runs a query read-only and yields
 * bounded batches of `{entity_id, value, timestamp}` rows. Adding a source is adding a folder
 * next to this file and one line in registry.ts.
 */
import { z } from "zod";

/** Fields whose values are secrets: encrypted at rest, never returned, never logged. */
export const secretFields = z.registry<{ secret: true }>();

/** Marks a config field as secret. */
export function secret<T extends z.ZodType>(schema: T): T {
  secretFields.add(schema, { secret: true });
  return schema;
}

/** One row as the query returned it, before it is checked against the feature's value type. */
export interface PulledRow {
  entity_id: unknown;
  value: unknown;
  /** What the timestamp column held (Date, string), or undefined when the query has none. */
  timestamp: unknown;
}

export interface PullOptions {
  /** The previous run's watermark (RFC 3339, UTC), bound to `:since`; null on a first run. */
  since: string | null;
  /** Rows per batch; a batch is all a pull holds in memory. */
  batchSize: number;
  /** Statement timeout in milliseconds. */
  timeoutMs: number;
}

/** The columns a query returned, for the shape check (connectors/shape.ts). */
export interface PullBatch {
  columns: string[];
  rows: unknown[][];
}

/** Why a connection test or a pull failed, in words a user can act on. */
export type FailureKind = "dns" | "refused" | "auth" | "database" | "timeout" | "query" | "read_only" | "connection_lost" | "tls" | "unknown";

export interface TestResult {
  ok: boolean;
  kind?: FailureKind;
  message: string;
  /** Server version, when connected. */
  server?: string;
  latency_ms: number;
}

/** A failure talking to a source, classified. Messages never contain the password. */
export class SourceError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = "SourceError";
  }
}

export interface Connector<Schema extends z.ZodObject = z.ZodObject> {
  type: string;
  /** Config as the guide writes it (host, port, database, user, password) plus ssl and options. */
  configSchema: Schema;
  /** Connects, runs a trivial read, disconnects; never throws. */
  test(config: z.infer<Schema>): Promise<TestResult>;
  /**
   * Runs `query` in a read-only transaction with a statement timeout and yields its rows in
   * batches of at most `batchSize` raw column arrays. `:since` in the query is bound as a parameter.
   */
  pull(config: z.infer<Schema>, query: string, options: PullOptions): AsyncGenerator<PullBatch>;
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

/**
 * Replaces each `:since` in `query` with the driver's placeholder (`$1` or `?`) — the watermark is
 * always bound, never pasted into SQL. A Postgres cast like `x::since` is left alone.
 */
export function bindSince(query: string, placeholder: (n: number) => string): { sql: string; count: number } {
  let count = 0;
  const sql = query.replace(/(?<![:\w]):since\b/g, () => placeholder(++count));
  return { sql, count };
}
