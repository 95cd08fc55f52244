/**
 * Reads of stored values from D1: one entity's latest value, and a feature's history. Values are
 * written only by src/ingest.
 */
import { formatTimestamp, microsOf, type Micros } from "../time";
import { decodeStoredValue } from "./stored-value";

export interface LatestValue {
  value: unknown;
  ts: Micros;
}

export async function readLatest(db: D1Database, featureId: number, entityId: string): Promise<LatestValue | null> {
  const row = await db
    .prepare("SELECT value, CAST(ts AS TEXT) AS ts FROM feature_latest WHERE feature_id = ?1 AND entity_id = ?2")
    .bind(featureId, entityId)
    .first<{ value: string; ts: string }>();
  return row ? { value: decodeStoredValue(row.value, `the latest value of feature ${featureId}`), ts: microsOf(row.ts) } : null;
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
  return results.map((r) => ({ entity_id: r.entity_id, value: decodeStoredValue(r.value, `a value of feature ${featureId}`), timestamp: formatTimestamp(microsOf(r.ts)) }));
}
