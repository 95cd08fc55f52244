/**
 * KV online cache: one key per (feature group, entity) holding the group's latest vector, so
 * N features of one entity are one KV read. D1 stays the source of truth: entries are rebuilt
 * from `feature_latest` after every write batch and refilled on a miss.
 *
 * KV is eventually consistent: a write is visible at once in the location that made it and
 * within about 60 seconds elsewhere. Entries are keyed inside by the feature's numeric id, which
 * is never reused, so a deleted-then-recreated feature never serves an old value.
 */
import type { Bindings } from "../env";
import { enqueueJobs } from "../jobs/messages";
import { decodeStoredValue } from "./stored-value";

export interface CachedValue {
  /** Feature name, for humans reading KV. */
  n: string;
  v: unknown;
  /** Microseconds since the epoch, as decimal digits (exact beyond 2^53; see time.ts). */
  t: string;
}

export interface Vector {
  /** Feature id → value. */
  f: Record<string, CachedValue>;
}

export interface GroupEntity {
  group: string;
  entityId: string;
}

// v2: `t` became a digit string.
export const vectorKey = (group: string, entityId: string) => `v2:${group}:${entityId}`;

/** Past this many touched vectors a write hands the refresh to the jobs queue. */
export const INLINE_REFRESH_LIMIT = 200;
/** Vectors per refresh job message. */
export const REFRESH_JOB_SIZE = 200;

export async function readVector(kv: KVNamespace, group: string, entityId: string): Promise<Vector | null> {
  return kv.get<Vector>(vectorKey(group, entityId), "json");
}

/** Reads the latest vectors of `entityIds` in `group` from D1. */
export async function loadVectors(db: D1Database, group: string, entityIds: string[]): Promise<Map<string, Vector>> {
  const { results } = await db
    .prepare(
      `SELECT l.entity_id AS e, l.feature_id AS id, f.name AS n, l.value AS v, CAST(l.ts AS TEXT) AS t
         FROM features f JOIN feature_latest l ON l.feature_id = f.id
        WHERE f.feature_group = ?1 AND l.entity_id IN (SELECT value FROM json_each(?2))`,
    )
    .bind(group, JSON.stringify(entityIds))
    .all<{ e: string; id: number; n: string; v: string; t: string }>();
  const vectors = new Map<string, Vector>();
  for (const r of results) {
    let vector = vectors.get(r.e);
    if (!vector) vectors.set(r.e, (vector = { f: {} }));
    vector.f[r.id] = { n: r.n, v: decodeStoredValue(r.v, `the latest value of feature ${r.n}`), t: r.t };
  }
  return vectors;
}

/** Rebuilds the KV vectors of the given (group, entity) pairs from D1. */
export async function refreshVectors(db: D1Database, kv: KVNamespace, keys: GroupEntity[]): Promise<void> {
  const byGroup = new Map<string, string[]>();
  for (const { group, entityId } of keys) {
    const list = byGroup.get(group) ?? [];
    list.push(entityId);
    byGroup.set(group, list);
  }
  const writes: Promise<void>[] = [];
  for (const [group, entityIds] of byGroup) {
    const vectors = await loadVectors(db, group, entityIds);
    for (const entityId of entityIds) {
      const vector = vectors.get(entityId);
      const key = vectorKey(group, entityId);
      writes.push(vector ? kv.put(key, JSON.stringify(vector)) : kv.delete(key));
    }
  }
  await Promise.all(writes);
}

/**
 * Rebuilds only the vectors KV already holds (remembered-empty ones included). Large writes use
 * this: a vector nobody has read is not written — its first read fills it from D1 — so a bulk load
 * costs one bulk KV read per 100 vectors instead of one KV write per vector, and every vector a
 * reader has cached is still brought up to date.
 */
export async function refreshCachedVectors(db: D1Database, kv: KVNamespace, keys: GroupEntity[]): Promise<void> {
  const cached: GroupEntity[] = [];
  const reads: Promise<void>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    const slice = keys.slice(i, i + 100);
    reads.push(
      kv.get(slice.map((k) => vectorKey(k.group, k.entityId)), "text").then((found) => {
        for (const k of slice) if (found.get(vectorKey(k.group, k.entityId)) != null) cached.push(k);
      }),
    );
  }
  await Promise.all(reads);
  if (cached.length > 0) await refreshVectors(db, kv, cached);
}

/**
 * Brings the vectors of freshly committed values up to date: inline for small writes, through the
 * jobs queue (`refresh-online`) for large ones — a Worker invocation may make only so many KV calls.
 */
export async function refreshOnline(env: Bindings, touched: GroupEntity[]): Promise<void> {
  if (touched.length <= INLINE_REFRESH_LIMIT) {
    try {
      return await refreshVectors(env.DB, env.ONLINE, touched);
    } catch (err) {
      // The values are committed; the cache can catch up from the queue instead.
      console.error(`inline online-cache refresh failed, queueing it: ${(err as Error).message}`);
    }
  }
  const jobs = [];
  for (let i = 0; i < touched.length; i += REFRESH_JOB_SIZE) {
    jobs.push({ type: "refresh-online" as const, keys: touched.slice(i, i + REFRESH_JOB_SIZE) });
  }
  await enqueueJobs(env.JOBS, jobs);
}

/** Distinct (group, entity) pairs, in first-seen order. */
export function distinctGroupEntities(pairs: Iterable<GroupEntity>): GroupEntity[] {
  const seen = new Map<string, GroupEntity>();
  for (const p of pairs) {
    const key = vectorKey(p.group, p.entityId);
    if (!seen.has(key)) seen.set(key, p);
  }
  return [...seen.values()];
}
