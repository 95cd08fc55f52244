/**
 * The value write path and history reads. Writes land in D1 in one transaction (history +
 * latest), then the KV vectors they touched are rebuilt from D1.
 *
 * Rows travel to D1 as one JSON array bound to a single parameter and are unpacked with
 * `json_each`: D1 allows 100 bound parameters per statement, so binding each column would
 * cap a statement at 25 rows; this way one statement carries up to CHUNK_ROWS rows.
 */
import { formatTimestamp, microsOf, type Micros } from "../time";

export interface ValueRow {
  featureId: number;
  entityId: string;
  /** Microseconds since the epoch. */
  ts: Micros;
  /** The value, JSON-encoded. */
  value: string;
}

const CHUNK_ROWS = 1000;
/** Stay well under D1's 2 MB limit for one bound value. */
const CHUNK_BYTES = 512 * 1024;

const unpack = `SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
  FROM json_each(?1) AS r WHERE true`;

// History: the same (feature, entity, ts) twice is one row; a redelivery with a corrected
// value replaces it.
const insertHistory = `INSERT INTO feature_values (feature_id, entity_id, ts, value) ${unpack}
  ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value`;

// Latest: only a timestamp at least as new moves it, so out-of-order deliveries never go back.
const upsertLatest = `INSERT INTO feature_latest (feature_id, entity_id, ts, value) ${unpack}
  ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value
  WHERE excluded.ts >= feature_latest.ts`;

/** A row of column values as JSON; bigints (microseconds) as exact JSON integers, which JSON.stringify refuses. */
export function jsonRow(row: readonly unknown[]): string {
  return `[${row.map((v) => (typeof v === "bigint" ? v.toString() : JSON.stringify(v))).join(",")}]`;
}

/**
 * Packs rows (each an array of column values) into JSON arrays small enough to bind as one
 * parameter and unpack with `json_each`: at most CHUNK_ROWS rows and about CHUNK_BYTES each.
 */
export function* jsonArrayChunks(rows: Iterable<readonly unknown[]>): Generator<string> {
  let parts: string[] = [];
  let bytes = 0;
  for (const row of rows) {
    const part = jsonRow(row);
    if (parts.length > 0 && (parts.length >= CHUNK_ROWS || bytes + part.length > CHUNK_BYTES)) {
      yield `[${parts.join(",")}]`;
      parts = [];
      bytes = 0;
    }
    parts.push(part);
    bytes += part.length + 1;
  }
  if (parts.length > 0) yield `[${parts.join(",")}]`;
}

/**
 * Writes values to history and latest, all together or not at all (one D1 batch is one
 * transaction).
 */
export async function writeValues(db: D1Database, rows: ValueRow[]): Promise<void> {
  if (rows.length === 0) return;
  const history = db.prepare(insertHistory);
  const latest = db.prepare(upsertLatest);
  const statements: D1PreparedStatement[] = [];
  for (const chunk of jsonArrayChunks(rows.map((r) => [r.featureId, r.entityId, r.ts, r.value]))) statements.push(history.bind(chunk), latest.bind(chunk));
  await db.batch(statements);
}

export interface LatestValue {
  value: unknown;
  ts: Micros;
}

export async function readLatest(db: D1Database, featureId: number, entityId: string): Promise<LatestValue | null> {
  const row = await db
    .prepare("SELECT value, CAST(ts AS TEXT) AS ts FROM feature_latest WHERE feature_id = ?1 AND entity_id = ?2")
    .bind(featureId, entityId)
    .first<{ value: string; ts: string }>();
  return row ? { value: JSON.parse(row.value), ts: microsOf(row.ts) } : null;
}

export interface HistoryQuery {
  entityId?: string;
  start?: Micros;
  end?: Micros;
  limit: number;
}

/** Values of one feature, newest first, optionally for one entity and within [start, end]. */
export async function readHistory(db: D1Database, featureId: number, q: HistoryQuery) {
  const where = ["feature_id = ?1"];
  // Microseconds are bound as digits: D1 binds no bigint, and the INTEGER column compares them as numbers.
  const params: (number | string)[] = [featureId];
  if (q.entityId !== undefined) {
    params.push(q.entityId);
    where.push(`entity_id = ?${params.length}`);
  }
  if (q.start !== undefined) {
    params.push(q.start.toString());
    where.push(`ts >= ?${params.length}`);
  }
  if (q.end !== undefined) {
    params.push(q.end.toString());
    where.push(`ts <= ?${params.length}`);
  }
  params.push(q.limit);
  const { results } = await db
    .prepare(`SELECT entity_id, CAST(ts AS TEXT) AS ts, value FROM feature_values WHERE ${where.join(" AND ")} ORDER BY feature_values.ts DESC, entity_id LIMIT ?${params.length}`)
    .bind(...params)
    .all<{ entity_id: string; ts: string; value: string }>();
  return results.map((r) => ({ entity_id: r.entity_id, value: JSON.parse(r.value) as unknown, timestamp: formatTimestamp(microsOf(r.ts)) }));
}
