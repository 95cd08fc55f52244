/**
 * All the dashboard's data access, in one place. Pages never touch D1, KV or the run machinery
 * directly: they call these functions, which either call the API's own functions (registry,
 * runs, online reads, connector tests, key checks) or run read-only D1 queries of their own.
 * When storage internals move, this is the one module to re-point.
 *
 * What the API does not offer yet and is done here:
 * - a run listing across all features, with file progress (`listRuns`, `runsById`, `runDetail`);
 * - per-feature freshness and entity counts for a page of the registry (`listFeatures`);
 * - creating and revoking keys (the keys routes keep that logic inline; `createKey`/`revokeKey`
 *   do the same: generateKey + insert, update + forgetCachedKeys).
 * Everything returned is display-ready: timestamps as RFC 3339 text plus epoch milliseconds,
 * values already parsed from their JSON.
 */
import { Hono } from "hono";
import { connectorFor } from "../../connectors/registry";
import { forgetCachedKeys, generateKey, requireScope } from "../auth";
import type { FeatureRow, Scope, SourceType, ValueType } from "../db/schema";
import type { AppEnv, Bindings } from "../env";
import { ApiError, handleError, type ErrorCode } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { listingOf } from "../runs/file-source";
import { startRun } from "../runs/lifecycle";
import { getRun, listRuns as listRunRecords, type RunRecord } from "../runs/records";
import { hasRuns } from "../runs/sources";
import { connectorToJson, getConnector, listConnectors, testConnector as testRegistryConnector } from "../registry/connectors";
import { featureToJson, getFeature } from "../registry/features";
import { parseRef, refOf, resolveRef } from "../registry/refs";
import { catalogRef, groupFeatures, loadCatalog, resolveRefs } from "../serving/catalog";
import { checkEntityId } from "../ingest/rules";
import { readOnline } from "../serving/online";
import { onlineBody, type OnlineAnswer, type Status } from "../serving/online-json";
import { decodeStoredValue } from "../storage/stored-value";
import { readLatest } from "../storage/values";
import { formatTimestamp, isExpired, nowMicros, parseTimestamp } from "../time";
import { BOOTSTRAP_KEY_ID } from "./session";

/** An instant as the pages show it. */
export interface Instant {
  iso: string;
  ms: number;
}

/** Microseconds as bigint, or as the digits D1 returns for `CAST(ts AS TEXT)` (exact beyond 2^53). */
const fromMicros = (micros: bigint | string): Instant => {
  const us = BigInt(micros);
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  return { iso: formatTimestamp(us), ms: Number(ms) };
};
const fromMillis = (ms: number): Instant => ({ iso: new Date(ms).toISOString(), ms });
const maybeMillis = (ms: number | null): Instant | null => (ms === null ? null : fromMillis(ms));

// --- keys and sessions ---------------------------------------------------------------------

export interface Viewer {
  keyId: string;
  /** The key's name, for the header. */
  name: string;
  scopes: readonly Scope[];
}

/** A tiny app holding only the API's own auth middleware, so sign-in checks a key exactly as the API does. */
const keyCheck = new Hono<AppEnv>().get("/", requireScope("read"), (c) => c.json(c.get("principal")));
keyCheck.onError(handleError);

/** The key's id, or null for a key the API would refuse (unknown, revoked). */
export async function checkApiKey(env: Bindings, key: string): Promise<string | null> {
  const res = await keyCheck.request("/", { headers: { authorization: `Bearer ${key}` } }, env);
  if (res.ok) return ((await res.json()) as { keyId: string }).keyId;
  if (res.status === 401) return null;
  // Unconfigured (503) or D1 failing: the same error the API gives, not "wrong key".
  const { error } = (await res.json()) as { error: { code: ErrorCode; message: string } };
  throw new ApiError(error.code, error.message);
}

/**
 * The key behind a session, read from D1 on every request: a revoked key ends its sessions at
 * once. The bootstrap admin key has no row; its sessions end when FSTORE_ADMIN_KEY changes
 * (the session signing key is derived from it).
 */
export async function viewerOf(env: Bindings, keyId: string): Promise<Viewer | null> {
  if (keyId === BOOTSTRAP_KEY_ID) return { keyId, name: "admin key (FSTORE_ADMIN_KEY)", scopes: ["admin"] };
  const row = await env.DB.prepare("SELECT name, scopes, revoked_at FROM api_keys WHERE id = ?1")
    .bind(keyId)
    .first<{ name: string; scopes: string; revoked_at: number | null }>();
  if (!row || row.revoked_at !== null) return null;
  return { keyId, name: row.name, scopes: JSON.parse(row.scopes) as Scope[] };
}

/** Sign-out marks the session ended in KV until it would have expired anyway. */
const endedKey = (sid: string) => `ui-session-ended:${sid}`;

export async function isSessionEnded(env: Bindings, sid: string): Promise<boolean> {
  return (await env.ONLINE.get(endedKey(sid))) !== null;
}

export async function endSession(env: Bindings, sid: string, expSeconds: number): Promise<void> {
  // KV refuses expirations under 60 seconds.
  const ttl = Math.max(60, expSeconds - Math.floor(Date.now() / 1000) + 60);
  await env.ONLINE.put(endedKey(sid), "1", { expirationTtl: ttl });
}

export interface KeyRow {
  id: string;
  name: string;
  scopes: Scope[];
  created: Instant;
  revoked: Instant | null;
}

/** Keys, newest first, `limit` per page after the key with rowid `after`. */
export async function listKeys(env: Bindings, page: { after?: number; limit: number }): Promise<{ keys: KeyRow[]; next: number | null }> {
  const { results } = await env.DB.prepare(
    `SELECT rowid AS rid, id, name, scopes, created_at, revoked_at FROM api_keys WHERE (?1 IS NULL OR rowid < ?1) ORDER BY rowid DESC LIMIT ?2`,
  )
    .bind(page.after ?? null, page.limit + 1)
    .all<{ rid: number; id: string; name: string; scopes: string; created_at: number; revoked_at: number | null }>();
  const rows = results.slice(0, page.limit);
  return {
    keys: rows.map((r) => ({ id: r.id, name: r.name, scopes: JSON.parse(r.scopes) as Scope[], created: fromMillis(r.created_at), revoked: maybeMillis(r.revoked_at) })),
    next: results.length > page.limit ? (rows.at(-1)?.rid ?? null) : null,
  };
}

/** A new key; the secret is returned here only and stored as its hash, as `POST /api/v1/keys` does. */
export async function createKey(env: Bindings, name: string, scopes: Scope[]): Promise<{ id: string; key: string }> {
  const { id, key, hash } = await generateKey();
  await env.DB.prepare("INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
    .bind(id, name, hash, JSON.stringify([...new Set(scopes)]), Date.now())
    .run();
  return { id, key };
}

/** Revokes a key, as `DELETE /api/v1/keys/{id}` does. */
export async function revokeKey(env: Bindings, id: string): Promise<void> {
  const res = await env.DB.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1").bind(id, Date.now()).run();
  if (res.meta.changes === 0) throw new ApiError("KEY_NOT_FOUND", `API key '${id}' not found`);
  forgetCachedKeys();
}

// --- features ------------------------------------------------------------------------------

export interface FeatureFilter {
  q?: string;
  group?: string;
  entity?: string;
  source?: SourceType;
  type?: ValueType;
  connector?: string;
  limit: number;
  /** Names after this one (next page) ... */
  after?: string;
  /** ... or before this one (previous page). */
  before?: string;
}

export interface FeatureListRow {
  name: string;
  /** What addresses it (links): the name while unique, else group:name. */
  ref: string;
  description: string | null;
  group: string;
  entity: string;
  source: SourceType;
  valueType: ValueType;
  ttlSeconds: number | null;
  connector: string | null;
  /** Timestamp of the newest value, or null when there is none. */
  newest: Instant | null;
  /** Entities with a value, counted up to ENTITY_COUNT_CAP (then "at least"). */
  entities: number;
}

/**
 * Entity counts in the list stop here, so a page of features with millions of entities each costs
 * a bounded scan; a feature's own page counts exactly.
 */
export const ENTITY_COUNT_CAP = 10_000;

export interface Paged<T> {
  rows: T[];
  /** Cursor for the page before (a `before=` value), or null on the first page. */
  prev: string | null;
  /** Cursor for the page after (an `after=` value), or null on the last page. */
  next: string | null;
}

/** SQL for the ref of features row `f` (registry/refs.ts): its name while unique, else group:name. */
const refSql = (f: string) =>
  `CASE WHEN (SELECT count(*) FROM features AS same WHERE same.name = ${f}.name) > 1 THEN ${f}.feature_group || ':' || ${f}.name ELSE ${f}.name END`;

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/** One page of the registry, ordered by name, each feature with its freshness and entity count. */
export async function listFeatures(env: Bindings, f: FeatureFilter): Promise<Paged<FeatureListRow> & { total: number }> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const bind = (v: string | number) => {
    params.push(v);
    return `?${params.length}`;
  };
  if (f.q) {
    const p = bind(likePattern(f.q));
    where.push(`(f.name LIKE ${p} ESCAPE '\\' OR f.description LIKE ${p} ESCAPE '\\')`);
  }
  if (f.group) where.push(`f.feature_group = ${bind(f.group)}`);
  if (f.entity) where.push(`f.entity_id = ${bind(f.entity)}`);
  if (f.source) where.push(`f.source_type = ${bind(f.source)}`);
  if (f.type) where.push(`f.value_type = ${bind(f.type)}`);
  if (f.connector) where.push(`json_extract(f.source, '$.connector') = ${bind(f.connector)}`);
  const filterSql = where.length ? where.join(" AND ") : "1";
  const filterParams = [...params];

  const backwards = f.before !== undefined;
  const cursor = f.before ?? f.after;
  // Cursors are group:name (names repeat across groups); a bare name continues after every feature of that name.
  const parsedCursor = cursor === undefined ? undefined : parseRef(cursor);
  const cmp = backwards ? "<" : ">";
  const cursorSql =
    parsedCursor === undefined
      ? ""
      : parsedCursor.group === null
        ? ` AND f.name ${cmp} ${bind(parsedCursor.name)}`
        : ` AND (f.name, f.feature_group) ${cmp} (${bind(parsedCursor.name)}, ${bind(parsedCursor.group)})`;
  const limitSql = bind(f.limit + 1);
  const pageSql = `SELECT p.*,
      (SELECT CAST(max(v.ts) AS TEXT) FROM feature_values v WHERE v.feature_id = p.id) AS newest,
      (SELECT count(*) FROM (SELECT 1 FROM feature_latest l WHERE l.feature_id = p.id LIMIT ${ENTITY_COUNT_CAP + 1})) AS entities
    FROM (SELECT f.id, f.name, ${refSql("f")} AS ref, f.description, f.feature_group, f.entity_id, f.source_type, f.value_type, f.ttl_seconds,
                 json_extract(f.source, '$.connector') AS connector
            FROM features f WHERE ${filterSql}${cursorSql} ORDER BY f.name ${backwards ? "DESC" : "ASC"}, f.feature_group ${backwards ? "DESC" : "ASC"} LIMIT ${limitSql}) p
    ORDER BY p.name, p.feature_group`;
  type Row = {
    name: string;
    ref: string;
    description: string | null;
    feature_group: string;
    entity_id: string;
    source_type: SourceType;
    value_type: ValueType;
    ttl_seconds: number | null;
    connector: unknown;
    newest: string | null;
    entities: number;
  };
  const [page, count] = await env.DB.batch<unknown>([
    env.DB.prepare(pageSql).bind(...params),
    env.DB.prepare(`SELECT count(*) AS n FROM features f WHERE ${filterSql}`).bind(...filterParams),
  ]);
  let rows = (page?.results ?? []) as Row[];
  const more = rows.length > f.limit;
  // The extra row that tells whether more follow is the last one in reading direction.
  if (more) rows = backwards ? rows.slice(1) : rows.slice(0, f.limit);
  const cursorOf = (r: Row | undefined) => (r ? `${r.feature_group}:${r.name}` : null);
  const first = cursorOf(rows[0]);
  const last = cursorOf(rows.at(-1));
  return {
    rows: rows.map((r) => ({
      name: r.name,
      ref: r.ref,
      description: r.description,
      group: r.feature_group,
      entity: r.entity_id,
      source: r.source_type,
      valueType: r.value_type,
      ttlSeconds: r.ttl_seconds,
      connector: typeof r.connector === "string" ? r.connector : null,
      newest: r.newest === null ? null : fromMicros(r.newest),
      entities: r.entities,
    })),
    prev: backwards ? (more ? first : null) : cursor !== undefined ? first : null,
    next: backwards ? last : more ? last : null,
    total: ((count?.results ?? []) as { n: number }[])[0]?.n ?? 0,
  };
}

/** Group names for the filter's suggestions (the first 500). */
export async function featureGroupNames(env: Bindings): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT DISTINCT feature_group AS g FROM features ORDER BY g LIMIT 500").all<{ g: string }>();
  return results.map((r) => r.g);
}

export interface FeatureDetail {
  name: string;
  /** What addresses it (links, API paths): the name while unique, else group:name. */
  ref: string;
  group: string;
  entity: string;
  valueType: ValueType;
  ttlSeconds: number | null;
  source: SourceType;
  description: string | null;
  /** The definition as `GET /api/v1/features/{id}` returns it. */
  definition: Record<string, unknown>;
  connector: { name: string; type: string; config: Record<string, unknown>; secretFields: string[] } | { name: string; missing: true } | null;
  schedule: { nextRun: Instant | null; failures: number; watermark: string | null; leased: boolean } | null;
  /** Whether "run now" applies (SQL and file features). */
  materializable: boolean;
  /** Entities with a value. */
  entities: number;
}

async function featureDetail(env: Bindings, row: FeatureRow, shared: boolean): Promise<FeatureDetail> {
  const connectorName = typeof row.source.connector === "string" ? row.source.connector : null;
  let connector: FeatureDetail["connector"] = null;
  if (connectorName !== null) {
    try {
      const c = connectorToJson(await getConnector(env.DB, connectorName));
      connector = { name: c.name, type: c.type, config: c.config, secretFields: c.secret_fields };
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "CONNECTOR_NOT_FOUND")) throw err;
      connector = { name: connectorName, missing: true };
    }
  }
  const [scheduleRows, countRows] = await env.DB.batch<unknown>([
    env.DB.prepare("SELECT next_run_at, failures, watermark, lease_until FROM feature_schedules WHERE feature_id = ?1").bind(row.id),
    env.DB.prepare("SELECT count(*) AS n FROM feature_latest WHERE feature_id = ?1").bind(row.id),
  ]);
  const schedule = ((scheduleRows?.results ?? []) as { next_run_at: number | null; failures: number; watermark: string | null; lease_until: number | null }[])[0];
  return {
    name: row.name,
    ref: refOf(row, shared),
    group: row.featureGroup,
    entity: row.entityId,
    valueType: row.valueType,
    ttlSeconds: row.ttlSeconds,
    source: row.sourceType,
    description: row.description,
    definition: featureToJson(row, shared),
    connector,
    schedule: schedule === undefined ? null : {
      nextRun: maybeMillis(schedule.next_run_at),
      failures: schedule.failures,
      watermark: schedule.watermark,
      leased: schedule.lease_until !== null && schedule.lease_until > Date.now(),
    },
    materializable: row.sourceType === "sql" || row.sourceType === "file",
    entities: ((countRows?.results ?? []) as { n: number }[])[0]?.n ?? 0,
  };
}

/** Values longer than this (as JSON text) are not loaded for a page; it shows their size instead. */
const MAX_SHOWN_VALUE_BYTES = 4096;

/** Stands in for a value too large to load for a page. */
export class LargeValue {
  constructor(readonly bytes: number) {}
}

export interface Point {
  at: Instant;
  /** The value, or a LargeValue. */
  value: unknown;
}

/**
 * The newest `limit` values of one entity (oldest first, for a chart), and the entity charted
 * when none is asked for: the one with the newest value.
 */
async function entityHistory(env: Bindings, feature: FeatureRow, entity: string | undefined, limit: number): Promise<{ entity: string | null; points: Point[] }> {
  let chosen = entity ?? null;
  if (chosen === null) {
    const newest = await env.DB.prepare("SELECT entity_id FROM feature_values WHERE feature_id = ?1 ORDER BY ts DESC LIMIT 1").bind(feature.id).first<{ entity_id: string }>();
    chosen = newest?.entity_id ?? null;
  }
  if (chosen === null) return { entity: null, points: [] };
  // Large values (long embeddings, big JSON) are left in D1: a page of 500 of them would not fit in a Worker's memory.
  const { results } = await env.DB.prepare(
    `SELECT CAST(ts AS TEXT) AS ts, CASE WHEN length(value) <= ${MAX_SHOWN_VALUE_BYTES} THEN value END AS value, length(value) AS size
       FROM feature_values WHERE feature_id = ?1 AND entity_id = ?2 ORDER BY ts DESC LIMIT ?3`,
  )
    .bind(feature.id, chosen, limit)
    .all<{ ts: string; value: string | null; size: number }>();
  return {
    entity: chosen,
    points: results.reverse().map((r) => ({ at: fromMicros(r.ts), value: r.value === null ? new LargeValue(r.size) : decodeStoredValue(r.value) })),
  };
}

export interface HourCount {
  /** Start of the hour. */
  hour: Instant;
  count: number;
}

/**
 * Values per hour (by value timestamp) over the `hours` hours ending with the hour of the
 * feature's newest value; empty hours included.
 */
async function valuesPerHour(env: Bindings, feature: FeatureRow, hours: number): Promise<HourCount[]> {
  const HOUR = 3_600_000_000n;
  const newest = await env.DB.prepare("SELECT CAST(max(ts) AS TEXT) AS ts FROM feature_values WHERE feature_id = ?1").bind(feature.id).first<{ ts: string | null }>();
  if (!newest || newest.ts === null) return [];
  const us = BigInt(newest.ts);
  const lastHour = Number(us / HOUR - (us % HOUR < 0n ? 1n : 0n));
  const firstHour = lastHour - hours + 1;
  // The divisor is written into the SQL: bound, a number this large arrives as a REAL and the
  // division would not truncate. The bound start is digits (exact microseconds; D1 binds no bigint).
  const { results } = await env.DB.prepare(`SELECT ts / ${HOUR} AS h, count(*) AS n FROM feature_values WHERE feature_id = ?1 AND ts >= ?2 GROUP BY h`)
    .bind(feature.id, (BigInt(firstHour) * HOUR).toString())
    .all<{ h: number; n: number }>();
  const counts = new Map(results.map((r) => [r.h, r.n]));
  return Array.from({ length: hours }, (_, i) => ({ hour: fromMicros(BigInt(firstHour + i) * HOUR), count: counts.get(firstHour + i) ?? 0 }));
}

export interface LatestCell {
  entity: string;
  value: unknown;
  status: Status;
  at: Instant | null;
}

/**
 * Latest values of a sample of entities (`limit` entity ids in order, after `after`) read through
 * the online path, so statuses are what `/api/v1/online-features` answers.
 */
async function latestSample(
  env: Bindings,
  feature: FeatureRow,
  page: { after?: string; limit: number },
  waitUntil: (p: Promise<unknown>) => void,
): Promise<{ cells: LatestCell[]; next: string | null }> {
  const { results } = await env.DB.prepare("SELECT entity_id FROM feature_latest WHERE feature_id = ?1 AND (?2 IS NULL OR entity_id > ?2) ORDER BY entity_id LIMIT ?3")
    .bind(feature.id, page.after ?? null, page.limit + 1)
    .all<{ entity_id: string }>();
  const ids = results.slice(0, page.limit).map((r) => r.entity_id);
  if (ids.length === 0) return { cells: [], next: null };
  // Ids stored before the entity-id limits existed cannot be KV keys: those are read from D1 alone.
  const servable = ids.filter((id) => checkEntityId(id) === null);
  const read = await readOnline(env, [feature], servable, waitUntil);
  const answer = JSON.parse(onlineBody(read, [feature], [feature.name], servable, nowMicros())) as OnlineAnswer;
  const now = nowMicros();
  const legacy = new Map<string, LatestCell>();
  for (const id of ids.filter((id) => checkEntityId(id) !== null)) {
    const latest = await readLatest(env.DB, feature.id, id);
    const expired = latest !== null && isExpired(latest.ts, feature.ttlSeconds, now);
    legacy.set(id, {
      entity: id,
      value: latest === null || expired ? null : latest.value,
      status: latest === null ? "NOT_FOUND" : expired ? "OUTSIDE_MAX_AGE" : latest.value === null ? "NULL_VALUE" : "PRESENT",
      at: latest === null ? null : fromMicros(latest.ts),
    });
  }
  const fromKv = new Map(
    answer.results.map((r): [string, LatestCell] => {
      const at = r.event_timestamps[feature.name] ?? null;
      return [r.entity_id, { entity: r.entity_id, value: r.values[feature.name] ?? null, status: r.statuses[feature.name] ?? "NOT_FOUND", at: at === null ? null : fromMicros(parseTimestamp(at) as bigint) }];
    }),
  );
  return {
    cells: ids.map((id) => (fromKv.get(id) ?? legacy.get(id)) as LatestCell),
    next: results.length > page.limit ? (ids.at(-1) ?? null) : null,
  };
}

export interface FeaturePageOptions {
  /** The entity to chart (default: the one with the newest value). */
  entity?: string;
  /** Latest values: entities after this id. */
  sampleAfter?: string;
  points: number;
  hours: number;
  sampleSize: number;
  runs: number;
}

/** Everything a feature's page shows, with the feature looked up once; FEATURE_NOT_FOUND when unknown. */
export async function featurePage(env: Bindings, name: string, o: FeaturePageOptions, waitUntil: (p: Promise<unknown>) => void) {
  const { row, shared } = await resolveRef(env.DB, name);
  const [detail, history, hours, sample, runs] = await Promise.all([
    featureDetail(env, row, shared),
    entityHistory(env, row, o.entity, o.points),
    valuesPerHour(env, row, o.hours),
    latestSample(env, row, { after: o.sampleAfter, limit: o.sampleSize }, waitUntil),
    listRunRecords(env.DB, { featureId: row.id, limit: o.runs }).then((page) => page.runs),
  ]);
  return { detail, history, hours, sample, runs };
}

// --- online lookup ----------------------------------------------------------------------------

export interface OnlineLookup {
  features?: string[];
  feature_group?: string;
  entity_ids: string[];
}

/**
 * The body `POST /api/v1/online-features` answers for `request`, computed with the same
 * functions (catalog, references, online read).
 */
export async function onlineFeatures(env: Bindings, request: OnlineLookup, waitUntil: (p: Promise<unknown>) => void): Promise<OnlineAnswer> {
  const catalog = await loadCatalog(env.DB);
  const features = request.features ? resolveRefs(catalog, request.features) : groupFeatures(catalog, request.feature_group as string);
  const read = await readOnline(env, features, request.entity_ids, waitUntil);
  return JSON.parse(onlineBody(read, features, features.map((f) => catalogRef(catalog, f)), request.entity_ids, nowMicros())) as OnlineAnswer;
}

// --- runs --------------------------------------------------------------------------------------

type RunStatus = RunRecord["status"];

export interface RunFilter {
  status?: RunStatus;
  trigger?: RunRecord["trigger"];
  feature?: string;
  limit: number;
  after?: string;
  before?: string;
}

export interface Progress {
  /** 0..1, or null when the total is unknown (a SQL run reads until its query ends). */
  fraction: number | null;
  filesDone: number | null;
  filesTotal: number | null;
}

export interface RunRow {
  id: string;
  feature: string;
  status: RunStatus;
  trigger: RunRecord["trigger"];
  rowsRead: number;
  rowsWritten: number;
  rowsUnchanged: number;
  durationMs: number | null;
  error: string | null;
  created: Instant;
  started: Instant | null;
  finished: Instant | null;
  progress: Progress;
}

type RunDbRow = {
  rid: number;
  id: string;
  feature: string;
  status: RunStatus;
  trigger: RunRecord["trigger"];
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  files_total: number | null;
  files_done: number | null;
  reading_fraction: number | null;
};

/** Run columns plus file progress: counts only for data-lake runs (of file features). */
const RUN_COLUMNS = `r.rowid AS rid, r.id, ${refSql("f")} AS feature, r.status, r.trigger, r.rows_read, r.rows_written, r.rows_unchanged, r.error,
  r.created_at, r.started_at, r.finished_at,
  CASE WHEN f.source_type <> 'file' THEN NULL ELSE (SELECT count(*) FROM run_files rf WHERE rf.run_id = r.id) END AS files_total,
  CASE WHEN f.source_type <> 'file' THEN NULL ELSE (SELECT count(*) FROM run_files rf WHERE rf.run_id = r.id AND rf.status IN ('ingested', 'failed')) END AS files_done,
  CASE WHEN f.source_type <> 'file' THEN NULL ELSE (SELECT sum(CASE WHEN rf.size > 0 THEN min(1.0, rf.cursor_byte * 1.0 / rf.size) ELSE 0 END)
    FROM run_files rf WHERE rf.run_id = r.id AND rf.status = 'reading') END AS reading_fraction`;
const RUN_FROM = "FROM runs r JOIN features f ON f.id = r.feature_id";

function toRunRow(r: RunDbRow): RunRow {
  const finished = r.status === "succeeded" || r.status === "failed";
  let fraction: number | null = null;
  if (finished) fraction = 1;
  else if (r.files_total !== null && r.files_total > 0) fraction = Math.min(1, ((r.files_done ?? 0) + (r.reading_fraction ?? 0)) / r.files_total);
  return {
    id: r.id,
    feature: r.feature,
    status: r.status,
    trigger: r.trigger,
    rowsRead: r.rows_read,
    rowsWritten: r.rows_written,
    rowsUnchanged: r.rows_unchanged,
    durationMs: r.started_at !== null && r.finished_at !== null ? r.finished_at - r.started_at : null,
    error: r.error,
    created: fromMillis(r.created_at),
    started: maybeMillis(r.started_at),
    finished: maybeMillis(r.finished_at),
    progress: { fraction, filesDone: r.files_done, filesTotal: r.files_total },
  };
}

/** Run cursors are `<created_at>.<rowid>`: runs are listed newest first, ties by insertion order. */
export const RUN_CURSOR = /^\d{1,16}\.\d{1,16}$/;

/** All runs (of every feature), newest first, one page at a time. */
export async function listRuns(env: Bindings, f: RunFilter): Promise<Paged<RunRow>> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const bind = (v: string | number) => {
    params.push(v);
    return `?${params.length}`;
  };
  if (f.status) where.push(`r.status = ${bind(f.status)}`);
  if (f.trigger) where.push(`r.trigger = ${bind(f.trigger)}`);
  if (f.feature) {
    // A feature reference: group:name is one feature; a bare name, every feature of that name.
    const ref = parseRef(f.feature);
    where.push(`f.name = ${bind(ref.name)}`);
    if (ref.group !== null) where.push(`f.feature_group = ${bind(ref.group)}`);
  }
  const backwards = f.before !== undefined;
  const cursor = f.before ?? f.after;
  if (cursor !== undefined) {
    const [created, rid] = cursor.split(".").map(Number) as [number, number];
    where.push(`(r.created_at, r.rowid) ${backwards ? ">" : "<"} (${bind(created)}, ${bind(rid)})`);
  }
  const order = backwards ? "ASC" : "DESC";
  const { results } = await env.DB.prepare(
    `SELECT ${RUN_COLUMNS} ${RUN_FROM} WHERE ${where.length ? where.join(" AND ") : "1"} ORDER BY r.created_at ${order}, r.rowid ${order} LIMIT ${bind(f.limit + 1)}`,
  )
    .bind(...params)
    .all<RunDbRow>();
  const more = results.length > f.limit;
  let rows = results.slice(0, f.limit);
  if (backwards) rows = rows.reverse();
  const cursorOf = (r: RunDbRow | undefined) => (r ? `${r.created_at}.${r.rid}` : null);
  return {
    rows: rows.map(toRunRow),
    prev: backwards ? (more ? cursorOf(rows[0]) : null) : cursor !== undefined ? cursorOf(rows[0]) : null,
    next: backwards ? cursorOf(rows.at(-1)) : more ? cursorOf(rows.at(-1)) : null,
  };
}

/** Runs by id (at most 100), for the live progress of a page. Unknown ids are left out. */
export async function runsById(env: Bindings, ids: string[]): Promise<RunRow[]> {
  if (ids.length === 0) return [];
  const { results } = await env.DB.prepare(`SELECT ${RUN_COLUMNS} ${RUN_FROM} WHERE r.id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(ids.slice(0, 100)))
    .all<RunDbRow>();
  return results.map(toRunRow);
}

export interface RunFileRow {
  seq: number;
  key: string;
  size: number;
  status: "pending" | "reading" | "ingested" | "failed";
  rowsRead: number;
  rowsWritten: number;
  rowsUnchanged: number;
  error: string | null;
  /** Bytes read so far of a file being read. */
  cursorByte: number;
  finished: Instant | null;
}

export interface RunDetail {
  run: RunRow;
  watermark: string | null;
  /** Data-lake runs only. */
  lake: { filesMatched: number; filesSkipped: number; invocations: number } | null;
  files: RunFileRow[];
  nextFiles: number | null;
}

/** One run with (for a data-lake run) one page of its per-file results, in reading order. */
export async function runDetail(env: Bindings, id: string, files: { after?: number; limit: number }): Promise<RunDetail> {
  const record = await getRun(env.DB, id); // RUN_NOT_FOUND for an unknown id
  const [run] = await runsById(env, [id]);
  if (!run) throw new ApiError("RUN_NOT_FOUND", `run '${id}' not found`);
  const state = record.source_type === "file" ? await env.DB.prepare("SELECT cursor FROM runs WHERE id = ?1").bind(id).first<{ cursor: string | null }>() : null;
  const listing = state ? listingOf(state.cursor ? JSON.parse(state.cursor) : null) : null;
  const lake = listing && { files_matched: listing.matched, files_skipped: listing.skipped, invocations: record.invocations };
  let fileRows: RunFileRow[] = [];
  let nextFiles: number | null = null;
  if (lake) {
    const { results } = await env.DB.prepare(
      `SELECT seq, key, size, status, rows_read, rows_written, rows_unchanged, error, cursor_byte, finished_at FROM run_files
        WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3`,
    )
      .bind(id, files.after ?? -1, files.limit + 1)
      .all<{
        seq: number;
        key: string;
        size: number;
        status: RunFileRow["status"];
        rows_read: number;
        rows_written: number;
        rows_unchanged: number;
        error: string | null;
        cursor_byte: number;
        finished_at: number | null;
      }>();
    fileRows = results.slice(0, files.limit).map((r) => ({
      seq: r.seq,
      key: r.key,
      size: r.size,
      status: r.status,
      rowsRead: r.rows_read,
      rowsWritten: r.rows_written,
      rowsUnchanged: r.rows_unchanged,
      error: r.error,
      cursorByte: r.cursor_byte,
      finished: maybeMillis(r.finished_at),
    }));
    nextFiles = results.length > files.limit ? (fileRows.at(-1)?.seq ?? null) : null;
  }
  return {
    run,
    watermark: record.watermark,
    lake: lake && { filesMatched: lake.files_matched, filesSkipped: lake.files_skipped, invocations: lake.invocations },
    files: fileRows,
    nextFiles,
  };
}

/**
 * Starts a run of a SQL or file feature now and queues it, as
 * `POST /api/v1/features/{id}/materialize` does; returns the run id.
 */
export async function materializeNow(env: Bindings, name: string): Promise<string> {
  const feature = await getFeature(env.DB, name);
  if (!hasRuns(feature.sourceType)) {
    throw new ApiError("BAD_REQUEST", `feature '${feature.name}' has no SQL query or file path to materialize`);
  }
  const runId = await startRun(env.DB, feature, "manual");
  if (!runId) throw new ApiError("RUN_IN_PROGRESS", `a run of feature '${feature.name}' is already in progress`);
  await enqueueJobs(env.JOBS, [{ type: "materialize", run_id: runId }]);
  return runId;
}

// --- connectors --------------------------------------------------------------------------------

export interface ConnectorRow {
  name: string;
  type: string;
  /** Configuration without its secrets. */
  config: Record<string, unknown>;
  secretFields: string[];
  created: Instant;
  /** Features naming this connector (the first few names, and how many in all). */
  usedBy: { names: string[]; total: number };
  /** File features that name no connector and so read from this one, the only data-lake connector. */
  usedByDefault: number;
}

const USED_BY_SHOWN = 10;

export async function connectorsWithUsage(env: Bindings): Promise<ConnectorRow[]> {
  const rows = await listConnectors(env.DB);
  if (rows.length === 0) return [];
  // One pass over the registry, however many connectors there are: the first names and the count per connector.
  const [usage, unnamed] = await env.DB.batch<unknown>([
    env.DB.prepare(
      `SELECT c, name, n FROM (
         SELECT json_extract(source, '$.connector') AS c, name,
                row_number() OVER (PARTITION BY json_extract(source, '$.connector') ORDER BY name) AS k,
                count(*) OVER (PARTITION BY json_extract(source, '$.connector')) AS n
           FROM features WHERE json_extract(source, '$.connector') IS NOT NULL)
        WHERE k <= ?1 ORDER BY c, name`,
    ).bind(USED_BY_SHOWN),
    env.DB.prepare("SELECT count(*) AS n FROM features WHERE source_type = 'file' AND json_extract(source, '$.connector') IS NULL"),
  ]);
  const used = new Map<string, { names: string[]; total: number }>();
  for (const r of (usage?.results ?? []) as { c: string; name: string; n: number }[]) {
    const entry = used.get(r.c) ?? { names: [], total: r.n };
    entry.names.push(r.name);
    used.set(r.c, entry);
  }
  const lakes = rows.filter((r) => connectorFor(r.type)?.kind === "object_store");
  const defaultUsers = ((unnamed?.results ?? []) as { n: number }[])[0]?.n ?? 0;
  return rows.map((row) => {
    const json = connectorToJson(row);
    return {
      name: json.name,
      type: json.type,
      config: json.config,
      secretFields: json.secret_fields,
      created: fromMillis(row.createdAt),
      usedBy: used.get(row.name) ?? { names: [], total: 0 },
      usedByDefault: lakes.length === 1 && lakes[0]?.name === row.name ? defaultUsers : 0,
    };
  });
}

/** The connection test of `POST /api/v1/connectors/{name}/test`. */
export async function testConnector(env: Bindings, name: string) {
  return testRegistryConnector(env, name);
}
