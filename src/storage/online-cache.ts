/**
 * The KV online cache: one key per (feature group, entity) holding the group's latest vector, so
 * N features of one entity are one KV read. D1 stays the source of truth; KV is refreshed after
 * writes (write-through, the default) and filled on read misses.
 *
 * Vectors are stored in the shape they are served in (v3): `{"w": written at (ms), "f": {feature
 * id: [value JSON exactly as served, RFC 3339 time]}}`, so a read only splices text — no per-value
 * re-encoding, no timestamp formatting. Feature ids are never reused, so a deleted-then-recreated
 * feature never serves an old value.
 *
 * Production limits local workerd does not enforce, and how this module keeps them:
 * - one write per second per key: every KV write first claims its vector in D1 (`online_vectors`,
 *   a conditional update D1 serializes). A write that finds the vector written less than a second
 *   ago marks it pending and queues one refresh (`refresh-online`, mode `pending`) for after that
 *   second: a push storm on one entity costs one KV write per second, never a failed push, and KV
 *   catches up within seconds while D1 is always current. A vector younger than FRESH_WINDOW_MS may
 *   be waiting for such a refresh, so reads check it against D1 (serving/online.ts);
 * - 1,000 KV operations per invocation: callers pass only as many keys as they may still write
 *   (invocation.ts counts and enforces);
 * - 1,000 KV writes a day on the free plan: `FSTORE_KV_WRITE_THROUGH = "false"` leaves writes out
 *   of KV entirely; vectors are then filled on reads only, with an expiry (`FSTORE_KV_FILL_TTL`).
 */
import type { ValueType } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { kvOpsLeft, usageOf } from "../invocation";
import { storeDeadLetter } from "../jobs/dead-letters";
import { enqueueJobs, type JobMessage } from "../jobs/messages";
import { formatTimestamp, microsOf } from "../time";
import { servedJson } from "../value-types";
import { decodeStoredValue } from "./stored-value";

/** Feature id → [value JSON as served, RFC 3339 time]. */
export type Cells = Record<string, readonly [value: string, time: string]>;

/** A vector as KV holds it. */
export interface Vector {
  /** When it was written (ms): younger than FRESH_WINDOW_MS, a refresh may still be on its way. */
  w: number;
  f: Cells;
}

export interface GroupEntity {
  group: string;
  entityId: string;
}

/** How a refresh picks the vectors it writes: all it is given, those KV holds, or those waiting for their second. */
export type RefreshMode = "all" | "cached" | "pending";

// v3: vectors in served shape (v2 held raw values and digit-string microseconds).
export const vectorKey = (group: string, entityId: string) => `v3:${group}:${entityId}`;

/**
 * A write touching at most this many vectors writes them all through; a larger one refreshes only
 * the vectors KV holds — inline when they are at most this many, through the queue otherwise.
 */
export const INLINE_REFRESH_LIMIT = 200;
/** Vectors per refresh job message. */
export const REFRESH_JOB_SIZE = 200;
/** KV takes one write per second per key. */
export const KEY_WRITE_INTERVAL_MS = 1000;
/**
 * How long after its write a vector may be superseded by a write that had to wait for KV's second
 * (queued for 1 s, delivered within about a second more): reads check younger vectors against D1.
 */
export const FRESH_WINDOW_MS = 5000;
/** How long KV remembers that an entity has no values in a group (a write replaces it at once). */
export const EMPTY_TTL_SECONDS = 300;
/** KV operations an invocation keeps back when it refreshes inline. */
const KV_RESERVE = 10;
/** KV's smallest expirationTtl. */
const MIN_TTL_SECONDS = 60;
const DEFAULT_FILL_TTL_SECONDS = 300;

export interface CachePolicy {
  /** Writes refresh KV (default). Off: KV is filled by reads only. */
  writeThrough: boolean;
  /** Seconds a vector filled on read lives in KV; null: until a write replaces it. */
  fillTtlSeconds: number | null;
}

/** The cache policy of this deployment (wrangler.toml [vars]). */
export function cachePolicy(env: Bindings): CachePolicy {
  // Vars may be absent (a deployment with an older wrangler.toml) or set to anything.
  const writeThrough = (env.FSTORE_KV_WRITE_THROUGH as string | undefined) ?? "true";
  const fillTtl = (env.FSTORE_KV_FILL_TTL as string | undefined) ?? "";
  const flag = writeThrough.trim().toLowerCase();
  if (flag !== "true" && flag !== "false") {
    throw new ApiError("NOT_CONFIGURED", `FSTORE_KV_WRITE_THROUGH must be "true" or "false", got "${writeThrough}"`);
  }
  if (flag === "true") return { writeThrough: true, fillTtlSeconds: null };
  const ttl = fillTtl.trim() === "" ? DEFAULT_FILL_TTL_SECONDS : Number(fillTtl);
  if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS) {
    throw new ApiError("NOT_CONFIGURED", `FSTORE_KV_FILL_TTL must be a whole number of seconds, at least ${MIN_TTL_SECONDS} (KV's minimum), got "${fillTtl}"`);
  }
  return { writeThrough: false, fillTtlSeconds: ttl };
}

interface LatestRow {
  e: string;
  id: number;
  type: ValueType;
  v: string;
  t: string;
}

/** D1 rows of feature_latest → served-shape cells per entity. */
function toCells(rows: LatestRow[]): Map<string, Cells> {
  const vectors = new Map<string, Record<string, readonly [string, string]>>();
  for (const r of rows) {
    let cells = vectors.get(r.e);
    if (!cells) vectors.set(r.e, (cells = {}));
    // Through decodeStoredValue: a value stored before FStore's limits (too deep, not JSON) is served as null, never a failed read.
    cells[r.id] = [servedJson(r.type, decodeStoredValue(r.v, `the latest value of feature ${r.id} for an entity`)), formatTimestamp(microsOf(r.t))];
  }
  return vectors;
}

const latestColumns = "l.entity_id AS e, l.feature_id AS id, f.value_type AS type, l.value AS v, CAST(l.ts AS TEXT) AS t";

/** Reads the latest cells of `entityIds` in `group` from D1 (read-only; entities without values are absent). */
export async function loadCells(db: D1Database, group: string, entityIds: string[]): Promise<Map<string, Cells>> {
  const { results } = await db
    .prepare(
      `SELECT ${latestColumns} FROM features f JOIN feature_latest l ON l.feature_id = f.id
        WHERE f.feature_group = ?1 AND l.entity_id IN (SELECT value FROM json_each(?2))`,
    )
    .bind(group, JSON.stringify(entityIds))
    .all<LatestRow>();
  return toCells(results);
}

// The claim statements. Parameters: ?1 group, ?2 entity ids (JSON array), ?3 now (ms), ?4 claim
// token, ?5 expiry of an empty vector (a refresh deletes it: now), ?6 expiry of a vector with
// values (ms; null: never).
const live = "(expires_at IS NULL OR expires_at > ?3)";
const free = `written_at <= ?3 - ${KEY_WRITE_INTERVAL_MS}`;
const hasValues = (entity: string) =>
  `EXISTS (SELECT 1 FROM features f JOIN feature_latest l ON l.feature_id = f.id WHERE f.feature_group = ?1 AND l.entity_id = ${entity})`;
const expiry = (entity: string) => `CASE WHEN ${hasValues(entity)} THEN ?6 ELSE ?5 END`;
const inKeys = "entity_id IN (SELECT value FROM json_each(?2))";

const claimSql: Record<RefreshMode, string> = {
  // Every vector, cached or not (small writes, read fills).
  all: `INSERT INTO online_vectors (feature_group, entity_id, written_at, pending, claim, expires_at)
          SELECT ?1, j.value, ?3, 0, ?4, ${expiry("j.value")} FROM json_each(?2) AS j WHERE true
          ON CONFLICT (feature_group, entity_id) DO UPDATE
            SET written_at = excluded.written_at, pending = 0, claim = excluded.claim, expires_at = excluded.expires_at
            WHERE online_vectors.${free}`,
  // Only vectors KV holds (large writes).
  cached: `UPDATE online_vectors SET written_at = ?3, pending = 0, claim = ?4, expires_at = ${expiry("online_vectors.entity_id")}
            WHERE feature_group = ?1 AND ${inKeys} AND ${live} AND ${free}`,
  // Only vectors still waiting for a refresh (queued after a too-early write).
  pending: `UPDATE online_vectors SET written_at = ?3, pending = 0, claim = ?4, expires_at = ${expiry("online_vectors.entity_id")}
             WHERE feature_group = ?1 AND ${inKeys} AND ${live} AND ${free} AND pending = 1`,
};

// Vectors written less than a second ago by someone else: mark them pending. Only the first
// writer to do so gets the key back (and queues the one refresh); later ones see it pending.
const deferSql = `UPDATE online_vectors SET pending = 1
   WHERE feature_group = ?1 AND ${inKeys} AND ${live} AND claim IS NOT ?4 AND written_at > ?3 - ${KEY_WRITE_INTERVAL_MS} AND pending = 0
   RETURNING entity_id AS e`;
// A queued pending refresh that is still too early goes round again.
const stillPendingSql = `SELECT entity_id AS e FROM online_vectors
   WHERE feature_group = ?1 AND ${inKeys} AND ${live} AND claim IS NOT ?4 AND written_at > ?3 - ${KEY_WRITE_INTERVAL_MS} AND pending = 1`;
const claimedSql = `SELECT j.value AS e, v.expires_at AS x FROM json_each(?2) AS j
   JOIN online_vectors v ON v.feature_group = ?1 AND v.entity_id = j.value WHERE v.claim = ?4`;
const claimedLatestSql = `SELECT ${latestColumns} FROM features f JOIN feature_latest l ON l.feature_id = f.id
   WHERE f.feature_group = ?1 AND l.entity_id IN (SELECT value FROM json_each(?2))
     AND EXISTS (SELECT 1 FROM online_vectors v WHERE v.feature_group = ?1 AND v.entity_id = l.entity_id AND v.claim = ?4)`;

/** Binds the first N of `params`, N being the highest `?N` the statement uses (D1 refuses extra bindings). */
function bindUsed(db: D1Database, sql: string, params: unknown[]): D1PreparedStatement {
  const used = Math.max(0, ...[...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])));
  return db.prepare(sql).bind(...params.slice(0, used));
}

/** Distinct entity ids per group. */
function byGroup(keys: GroupEntity[]): Map<string, string[]> {
  const groups = new Map<string, Set<string>>();
  for (const { group, entityId } of keys) {
    const set = groups.get(group);
    if (set) set.add(entityId);
    else groups.set(group, new Set([entityId]));
  }
  return new Map([...groups].map(([group, ids]) => [group, [...ids]]));
}

export interface RefreshResult {
  /** Vectors written to KV. */
  written: number;
  /** Vectors that must wait for their second (a `pending` refresh was queued for them). */
  deferred: GroupEntity[];
}

/**
 * Claims, rebuilds from D1 and writes the KV vectors of `keys` (one D1 batch for the claims and the
 * reads, then one KV put per claimed vector; a vector without values is deleted). Vectors written
 * less than a second ago are left for a queued `pending` refresh. At most `keys.length` KV
 * operations — more than the invocation has left and the refresh is queued instead. Does nothing
 * when write-through is off.
 */
export async function refreshKeys(env: Bindings, keys: GroupEntity[], mode: RefreshMode, attempt = 0): Promise<RefreshResult> {
  if (keys.length === 0 || !cachePolicy(env).writeThrough) return { written: 0, deferred: [] };
  if (keys.length > kvOpsLeft(env) - KV_RESERVE) {
    // Not enough KV operations left in this invocation (a run refreshing file after file, say):
    // the queue refreshes them from fresh invocations (those KV holds; reads fill the others).
    await queueRefresh(env, keys, mode === "pending" ? "pending" : "cached", attempt);
    return { written: 0, deferred: [] };
  }
  return writeVectors(env, keys, mode, { fillTtlSeconds: null, defer: true, attempt });
}

/**
 * Fills KV with the vectors of entities a read missed (in the background of that read): claims
 * them, rebuilds them from D1 in the same transaction and writes those it claimed. A vector
 * written by someone else less than a second ago is left alone (theirs is at least as new).
 */
export async function fillVectors(env: Bindings, group: string, entityIds: string[]): Promise<number> {
  if (entityIds.length === 0) return 0;
  const { fillTtlSeconds } = cachePolicy(env);
  const { written } = await writeVectors(env, entityIds.map((entityId) => ({ group, entityId })), "all", { fillTtlSeconds, defer: false, attempt: 0 });
  return written;
}

async function writeVectors(
  env: Bindings,
  keys: GroupEntity[],
  mode: RefreshMode,
  opts: { fillTtlSeconds: number | null; defer: boolean; attempt: number },
): Promise<RefreshResult> {
  const db = env.DB;
  const now = Date.now();
  const token = crypto.randomUUID();
  // A fill remembers an entity without values for a while; a refresh deletes its vector instead,
  // so that the next read asks D1 rather than trusting an emptiness a write may just have ended.
  const emptyExpiry = opts.defer ? now : now + Math.min(EMPTY_TTL_SECONDS, opts.fillTtlSeconds ?? EMPTY_TTL_SECONDS) * 1000;
  const fullExpiry = opts.fillTtlSeconds === null ? null : now + opts.fillTtlSeconds * 1000;
  const groups = [...byGroup(keys)];
  const statements: D1PreparedStatement[] = [];
  for (const [group, entityIds] of groups) {
    const params = [group, JSON.stringify(entityIds), now, token, emptyExpiry, fullExpiry];
    statements.push(bindUsed(db, claimSql[mode], params));
    if (opts.defer) statements.push(bindUsed(db, mode === "pending" ? stillPendingSql : deferSql, params));
    statements.push(bindUsed(db, claimedSql, params), bindUsed(db, claimedLatestSql, params));
  }
  const results = await db.batch(statements);

  const deferred: GroupEntity[] = [];
  // text null: delete the key (a refresh found no values).
  const puts: { group: string; entityId: string; text: string | null; ttl: number | undefined }[] = [];
  let i = 0;
  for (const [group] of groups) {
    i++; // the claim itself
    if (opts.defer) for (const r of (results[i++] as D1Result<{ e: string }>).results) deferred.push({ group, entityId: r.e });
    const claimed = (results[i++] as D1Result<{ e: string; x: number | null }>).results;
    const cells = toCells((results[i++] as D1Result<LatestRow>).results);
    for (const { e, x } of claimed) {
      const f = cells.get(e);
      const ttl = x === null ? undefined : Math.max(MIN_TTL_SECONDS, Math.ceil((x - now) / 1000));
      const text = f || !opts.defer ? JSON.stringify({ w: now, f: f ?? {} } satisfies Vector) : null;
      puts.push({ group, entityId: e, text, ttl });
    }
  }

  const outcomes = await Promise.allSettled(
    puts.map((p) => {
      const key = vectorKey(p.group, p.entityId);
      return p.text === null ? env.ONLINE.delete(key) : env.ONLINE.put(key, p.text, p.ttl === undefined ? undefined : { expirationTtl: p.ttl });
    }),
  );
  const failed = puts.filter((_, k) => outcomes[k]?.status === "rejected");
  if (failed.length > 0) {
    const reason = (outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult).reason as Error;
    console.error(`KV refused ${failed.length} of ${puts.length} vector writes (${reason.message})${opts.defer ? "; queueing a retry" : ""}`);
    if (opts.defer) {
      // The claim stands (so nobody writes within the second), the refresh is queued for after it.
      await db.batch(
        [...byGroup(failed)].map(([group, ids]) => db.prepare(`UPDATE online_vectors SET pending = 1 WHERE feature_group = ?1 AND ${inKeys}`).bind(group, JSON.stringify(ids))),
      );
      deferred.push(...failed.map(({ group, entityId }) => ({ group, entityId })));
    }
  }
  const attempt = opts.attempt + (failed.length > 0 ? 1 : 0);
  if (attempt > MAX_REFRESH_ATTEMPTS) {
    // KV kept refusing these: they stay marked pending (the next write to them claims and writes
    // them), and their job is kept as a dead letter, to be replayed once the cause is fixed. The
    // vectors that only wait for their second go on as usual.
    const refused = new Set(failed.map((f) => vectorKey(f.group, f.entityId)));
    await storeDeadLetter(env, "fstore-jobs", { type: "refresh-online", mode: "pending", attempt: 0, keys: failed.map(({ group, entityId }) => ({ group, entityId })) });
    const waiting = deferred.filter((d) => !refused.has(vectorKey(d.group, d.entityId)));
    if (waiting.length > 0) await queueRefresh(env, waiting, "pending", opts.attempt);
  } else if (deferred.length > 0) await queueRefresh(env, deferred, "pending", attempt);
  return { written: puts.length - failed.length, deferred };
}

/** Refused KV writes are retried this many times, waiting 2, 4, ... 300 s. */
const MAX_REFRESH_ATTEMPTS = 10;
/** Seconds a queued pending refresh waits: past the key's second, longer after KV refused a write. */
const pendingDelay = (attempt: number) => Math.min(300, 2 ** attempt);

/** Queues refresh jobs for `keys` (REFRESH_JOB_SIZE per message). */
export async function queueRefresh(env: Bindings, keys: GroupEntity[], mode: Exclude<RefreshMode, "all">, attempt = 0): Promise<void> {
  const jobs: JobMessage[] = [];
  for (let i = 0; i < keys.length; i += REFRESH_JOB_SIZE) jobs.push({ type: "refresh-online", mode, attempt, keys: keys.slice(i, i + REFRESH_JOB_SIZE) });
  await enqueueJobs(env.JOBS, jobs, mode === "pending" ? pendingDelay(attempt) : undefined);
}

const cachedSql = `SELECT entity_id AS e FROM online_vectors WHERE feature_group = ?1 AND ${inKeys} AND ${live}`;

/** Statements asking which of `keys` KV holds (per online_vectors), one per group, and how to read their results. */
function cachedKeysQuery(db: D1Database, keys: GroupEntity[], now = Date.now()) {
  const groups = [...byGroup(keys)];
  return {
    statements: groups.map(([group, ids]) => db.prepare(cachedSql).bind(group, JSON.stringify(ids), now)),
    read: (results: D1Result[]): GroupEntity[] => groups.flatMap(([group], k) => (results[k] as D1Result<{ e: string }>).results.map((r) => ({ group, entityId: r.e }))),
  };
}

/** The keys among `keys` whose vectors KV holds (per online_vectors). */
async function cachedKeys(db: D1Database, keys: GroupEntity[]): Promise<GroupEntity[]> {
  const query = cachedKeysQuery(db, keys);
  return query.read(await db.batch(query.statements));
}

/**
 * For a write about to commit `touched` vectors: the statements refreshOnline would run first to
 * learn which of them KV holds (a write too large to write every vector through), to go into the
 * write's own D1 batch — one round trip fewer, read in the same transaction as the values — and
 * how to read their results for refreshOnline. Null when refreshOnline would not ask.
 */
export function cachedKeysProbe(env: Bindings, touched: GroupEntity[]): { statements: D1PreparedStatement[]; read(results: D1Result[]): GroupEntity[] } | null {
  if (touched.length <= INLINE_REFRESH_LIMIT) return null;
  try {
    if (!cachePolicy(env).writeThrough) return null;
  } catch {
    return null; // a wrong setting fails the refresh after the commit, as it would without the probe
  }
  return cachedKeysQuery(env.DB, touched);
}

/**
 * Brings the vectors of freshly committed values up to date (the write path calls this after its
 * commit). Small writes write every touched vector through before they answer (a value pushed
 * reads back). Larger ones refresh only the vectors KV holds — after the response when the
 * invocation has background time, inline when they are few, through the jobs queue otherwise —
 * so a bulk load of new entities costs one D1 query instead of a KV write per entity; reads fill
 * the rest from D1. `cached`: which of `touched` KV holds, when the caller already read it in its
 * commit (cachedKeysProbe); a large write none of whose vectors are cached has nothing to do.
 * A failure here never fails the write: the values are committed, the refresh is queued instead.
 */
export async function refreshOnline(env: Bindings, touched: GroupEntity[], cached?: GroupEntity[]): Promise<void> {
  if (touched.length === 0 || !cachePolicy(env).writeThrough) return;
  if (touched.length > INLINE_REFRESH_LIMIT && cached?.length === 0) return;
  const refresh = async () => {
    try {
      if (touched.length <= INLINE_REFRESH_LIMIT) return void (await refreshKeys(env, touched, "all"));
      const held = cached ?? (await cachedKeys(env.DB, touched));
      if (held.length <= INLINE_REFRESH_LIMIT) await refreshKeys(env, held, "cached");
      else await queueRefresh(env, held, "cached");
    } catch (err) {
      // The values are committed; the cache can catch up from the queue instead.
      console.error(`online-cache refresh after a write failed, queueing it: ${(err as Error).message}`);
      await queueRefresh(env, touched, "cached");
    }
  };
  const background = usageOf(env).waitUntil;
  if (touched.length > INLINE_REFRESH_LIMIT && background) background(refresh());
  else await refresh();
}

/** Rows pruned per call, so one cron tick stays small. */
const PRUNE_ROWS = 5000;

/** Forgets (in online_vectors) vectors KV has dropped: their expiry has passed. Returns how many. */
export async function pruneOnlineVectors(db: D1Database, now = Date.now()): Promise<number> {
  const { meta } = await db
    .prepare("DELETE FROM online_vectors WHERE rowid IN (SELECT rowid FROM online_vectors WHERE expires_at < ?1 LIMIT ?2)")
    .bind(now - KEY_WRITE_INTERVAL_MS, PRUNE_ROWS)
    .run();
  return meta.changes;
}

/** Distinct (group, entity) pairs, in first-seen order. */
export function distinctGroupEntities(pairs: Iterable<GroupEntity>): GroupEntity[] {
  // A set of entities per group, rather than a key string per pair (a batch has thousands).
  const seen = new Map<string, Set<string>>();
  const out: GroupEntity[] = [];
  for (const p of pairs) {
    let entities = seen.get(p.group);
    if (!entities) seen.set(p.group, (entities = new Set()));
    if (!entities.has(p.entityId)) {
      entities.add(p.entityId);
      out.push(p);
    }
  }
  return out;
}
