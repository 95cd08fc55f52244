/**
 * Point-in-time joins for training sets: for each entity row (entity_id, timestamp) the value
 * each feature had at that moment — the value with the greatest timestamp at or before the row's,
 * null when none exists or when it is older than the feature's ttl. Nothing from after the row's
 * timestamp can leak in.
 *
 * Rows are joined in chunks (one D1 query per chunk: every row × every feature, each cell an index
 * seek on the history's primary key) and handed out chunk by chunk, so the caller can stream a
 * response of 100,000 rows without holding it.
 */
import type { FeatureRow } from "../db/schema";
import { jsonRow } from "../db/json-rows";
import { decodeStoredValue } from "../storage/stored-value";
import { isExpired, microsOf, type Micros } from "../time";

export interface EntityRow {
  entityId: string;
  /** Microseconds since the epoch. */
  ts: Micros;
}

/** Cells per D1 query (rows × features). */
const CELLS_PER_QUERY = 4000;

const pointInTimeSql = `
  SELECT r.key AS i, f.key AS j,
    (SELECT json_array(v.value, CAST(v.ts AS TEXT)) FROM feature_values v
      WHERE v.feature_id = f.value
        AND v.entity_id = json_extract(r.value, '$[0]')
        AND v.ts <= json_extract(r.value, '$[1]')
      ORDER BY v.ts DESC LIMIT 1) AS hit
  FROM json_each(?1) AS r, json_each(?2) AS f`;

/** Yields, chunk by chunk, each row's feature values (in `features` order). */
export async function* pointInTime(db: D1Database, features: FeatureRow[], rows: EntityRow[]): AsyncGenerator<{ row: EntityRow; values: unknown[] }[]> {
  const chunkRows = Math.max(1, Math.min(1000, Math.floor(CELLS_PER_QUERY / features.length)));
  const featureIds = JSON.stringify(features.map((f) => f.id));
  const statement = db.prepare(pointInTimeSql);
  for (let start = 0; start < rows.length; start += chunkRows) {
    const chunk = rows.slice(start, start + chunkRows);
    const { results } = await statement
      .bind(`[${chunk.map((r) => jsonRow([r.entityId, r.ts])).join(",")}]`, featureIds)
      .all<{ i: number; j: number; hit: string | null }>();
    const out = chunk.map((row) => ({ row, values: features.map((): unknown => null) }));
    for (const { i, j, hit } of results) {
      if (hit === null) continue;
      const [valueJson, ts] = JSON.parse(hit) as [string, string];
      const feature = features[j] as FeatureRow;
      const entry = out[i] as { row: EntityRow; values: unknown[] };
      if (isExpired(microsOf(ts), feature.ttlSeconds, entry.row.ts)) continue;
      entry.values[j] = decodeStoredValue(valueJson, `a value of feature ${feature.name}`);
    }
    yield out;
  }
}
