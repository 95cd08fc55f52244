/**
 * Online reads: the latest vector of many features for many entities. One KV key per
 * (feature group, entity), fetched with bulk reads of up to 100 keys (one KV operation each), all
 * issued concurrently; vectors KV does not have come from D1 in one query per group and are
 * written back to KV in the background. TTL is enforced here, at read time.
 */
import type { FeatureRow } from "../db/schema";
import { ApiError } from "../errors";
import { loadVectors, vectorKey, type Vector } from "../storage/online-cache";
import { servableValue } from "../storage/stored-value";
import { isExpired, microsOf, nowMicros, type Micros } from "../time";

export type Status = "PRESENT" | "NOT_FOUND" | "OUTSIDE_MAX_AGE" | "NULL_VALUE";

export interface Cell {
  value: unknown;
  /** Microseconds since the epoch, or null when there is no value. */
  ts: Micros | null;
  status: Status;
}

/** How long KV remembers that an entity has no values in a group (a write replaces it at once). */
const NEGATIVE_TTL_SECONDS = 300;
/** Keys per bulk KV read (the KV maximum). */
const BULK_GET_KEYS = 100;
/**
 * Vectors one request may read: 200 bulk reads, well inside a Worker invocation's 1,000 KV
 * operations, leaving room for refills.
 */
export const MAX_VECTORS_PER_REQUEST = 20_000;
/** KV writes one request may spend refilling misses; further misses are served from D1 alone. */
const MAX_REFILLS = 200;

/** `cells[e][f]` is feature `features[f]` for entity `entityIds[e]`. */
export async function readOnline(
  db: D1Database,
  kv: KVNamespace,
  features: FeatureRow[],
  entityIds: string[],
  waitUntil: (p: Promise<unknown>) => void,
  now = nowMicros(),
): Promise<Cell[][]> {
  const groups = [...new Set(features.map((f) => f.featureGroup))];
  const uniqueEntities = [...new Set(entityIds)];
  const keys = groups.flatMap((group) => uniqueEntities.map((entityId) => vectorKey(group, entityId)));
  if (keys.length > MAX_VECTORS_PER_REQUEST) {
    throw new ApiError(
      "VALIDATION_FAILED",
      `this request needs ${keys.length} vectors (${groups.length} feature groups × ${uniqueEntities.length} entities); at most ${MAX_VECTORS_PER_REQUEST} — split it`,
    );
  }
  const vectors = new Map<string, Vector | null>();
  const bulks: Promise<void>[] = [];
  for (let i = 0; i < keys.length; i += BULK_GET_KEYS) {
    bulks.push(
      kv.get<Vector>(keys.slice(i, i + BULK_GET_KEYS), "json").then((found) => {
        for (const [key, vector] of found) vectors.set(key, vector);
      }),
    );
  }
  await Promise.all(bulks);

  // Misses: one D1 query per group (groups concurrently), then refill KV without making the caller wait.
  let refillBudget = MAX_REFILLS;
  await Promise.all(
    groups.map(async (group) => {
      const missing = uniqueEntities.filter((e) => (vectors.get(vectorKey(group, e)) ?? null) === null);
      if (missing.length === 0) return;
      const loaded = await loadVectors(db, group, missing);
      const refills: Promise<void>[] = [];
      for (const entityId of missing) {
        const vector = loaded.get(entityId) ?? { f: {} };
        vectors.set(vectorKey(group, entityId), vector);
        if (refillBudget-- <= 0) continue;
        const options = loaded.has(entityId) ? undefined : { expirationTtl: NEGATIVE_TTL_SECONDS };
        refills.push(kv.put(vectorKey(group, entityId), JSON.stringify(vector), options));
      }
      waitUntil(Promise.all(refills));
    }),
  );

  return entityIds.map((entityId) =>
    features.map((feature): Cell => {
      const cached = vectors.get(vectorKey(feature.featureGroup, entityId))?.f[feature.id];
      if (!cached) return { value: null, ts: null, status: "NOT_FOUND" };
      const ts = microsOf(cached.t);
      if (isExpired(ts, feature.ttlSeconds, now)) return { value: null, ts, status: "OUTSIDE_MAX_AGE" };
      const value = servableValue(cached.v, `the cached value of feature ${feature.name}`);
      return { value, ts, status: value === null ? "NULL_VALUE" : "PRESENT" };
    }),
  );
}
