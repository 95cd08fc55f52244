/**
 * A materialization run of a SQL feature: lease → pull from the connector in bounded batches →
 * stage every batch in `run_values` → promote all staged rows to feature_values/feature_latest in
 * one D1 batch (one transaction) → refresh the online cache. Readers never see staged rows, so a
 * run's values land all together or not at all; a failed run deletes its staged rows, keeps the
 * old values served and is retried by the scheduler with backoff.
 *
 * The lease (feature_schedules.lease_run_id/lease_until, taken with a conditional UPDATE) keeps two
 * runs of one feature from overlapping; a long run extends it with every staged batch, and the
 * promotion is refused if the lease was lost meanwhile.
 */
import { detectShape, ShapeError, shapeRow, type Shape, type ShapedRow } from "../../connectors/shape";
import { SourceError } from "../../connectors/types";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, type FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { resolveConnector } from "../registry/connectors";
import { INLINE_REFRESH_LIMIT, refreshKeys } from "../storage/online-cache";
import { jsonArrayChunks } from "../storage/values";
import { formatTimestamp, nowMicros, parseDuration } from "../time";
import { firstDue, nextDue, retryAt } from "./schedule";
import { executeFileRun } from "../lake/run";

export type Trigger = "schedule" | "manual";

/** Rows per pulled batch: all a run holds in memory at once. */
export const PULL_BATCH_ROWS = 5000;
/** A run holds its lease this long past its last sign of life. */
export const LEASE_MS = 15 * 60_000;
/** Default statement timeout of a run's queries. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** Staged rows per promotion statement, so no single statement grows with the run. */
const PROMOTE_CHUNK = 50_000;
/** Staged rows per KV refresh job. */
export const REFRESH_RUN_CHUNK = 500;


export interface RunRecord {
  id: string;
  feature_id: string;
  status: "queued" | "running" | "succeeded" | "failed";
  trigger: Trigger;
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  duration_ms: number | null;
  watermark: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

interface RunDbRow {
  id: string;
  feature_id: number;
  feature_name: string;
  status: RunRecord["status"];
  trigger: Trigger;
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  watermark: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toRecord(r: RunDbRow): RunRecord {
  return {
    id: r.id,
    feature_id: r.feature_name,
    status: r.status,
    trigger: r.trigger,
    rows_read: r.rows_read,
    rows_written: r.rows_written,
    rows_unchanged: r.rows_unchanged,
    duration_ms: r.started_at !== null && r.finished_at !== null ? r.finished_at - r.started_at : null,
    watermark: r.watermark,
    error: r.error,
    created_at: iso(r.created_at) as string,
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
  };
}

const RUN_SELECT = `SELECT r.id, r.feature_id, f.name AS feature_name, r.status, r.trigger, r.rows_read, r.rows_written,
  r.rows_unchanged, r.watermark, r.error, r.created_at, r.started_at, r.finished_at FROM runs r JOIN features f ON f.id = r.feature_id`;

export async function getRun(db: D1Database, id: string): Promise<RunRecord> {
  const row = await db.prepare(`${RUN_SELECT} WHERE r.id = ?1`).bind(id).first<RunDbRow>();
  if (!row) throw new ApiError("RUN_NOT_FOUND", `run '${id}' not found`);
  return toRecord(row);
}

/** A feature's runs, newest first. */
export async function listRuns(db: D1Database, featureId: number, limit: number): Promise<RunRecord[]> {
  const { results } = await db.prepare(`${RUN_SELECT} WHERE r.feature_id = ?1 ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?2`).bind(featureId, limit).all<RunDbRow>();
  return results.map(toRecord);
}

interface ScheduleRow {
  failures: number;
  watermark: string | null;
  lease_run_id: string | null;
}

/**
 * Takes the feature's lease for a new run and records the run as queued. Returns null when
 * another run holds the lease. Runs left behind by a dead invocation (queued/running without the
 * lease) are marked failed and their staged rows deleted.
 */
export async function startRun(db: D1Database, feature: FeatureRow, trigger: Trigger): Promise<string | null> {
  const now = Date.now();
  const runId = crypto.randomUUID();
  await db
    .prepare("INSERT INTO feature_schedules (feature_id, next_run_at, failures, updated_at) VALUES (?1, ?2, 0, ?3) ON CONFLICT (feature_id) DO NOTHING")
    .bind(feature.id, firstDue(feature), now)
    .run();
  const [taken] = await db.batch([
    db
      .prepare(
        `UPDATE feature_schedules SET lease_run_id = ?2, lease_until = ?3, updated_at = ?4
          WHERE feature_id = ?1 AND (lease_until IS NULL OR lease_until < ?4)`,
      )
      .bind(feature.id, runId, now + LEASE_MS, now),
  ]);
  if (!taken || taken.meta.changes !== 1) return null;
  await db.batch([
    db.prepare("DELETE FROM run_values WHERE run_id IN (SELECT id FROM runs WHERE feature_id = ?1 AND status IN ('queued', 'running'))").bind(feature.id),
    db
      .prepare("UPDATE runs SET status = 'failed', error = 'abandoned: its invocation ended before the run finished (lease expired)', finished_at = ?2 WHERE feature_id = ?1 AND status IN ('queued', 'running')")
      .bind(feature.id, now),
    db
      .prepare("INSERT INTO runs (id, feature_id, status, trigger, created_at) VALUES (?1, ?2, 'queued', ?3, ?4)")
      .bind(runId, feature.id, trigger, now),
  ]);
  return runId;
}

/** Lease check inside a D1 batch: fails the whole batch (NOT NULL violation) when `runId` lost the lease. */
export const leaseGuard = (db: D1Database, featureId: number, runId: string) =>
  db
    .prepare(
      `INSERT INTO run_values (run_id, seq, entity_id, ts, value)
        SELECT ?2, -1, NULL, 0, '' WHERE NOT EXISTS (SELECT 1 FROM feature_schedules WHERE feature_id = ?1 AND lease_run_id = ?2)`,
    )
    .bind(featureId, runId);

/** Staged rows as JSON arrays `[seq, entity, ts, value]`, each under D1's limits for one bound value. */
export function stageChunks(rows: ShapedRow[], firstSeq: number): string[] {
  return [...jsonArrayChunks(rows.map((r, i) => [firstSeq + i, r.entityId, r.ts, r.value]))];
}

export const STAGE_SQL = `INSERT INTO run_values (run_id, seq, entity_id, ts, value)
  SELECT ?1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
    FROM json_each(?2) AS r`;

/** The SQL to run: the definition's query, filtered on `incremental_column > :since` when it declares one. */
export function runQuery(feature: FeatureRow): string {
  const query = String(feature.source.query ?? "").trim().replace(/;\s*$/, "");
  const column = feature.source.incremental_column;
  if (typeof column !== "string") return query;
  // The column name was checked against an identifier pattern at registration.
  return `SELECT * FROM (${query}) fstore_incremental WHERE fstore_incremental.${column} > :since`;
}

function describeError(err: unknown): string {
  if (err instanceof SourceError || err instanceof ShapeError || err instanceof ApiError) return err.message;
  return `internal error: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * Executes the queued run `runId` of `feature` to the end and returns its record. Source, query
 * and shape failures are recorded on the run (status failed), not thrown; only a failure to talk
 * to D1 itself throws.
 */
export async function executeRun(env: Bindings, feature: FeatureRow, runId: string): Promise<RunRecord> {
  const db = env.DB;
  const started = Date.now();
  const claimed = await db
    .prepare(
      `UPDATE runs SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'
         AND EXISTS (SELECT 1 FROM feature_schedules s WHERE s.feature_id = runs.feature_id AND s.lease_run_id = ?1)`,
    )
    .bind(runId, started)
    .run();
  if (claimed.meta.changes !== 1) return getRun(db, runId); // finished already, or superseded
  await db.prepare("UPDATE feature_schedules SET lease_until = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, started + LEASE_MS).run();
  const schedule = (await db.prepare("SELECT failures, watermark, lease_run_id FROM feature_schedules WHERE feature_id = ?1").bind(feature.id).first<ScheduleRow>()) as ScheduleRow;

  let rowsRead = 0;
  let maxTs: bigint | null = null;
  try {
    const connectorName = feature.source.connector;
    if (typeof connectorName !== "string") throw new ShapeError("the feature names no connector: set 'connector' to a connector's name");
    if (typeof feature.source.query !== "string") throw new ShapeError("the feature has no query");
    const { impl, config: rawConfig } = await resolveConnector(env, connectorName);
    const config = impl.configSchema.parse(rawConfig);
    const timeoutMs = typeof feature.source.timeout === "string" ? (parseDuration(feature.source.timeout) ?? 0) * 1000 || DEFAULT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
    const runMicros = nowMicros();
    let shape: Shape | null = null;
    const stage = db.prepare(STAGE_SQL);
    for await (const batch of impl.pull(config, runQuery(feature), { since: schedule.watermark, batchSize: PULL_BATCH_ROWS, timeoutMs })) {
      shape ??= detectShape(batch.columns);
      const shaped = batch.rows.map((row, i) => shapeRow(shape as Shape, feature.valueType, row, rowsRead + i + 1, runMicros));
      if (shaped.length === 0) continue;
      const statements = [leaseGuard(db, feature.id, runId)];
      for (const chunk of stageChunks(shaped, rowsRead)) statements.push(stage.bind(runId, chunk));
      statements.push(
        db.prepare("UPDATE feature_schedules SET lease_until = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, Date.now() + LEASE_MS),
        db.prepare("UPDATE runs SET rows_read = ?2 WHERE id = ?1").bind(runId, rowsRead + shaped.length),
      );
      await db.batch(statements).catch((err) => {
        throw leaseLost(err) ? new ShapeError("the run lost its lease (it ran longer than the lease allows) and was abandoned") : err;
      });
      rowsRead += shaped.length;
      for (const r of shaped) if (maxTs === null || r.ts > maxTs) maxTs = r.ts;
    }
    const watermark = maxTs === null ? schedule.watermark : formatTimestamp(maxTs);
    await promote(env, feature, runId, rowsRead, watermark, started);
  } catch (err) {
    await failRun(db, feature, runId, schedule.failures + 1, rowsRead, describeError(err));
    return getRun(db, runId);
  }
  const record = await getRun(db, runId);
  await refreshRun(env, feature, runId);
  return record;
}

/** Whether a D1 batch failed because its lease guard fired. */
export function leaseLost(err: unknown): boolean {
  return /NOT NULL constraint failed: run_values\.entity_id/.test(String((err as Error)?.message));
}

/** One D1 batch = one transaction: values, latest, run status, watermark and schedule together. */
async function promote(env: Bindings, feature: FeatureRow, runId: string, rowsRead: number, watermark: string | null, startedMs: number): Promise<void> {
  const db = env.DB;
  const now = Date.now();
  const markChanged = db.prepare(
    `UPDATE run_values SET changed = CASE WHEN EXISTS (
        SELECT 1 FROM feature_latest l WHERE l.feature_id = ?1 AND l.entity_id = run_values.entity_id AND l.value = run_values.value
      ) THEN 0 ELSE 1 END
      WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4`,
  );
  const history = db.prepare(
    `INSERT INTO feature_values (feature_id, entity_id, ts, value)
       SELECT ?1, entity_id, ts, value FROM run_values WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4 AND changed = 1 ORDER BY seq
     ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value`,
  );
  const latest = db.prepare(
    `INSERT INTO feature_latest (feature_id, entity_id, ts, value)
       SELECT ?1, entity_id, ts, value FROM run_values WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4 AND changed = 1 ORDER BY seq
     ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= feature_latest.ts`,
  );
  const statements = [leaseGuard(db, feature.id, runId)];
  for (let from = 0; from < rowsRead; from += PROMOTE_CHUNK) {
    const to = from + PROMOTE_CHUNK;
    statements.push(markChanged.bind(feature.id, runId, from, to), history.bind(feature.id, runId, from, to), latest.bind(feature.id, runId, from, to));
  }
  statements.push(
    db
      .prepare(
        `UPDATE runs SET status = 'succeeded', rows_read = ?2, watermark = ?3, finished_at = ?4,
           rows_written = (SELECT count(*) FROM run_values WHERE run_id = ?1 AND changed = 1),
           rows_unchanged = (SELECT count(*) FROM run_values WHERE run_id = ?1 AND changed = 0)
         WHERE id = ?1`,
      )
      .bind(runId, rowsRead, watermark, now),
    db
      .prepare(
        `UPDATE feature_schedules SET watermark = ?3, failures = 0, next_run_at = ?4, lease_run_id = NULL, lease_until = NULL,
           last_run_id = ?2, updated_at = ?5 WHERE feature_id = ?1 AND lease_run_id = ?2`,
      )
      .bind(feature.id, runId, watermark, nextDue(feature, startedMs), now),
    // Unchanged rows need no cache refresh; changed ones stay as the refresh's work list.
    db.prepare("DELETE FROM run_values WHERE run_id = ?1 AND changed = 0").bind(runId),
  );
  await db.batch(statements).catch((err) => {
    throw leaseLost(err) ? new ShapeError("the run lost its lease before its values were committed; nothing was written") : err;
  });
}

async function failRun(db: D1Database, feature: FeatureRow, runId: string, failures: number, rowsRead: number, error: string): Promise<void> {
  const now = Date.now();
  // The message comes from the source or the shape check; it never holds a password.
  console.error(`run ${runId} of feature ${feature.name} failed: ${error}`);
  await db.batch([
    db.prepare("DELETE FROM run_values WHERE run_id = ?1").bind(runId),
    db.prepare("UPDATE runs SET status = 'failed', error = ?2, rows_read = ?3, finished_at = ?4 WHERE id = ?1").bind(runId, error.slice(0, 4000), rowsRead, now),
    db
      .prepare(
        `UPDATE feature_schedules SET failures = ?3, next_run_at = ?4, lease_run_id = NULL, lease_until = NULL, last_run_id = ?2, updated_at = ?5
          WHERE feature_id = ?1 AND lease_run_id = ?2`,
      )
      .bind(feature.id, runId, failures, retryAt(feature, now, failures), now),
  ]);
}

/**
 * Rebuilds the KV vectors a run changed. Small runs do it inline; larger ones hand seq ranges to
 * the jobs queue (`refresh-run`), whose consumer refreshes and deletes the staged rows.
 */
export async function refreshRun(env: Bindings, feature: FeatureRow, runId: string): Promise<void> {
  const db = env.DB;
  const bounds = await db
    .prepare("SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM run_values WHERE run_id = ?1")
    .bind(runId)
    .first<{ n: number; lo: number | null; hi: number | null }>();
  if (!bounds || bounds.n === 0 || bounds.lo === null || bounds.hi === null) return;
  if (bounds.n <= INLINE_REFRESH_LIMIT) {
    try {
      await refreshRunRange(env, runId, feature.featureGroup, bounds.lo, bounds.hi + 1);
      return;
    } catch (err) {
      console.error(`inline refresh of run ${runId} failed, queueing it: ${(err as Error).message}`);
    }
  }
  const jobs = [];
  for (let from = bounds.lo; from <= bounds.hi; from += REFRESH_RUN_CHUNK) {
    jobs.push({ type: "refresh-run" as const, run_id: runId, group: feature.featureGroup, from, to: from + REFRESH_RUN_CHUNK });
  }
  await enqueueJobs(env.JOBS, jobs);
}

/** Refreshes the vectors of the run's staged rows with seq in [from, to), then deletes those rows. */
/**
 * Rebuilds the vectors of staged rows [from, to) and drops those rows. `all` (inline, small runs)
 * writes every vector; `cached` (queued, large runs) rebuilds only the vectors KV already holds.
 */
export async function refreshRunRange(env: Bindings, runId: string, group: string, from: number, to: number, mode: "all" | "cached" = "all"): Promise<void> {
  const { results } = await env.DB.prepare("SELECT DISTINCT entity_id FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND seq < ?3")
    .bind(runId, from, to)
    .all<{ entity_id: string }>();
  const keys = results.map((r) => ({ group, entityId: r.entity_id }));
  if (keys.length > 0) await refreshKeys(env, keys, mode);
  await env.DB.prepare("DELETE FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND seq < ?3").bind(runId, from, to).run();
}

/** Executes a run enqueued as a `materialize` job; a run whose feature is gone is dropped. */
export async function executeQueuedRun(env: Bindings, runId: string): Promise<RunRecord | null> {
  const row = await env.DB.prepare("SELECT feature_id FROM runs WHERE id = ?1").bind(runId).first<{ feature_id: number }>();
  if (!row) return null;
  const feature = await drizzle(env.DB).select().from(features).where(eq(features.id, row.feature_id)).get();
  if (!feature) return null;
  if (feature.sourceType === "file") return executeFileRun(env, feature, runId);
  return executeRun(env, feature, runId);
}
