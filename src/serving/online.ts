/**
 * Online reads: the latest vector of many features for many entities. One KV read per
 * (feature group, entity), all issued concurrently; vectors KV does not have come from D1 in one
 * query per group and are written back to KV in the background. TTL is enforced here, at read time.
 */
import type { FeatureRow } from "../db/schema";
import { loadVectors, vectorKey, type Vector } from "../storage/online-cache";

export type Status = "PRESENT" | "NOT_FOUND" | "OUTSIDE_MAX_AGE" | "NULL_VALUE";

export interface Cell {
  value: unknown;
  /** Microseconds since the epoch, or null when there is no value. */
  ts: number | null;
  status: Status;
}

/** How long KV remembers that an entity has no values in a group (a write replaces it at once). */
const NEGATIVE_TTL_SECONDS = 300;

/** `cells[e][f]` is feature `features[f]` for entity `entityIds[e]`. */
export async function readOnline(
  db: D1Database,
  kv: KVNamespace,
  features: FeatureRow[],
  entityIds: string[],
  waitUntil: (p: Promise<unknown>) => void,
  now = Date.now() * 1000,
): Promise<Cell[][]> {
  const groups = [...new Set(features.map((f) => f.featureGroup))];
  const uniqueEntities = [...new Set(entityIds)];
  const vectors = new Map<string, Vector | null>();
  await Promise.all(
    groups.flatMap((group) =>
      uniqueEntities.map(async (entityId) => {
        const key = vectorKey(group, entityId);
        vectors.set(key, await kv.get<Vector>(key, "json"));
      }),
    ),
  );

  // Misses: one D1 query per group, then refill KV without making the caller wait.
  for (const group of groups) {
    const missing = uniqueEntities.filter((e) => vectors.get(vectorKey(group, e)) === null);
    if (missing.length === 0) continue;
    const loaded = await loadVectors(db, group, missing);
    const refills: Promise<void>[] = [];
    for (const entityId of missing) {
      const vector = loaded.get(entityId) ?? { f: {} };
      vectors.set(vectorKey(group, entityId), vector);
      const options = loaded.has(entityId) ? undefined : { expirationTtl: NEGATIVE_TTL_SECONDS };
      refills.push(kv.put(vectorKey(group, entityId), JSON.stringify(vector), options));
    }
    waitUntil(Promise.all(refills));
  }

  return entityIds.map((entityId) =>
    features.map((feature): Cell => {
      const cached = vectors.get(vectorKey(feature.featureGroup, entityId))?.f[feature.id];
      if (!cached) return { value: null, ts: null, status: "NOT_FOUND" };
      if (feature.ttlSeconds !== null && now - cached.t > feature.ttlSeconds * 1_000_000) {
        return { value: null, ts: cached.t, status: "OUTSIDE_MAX_AGE" };
      }
      return { value: cached.v, ts: cached.t, status: cached.v === null ? "NULL_VALUE" : "PRESENT" };
    }),
  );
}
