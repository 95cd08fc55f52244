/**
 * The only SQL that writes feature values: history (`feature_values`) and latest
 * (`feature_latest`), for direct writes and for run rows staged in `run_values` and promoted later.
 * Callers put these statements into one D1 batch (one transaction) together with their own
 * bookkeeping, so values and run state commit together or not at all.
 *
 * The rules, in SQL:
 * - History: the same (feature, entity, ts) twice is one row; a redelivery with a corrected value
 *   replaces it.
 * - Latest: only a timestamp at least as new moves it, so out-of-order and duplicate deliveries
 *   never move it backwards.
 * - Staged rows already in history with the same value at the same timestamp are "unchanged" and
 *   not written again (a run reading the same rows twice). A value seen again at a newer
 *   timestamp is a new observation: it is written and advances latest, so TTLs and point-in-time
 *   joins see it as fresh.
 *
 * Rows travel to D1 as JSON arrays bound to one parameter each (db/json-rows.ts). This is raw SQL,
 * not drizzle's query builder: drizzle would bind four parameters per row, and D1's limit of 100
 * parameters per statement would cap a statement at 25 rows.
 */
import { jsonArrayChunks, jsonTextChunks } from "../db/json-rows";
import type { ShapedRow } from "./shape";

/** A value row to write: the shaped row plus its feature. */
export interface ValueRow extends ShapedRow {
  featureId: number;
}

/** Staged rows per promotion statement, so no single statement grows with the run. */
const PROMOTE_CHUNK = 50_000;

const unpack = `SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
  FROM json_each(?1) AS r WHERE true`;

const HISTORY_UPSERT = "ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value";
const LATEST_UPSERT = "ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= feature_latest.ts";

const directHistory = `INSERT INTO feature_values (feature_id, entity_id, ts, value) ${unpack} ${HISTORY_UPSERT}`;
const directLatest = `INSERT INTO feature_latest (feature_id, entity_id, ts, value) ${unpack} ${LATEST_UPSERT}`;

/** Statements writing `rows` to history and latest. */
export function writeStatements(db: D1Database, rows: readonly ValueRow[]): D1PreparedStatement[] {
  const history = db.prepare(directHistory);
  const latest = db.prepare(directLatest);
  const statements: D1PreparedStatement[] = [];
  // Each row's JSON is written directly (feature id and microseconds are integers, the value is JSON already).
  const parts = rows.map((r) => `[${r.featureId},${JSON.stringify(r.entityId)},${r.ts},${JSON.stringify(r.value)}]`);
  for (const chunk of jsonTextChunks(parts)) statements.push(history.bind(chunk), latest.bind(chunk));
  return statements;
}

const STAGE = `INSERT INTO run_values (run_id, seq, entity_id, ts, value)
  SELECT ?1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
    FROM json_each(?2) AS r`;

/** Statements staging `rows` for run `runId` with seq numbers from `firstSeq` on. Readers never see staged rows. */
export function stageStatements(db: D1Database, runId: string, rows: readonly ShapedRow[], firstSeq: number): D1PreparedStatement[] {
  const stage = db.prepare(STAGE);
  return [...jsonArrayChunks(rows.map((r, i) => [firstSeq + i, r.entityId, r.ts, r.value]))].map((chunk) => stage.bind(runId, chunk));
}

const MARK_CHANGED = `UPDATE run_values SET changed = CASE WHEN EXISTS (
    SELECT 1 FROM feature_values v WHERE v.feature_id = ?1 AND v.entity_id = run_values.entity_id AND v.ts = run_values.ts AND v.value = run_values.value
  ) THEN 0 ELSE 1 END
  WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4`;
const stagedChanged = "FROM run_values WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4 AND changed = 1 ORDER BY seq";
const PROMOTE_HISTORY = `INSERT INTO feature_values (feature_id, entity_id, ts, value) SELECT ?1, entity_id, ts, value ${stagedChanged} ${HISTORY_UPSERT}`;
const PROMOTE_LATEST = `INSERT INTO feature_latest (feature_id, entity_id, ts, value) SELECT ?1, entity_id, ts, value ${stagedChanged} ${LATEST_UPSERT}`;

/**
 * Statements promoting the staged rows [from, to) of run `runId` into feature `featureId`'s history
 * and latest values, marking each staged row changed (1) or unchanged (0) on the way.
 */
export function promoteStatements(db: D1Database, featureId: number, runId: string, from: number, to: number): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let lo = from; lo < to; lo += PROMOTE_CHUNK) {
    const hi = Math.min(to, lo + PROMOTE_CHUNK);
    for (const sql of [MARK_CHANGED, PROMOTE_HISTORY, PROMOTE_LATEST]) statements.push(db.prepare(sql).bind(featureId, runId, lo, hi));
  }
  return statements;
}

/** Counts of promoted rows [from, to) of a run: `(SELECT ...)` expressions for the run's bookkeeping. */
export const stagedCounts = (runParam: string, fromParam: string, toParam: string) => ({
  changed: `(SELECT count(*) FROM run_values WHERE run_id = ${runParam} AND seq >= ${fromParam} AND seq < ${toParam} AND changed = 1)`,
  unchanged: `(SELECT count(*) FROM run_values WHERE run_id = ${runParam} AND seq >= ${fromParam} AND seq < ${toParam} AND changed = 0)`,
});

/** Drops staged rows of `runId` with seq in [from, to) (`to` null: to the end). */
export function discardStatement(db: D1Database, runId: string, from: number, to: number | null = null): D1PreparedStatement {
  return db.prepare("DELETE FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND (?3 IS NULL OR seq < ?3)").bind(runId, from, to);
}

/** Drops every staged row of the feature's runs other than `keepRunId` (left behind by invocations that died). */
export function discardAbandonedStatement(db: D1Database, featureId: number, keepRunId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM run_values WHERE run_id IN (SELECT id FROM runs WHERE feature_id = ?1 AND id <> ?2)").bind(featureId, keepRunId);
}

/** Distinct entities of changed staged rows [from, to), one page at a time (for the online-cache refresh). */
export async function* changedEntities(db: D1Database, runId: string, from: number, to: number, pageRows = PROMOTE_CHUNK): AsyncGenerator<string[]> {
  for (let lo = from; lo < to; lo += pageRows) {
    const { results } = await db
      .prepare("SELECT DISTINCT entity_id FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND seq < ?3 AND changed = 1")
      .bind(runId, lo, Math.min(to, lo + pageRows))
      .all<{ entity_id: string }>();
    if (results.length > 0) yield results.map((r) => r.entity_id);
  }
}
