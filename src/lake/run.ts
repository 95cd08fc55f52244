/**
 * A materialization run of a data-lake feature (`path`/`batch_config` on an S3 or Azure Data Lake
 * connector). It shares runs, leases, scheduling and the staging table with SQL runs
 * (src/materialize/run.ts) and differs in three ways:
 *
 * - Files, not a query: the glob is listed (every page), files whose ETag was already ingested
 *   are skipped, the rest are recorded in `run_files` and read one by one.
 * - The unit of atomicity is the file: a file's rows are staged, then promoted to
 *   feature_values/feature_latest in one D1 batch when the file has been read to its end. A
 *   corrupt file or a bad row fails that file (its staged rows are dropped, the error names the
 *   file, column and row) and the run goes on with the next file.
 * - A run may span invocations: each invocation stops after a budget of rows, files or time,
 *   saves the cursor of the file it is in (row, byte offset) and enqueues itself again on the
 *   jobs queue; `lake_runs.busy_until` keeps a duplicate delivery from working on it twice.
 */
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { FileError, formatOf, readFileRows, type FileFormat, type MappedColumns } from "../../connectors/files/read";
import { shapeFileRow } from "../../connectors/files/shape";
import { compileGlob } from "../../connectors/files/glob";
import { isLakeConnector, type ObjectInfo, type ObjectStore } from "../../connectors/files/store";
import { connectorFor } from "../../connectors/registry";
import type { ShapedRow } from "../../connectors/shape";
import { SourceError } from "../../connectors/types";
import { connectors, runFiles, type FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { getRun, LEASE_MS, leaseGuard, leaseLost, REFRESH_RUN_CHUNK, refreshRunRange, STAGE_SQL, stageChunks, type RunRecord } from "../materialize/run";
import { nextDue, retryAt } from "../materialize/schedule";
import { resolveConnector } from "../registry/connectors";
import { INLINE_REFRESH_LIMIT } from "../storage/online-cache";
import { formatTimestamp, nowMicros } from "../time";

/** Optional settings, as Worker vars. */
interface LakeSettings {
  /** Rows one invocation reads before handing the run to the next one (default 250,000). */
  FSTORE_LAKE_ROWS_PER_INVOCATION?: string;
}

const DEFAULT_ROWS_PER_INVOCATION = 250_000;
/** Files one invocation reads at most: each costs a few subrequests, and Workers cap them per invocation. */
export const FILES_PER_INVOCATION = 200;
/** Wall time after which an invocation stops at the next batch boundary. */
const INVOCATION_MS = 60_000;
/** Another delivery may take over a run whose invocation went silent this long ago (it died). */
const BUSY_MS = 2 * INVOCATION_MS;
/** Rows per reader batch, and rows staged per D1 batch. */
const BATCH_ROWS = 5000;

export interface FileSource {
  path: string;
  format: FileFormat;
  columns: MappedColumns;
  connector: string | null;
}

/** The file source of a definition: `path`/`batch_config.path`, format and column mapping. */
export function fileSourceOf(feature: FeatureRow): FileSource {
  const s = feature.source;
  const batch = (s.batch_config ?? {}) as { path?: string };
  const path = typeof s.path === "string" ? s.path : batch.path;
  if (typeof path !== "string") throw new FileError("the feature has no 'path' (or 'batch_config.path')");
  const format = formatOf(s.format, path);
  if (!format) throw new FileError(`cannot tell the format of '${path}': set 'format' to parquet, csv, json or ndjson`);
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    path,
    format,
    columns: {
      entity: str(s.entity_column) ?? "entity_id",
      value: str(s.value_column) ?? "value",
      timestamp: str(s.timestamp_column) ?? "timestamp",
      timestampRequired: str(s.timestamp_column) !== undefined,
    },
    connector: str(s.connector) ?? null,
  };
}

/**
 * The store a feature reads: its `connector`, or — as in the guide's batch example, which never
 * names one — the only data-lake connector there is.
 */
async function openStore(env: Bindings, name: string | null): Promise<ObjectStore> {
  if (name === null) {
    const all = await drizzle(env.DB).select({ name: connectors.name, type: connectors.type }).from(connectors).all();
    const lakes = all.filter((c) => {
      const impl = connectorFor(c.type);
      return impl !== undefined && isLakeConnector(impl);
    });
    if (lakes.length !== 1) {
      throw new FileError(
        lakes.length === 0
          ? "the feature names no connector and there is no S3 or Azure Data Lake connector: create one and set 'connector'"
          : `the feature names no connector and there are ${lakes.length} data-lake connectors (${lakes.map((c) => c.name).join(", ")}): set 'connector'`,
      );
    }
    name = (lakes[0] as { name: string }).name;
  }
  const { impl, config } = await resolveConnector(env, name);
  if (!isLakeConnector(impl)) throw new FileError(`connector '${name}' is a ${impl.type} connector; a feature with a 'path' needs an s3 or adls connector`);
  return impl.open(impl.configSchema.parse(config));
}

interface LakeRunRow {
  files_matched: number;
  files_skipped: number;
  next_seq: number;
  /** Microseconds as digits (read with CAST AS TEXT: exact beyond 2^53). */
  max_ts: string | null;
}

interface ScheduleRow {
  failures: number;
  watermark: string | null;
}

/**
 * Takes the run for this invocation: a queued run becomes running; a running one (a
 * continuation) is taken when no other invocation is busy with it. Returns false when the run is
 * finished, superseded or busy elsewhere.
 */
async function claim(db: D1Database, feature: FeatureRow, runId: string, now: number): Promise<boolean> {
  await db.batch([
    db
      .prepare(
        `UPDATE runs SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'
           AND EXISTS (SELECT 1 FROM feature_schedules s WHERE s.feature_id = runs.feature_id AND s.lease_run_id = ?1)`,
      )
      .bind(runId, now),
    db.prepare("INSERT INTO lake_runs (run_id) SELECT ?1 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND status = 'running') ON CONFLICT (run_id) DO NOTHING").bind(runId),
  ]);
  const taken = await db
    .prepare(
      `UPDATE lake_runs SET busy_until = ?2, invocations = invocations + 1 WHERE run_id = ?1 AND busy_until < ?3
         AND EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND status = 'running')
         AND EXISTS (SELECT 1 FROM feature_schedules WHERE feature_id = ?4 AND lease_run_id = ?1)`,
    )
    .bind(runId, now + BUSY_MS, now, feature.id)
    .run();
  if (taken.meta.changes !== 1) return false;
  await db.prepare("UPDATE feature_schedules SET lease_until = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, now + LEASE_MS).run();
  return true;
}

/** Lists the glob and records the files to read; unchanged files (same ETag) are counted as skipped. */
async function plan(db: D1Database, feature: FeatureRow, runId: string, store: ObjectStore, path: string): Promise<void> {
  const glob = compileGlob(path);
  const { results: known } = await db.prepare("SELECT key, etag FROM lake_files WHERE feature_id = ?1").bind(feature.id).all<{ key: string; etag: string }>();
  const ingested = new Map(known.map((k) => [k.key, k.etag]));
  const todo: ObjectInfo[] = [];
  let matched = 0;
  for await (const page of store.list(glob.prefix)) {
    for (const object of page) {
      if (!glob.matches(object.key) || object.key.endsWith("/")) continue;
      matched++;
      if (ingested.get(object.key) !== object.etag) todo.push(object);
    }
  }
  const insert = db.prepare(
    `INSERT INTO run_files (run_id, seq, key, etag, size, status)
       SELECT ?1, json_extract(f.value, '$[0]'), json_extract(f.value, '$[1]'), json_extract(f.value, '$[2]'), json_extract(f.value, '$[3]'), 'pending'
         FROM json_each(?2) AS f`,
  );
  const statements = [];
  for (let i = 0; i < todo.length; i += 500) {
    statements.push(insert.bind(runId, JSON.stringify(todo.slice(i, i + 500).map((f, j) => [i + j, f.key, f.etag, f.size]))));
  }
  statements.push(db.prepare("UPDATE lake_runs SET files_matched = ?2, files_skipped = ?3 WHERE run_id = ?1").bind(runId, matched, matched - todo.length));
  await db.batch(statements);
}

/** Staged rows per promotion statement, so no single statement grows with the file. */
const PROMOTE_CHUNK = 50_000;

/** Statements that move staged rows [from, to) of the run into the feature's history and latest values. */
function promoteStatements(db: D1Database, featureId: number, runId: string, from: number, to: number): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  for (let lo = from; lo < to; lo += PROMOTE_CHUNK) out.push(...promoteChunk(db, featureId, runId, lo, Math.min(to, lo + PROMOTE_CHUNK)));
  return out;
}

function promoteChunk(db: D1Database, featureId: number, runId: string, from: number, to: number): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `UPDATE run_values SET changed = CASE WHEN EXISTS (
            SELECT 1 FROM feature_latest l WHERE l.feature_id = ?1 AND l.entity_id = run_values.entity_id AND l.value = run_values.value
          ) THEN 0 ELSE 1 END
          WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4`,
      )
      .bind(featureId, runId, from, to),
    db
      .prepare(
        `INSERT INTO feature_values (feature_id, entity_id, ts, value)
           SELECT ?1, entity_id, ts, value FROM run_values WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4 AND changed = 1 ORDER BY seq
         ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value`,
      )
      .bind(featureId, runId, from, to),
    db
      .prepare(
        `INSERT INTO feature_latest (feature_id, entity_id, ts, value)
           SELECT ?1, entity_id, ts, value FROM run_values WHERE run_id = ?2 AND seq >= ?3 AND seq < ?4 AND changed = 1 ORDER BY seq
         ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= feature_latest.ts`,
      )
      .bind(featureId, runId, from, to),
  ];
}

interface Budget {
  rows: number;
  files: number;
  deadline: number;
}

/** Whether the invocation's budget is used up, counting `rows` read but not yet staged. */
const spent = (b: Budget, rows = 0) => b.rows - rows <= 0 || b.files <= 0 || Date.now() >= b.deadline;

type FileRow = typeof runFiles.$inferSelect;

/**
 * Reads one file from its cursor until it ends (→ promoted, recorded in lake_files) or the budget
 * runs out (→ cursor saved). A FileError fails only this file; a source error (auth, network)
 * is thrown and fails the run.
 */
async function readOneFile(env: Bindings, feature: FeatureRow, runId: string, store: ObjectStore, source: FileSource, file: FileRow, state: LakeRunRow, budget: Budget) {
  const db = env.DB;
  const stage = db.prepare(STAGE_SQL);
  const runMicros = nowMicros();
  const stageFrom = file.stageFrom ?? state.next_seq;
  const name = `${store.location}/${file.key}`;
  let cursor = { row: file.cursorRow, byte: file.cursorByte };
  let maxTs = state.max_ts === null ? null : BigInt(state.max_ts);
  let pending: ShapedRow[] = [];
  let done = false;

  /** Stages `pending` and saves the cursor in one batch; with `finish`, also promotes the file. */
  const flush = async (finish: boolean) => {
    const seq = state.next_seq;
    const statements = [leaseGuard(db, feature.id, runId)];
    for (const chunk of stageChunks(pending, seq)) statements.push(stage.bind(runId, chunk));
    const nextSeq = seq + pending.length;
    statements.push(
      db.prepare("UPDATE lake_runs SET next_seq = ?2, max_ts = ?3 WHERE run_id = ?1").bind(runId, nextSeq, maxTs === null ? null : maxTs.toString()),
      db.prepare("UPDATE feature_schedules SET lease_until = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, Date.now() + LEASE_MS),
      db
        .prepare("UPDATE run_files SET status = 'reading', stage_from = ?3, cursor_row = ?4, cursor_byte = ?5, rows_read = ?4 WHERE run_id = ?1 AND seq = ?2")
        .bind(runId, file.seq, stageFrom, cursor.row, cursor.byte),
      db.prepare("UPDATE runs SET rows_read = rows_read + ?2 WHERE id = ?1").bind(runId, pending.length),
    );
    if (finish) {
      const now = Date.now();
      statements.push(
        ...promoteStatements(db, feature.id, runId, stageFrom, nextSeq),
        db
          .prepare(
            `UPDATE run_files SET status = 'ingested', finished_at = ?5,
               rows_written = (SELECT count(*) FROM run_values WHERE run_id = ?1 AND seq >= ?3 AND seq < ?4 AND changed = 1),
               rows_unchanged = (SELECT count(*) FROM run_values WHERE run_id = ?1 AND seq >= ?3 AND seq < ?4 AND changed = 0)
             WHERE run_id = ?1 AND seq = ?2`,
          )
          .bind(runId, file.seq, stageFrom, nextSeq, now),
        db
          .prepare(
            `UPDATE runs SET rows_written = rows_written + (SELECT rows_written FROM run_files WHERE run_id = ?1 AND seq = ?2),
               rows_unchanged = rows_unchanged + (SELECT rows_unchanged FROM run_files WHERE run_id = ?1 AND seq = ?2) WHERE id = ?1`,
          )
          .bind(runId, file.seq),
        db
          .prepare(
            `INSERT INTO lake_files (feature_id, key, etag, size, rows, run_id, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (feature_id, key) DO UPDATE SET etag = excluded.etag, size = excluded.size, rows = excluded.rows, run_id = excluded.run_id, ingested_at = excluded.ingested_at`,
          )
          .bind(feature.id, file.key, file.etag, file.size, cursor.row, runId, now),
        db.prepare("DELETE FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND seq < ?3 AND changed = 0").bind(runId, stageFrom, nextSeq),
      );
    }
    await db.batch(statements).catch((err) => {
      throw leaseLost(err) ? new SourceError("unknown", "the run lost its lease (it ran longer than the lease allows) and was abandoned") : err;
    });
    state.next_seq = nextSeq;
    state.max_ts = maxTs === null ? null : maxTs.toString();
    budget.rows -= pending.length;
    pending = [];
    if (finish) await refreshFile(env, feature, runId, stageFrom, nextSeq);
  };

  try {
    const object: ObjectInfo = { key: file.key, etag: file.etag, size: file.size };
    // Batches no larger than what is left of the budget, so an invocation stops close to it.
    const batchRows = Math.max(1, Math.min(BATCH_ROWS, budget.rows));
    const reader = readFileRows(source.format, { store, file: object, columns: source.columns, cursor, batchRows });
    for (;;) {
      if (pending.length >= BATCH_ROWS) await flush(false);
      if (spent(budget, pending.length)) {
        // Continued by the next invocation from the saved cursor.
        if (pending.length > 0) await flush(false);
        return;
      }
      const next = await reader.next();
      if (next.done) break;
      const batch = next.value;
      let rows = batch.rows;
      cursor = batch.next;
      // A Parquet cursor is a row index, so a batch can be cut exactly at the budget.
      const room = budget.rows - pending.length;
      if (source.format === "parquet" && rows.length > room && room > 0) {
        rows = rows.slice(0, room);
        cursor = { row: batch.firstRow + room, byte: 0 };
      }
      for (let i = 0; i < rows.length; i++) {
        const shaped = shapeFileRow(feature.valueType, rows[i] as [unknown, unknown, unknown], batch.firstRow + i + 1, source.columns, runMicros);
        if (maxTs === null || shaped.ts > maxTs) maxTs = shaped.ts;
        pending.push(shaped);
      }
    }
    await flush(true);
    done = true;
  } catch (err) {
    if (!(err instanceof FileError) && !(err instanceof SourceError && err.kind === "query")) throw err;
    // The file is bad (or vanished/changed mid-read): drop its staged rows, record why, go on.
    await db.batch([
      db.prepare("DELETE FROM run_values WHERE run_id = ?1 AND seq >= ?2").bind(runId, stageFrom),
      db.prepare("UPDATE lake_runs SET next_seq = ?2 WHERE run_id = ?1").bind(runId, stageFrom),
      db
        .prepare("UPDATE run_files SET status = 'failed', error = ?3, finished_at = ?4 WHERE run_id = ?1 AND seq = ?2")
        .bind(runId, file.seq, `${name}: ${(err as Error).message}`.slice(0, 2000), Date.now()),
    ]);
    state.next_seq = stageFrom;
    done = true;
  } finally {
    if (done) budget.files--;
  }
}

/** Rebuilds the KV vectors a promoted file changed (inline when small, else through the jobs queue). */
async function refreshFile(env: Bindings, feature: FeatureRow, runId: string, from: number, to: number): Promise<void> {
  if (to <= from) return;
  if (to - from <= INLINE_REFRESH_LIMIT) {
    try {
      return await refreshRunRange(env, runId, feature.featureGroup, from, to);
    } catch (err) {
      console.error(`inline refresh of run ${runId} failed, queueing it: ${(err as Error).message}`);
    }
  }
  const jobs = [];
  for (let f = from; f < to; f += REFRESH_RUN_CHUNK) jobs.push({ type: "refresh-run" as const, run_id: runId, group: feature.featureGroup, from: f, to: Math.min(to, f + REFRESH_RUN_CHUNK) });
  await enqueueJobs(env.JOBS, jobs);
}

/** Ends the run: succeeded, or failed naming the files that failed (the others stay ingested). */
async function finish(db: D1Database, feature: FeatureRow, runId: string, state: LakeRunRow, schedule: ScheduleRow, startedMs: number, fatal: string | null): Promise<void> {
  const now = Date.now();
  const { results: failed } = await db
    .prepare("SELECT error FROM run_files WHERE run_id = ?1 AND status = 'failed' ORDER BY seq LIMIT 5")
    .bind(runId)
    .all<{ error: string }>();
  const counts = await db
    .prepare("SELECT count(*) AS total, sum(status = 'failed') AS failed FROM run_files WHERE run_id = ?1")
    .bind(runId)
    .first<{ total: number; failed: number | null }>();
  const failedCount = counts?.failed ?? 0;
  let error = fatal;
  if (error === null && failedCount > 0) {
    error = `${failedCount} of ${counts?.total ?? 0} files failed (the others were ingested): ${failed.map((f) => f.error).join("; ")}`;
  }
  const watermark = state.max_ts === null ? schedule.watermark : formatTimestamp(BigInt(state.max_ts));
  const statements = [
    db.prepare("DELETE FROM run_values WHERE run_id = ?1 AND seq >= (SELECT coalesce(min(stage_from), 1e18) FROM run_files WHERE run_id = ?1 AND status IN ('reading', 'pending'))").bind(runId),
    db
      .prepare("UPDATE runs SET status = ?2, error = ?3, watermark = ?4, finished_at = ?5 WHERE id = ?1")
      .bind(runId, error === null ? "succeeded" : "failed", error === null ? null : error.slice(0, 4000), watermark, now),
    db.prepare("UPDATE lake_runs SET busy_until = 0 WHERE run_id = ?1").bind(runId),
  ];
  if (error === null) {
    statements.push(
      db
        .prepare(
          `UPDATE feature_schedules SET watermark = ?3, failures = 0, next_run_at = ?4, lease_run_id = NULL, lease_until = NULL,
             last_run_id = ?2, updated_at = ?5 WHERE feature_id = ?1 AND lease_run_id = ?2`,
        )
        .bind(feature.id, runId, watermark, nextDue(feature, startedMs), now),
    );
  } else {
    console.error(`run ${runId} of feature ${feature.name} failed: ${error}`);
    const failures = schedule.failures + 1;
    statements.push(
      db
        .prepare(
          `UPDATE feature_schedules SET watermark = ?3, failures = ?4, next_run_at = ?5, lease_run_id = NULL, lease_until = NULL, last_run_id = ?2, updated_at = ?6
            WHERE feature_id = ?1 AND lease_run_id = ?2`,
        )
        .bind(feature.id, runId, watermark, failures, retryAt(feature, now, failures), now),
    );
  }
  await db.batch(statements);
}

function describe(err: unknown): string {
  if (err instanceof SourceError || err instanceof FileError || err instanceof ApiError) return err.message;
  return `internal error: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * One invocation's share of the run `runId`. `inline` (the API's `?wait=true`) keeps going in
 * this invocation, budget after budget, until the run ends; otherwise a run with work left is
 * handed to the next invocation through the jobs queue. Returns the run as it stands.
 */
export async function executeFileRun(env: Bindings, feature: FeatureRow, runId: string, { inline = false } = {}): Promise<RunRecord> {
  const db = env.DB;
  const rowsPerInvocation = Number((env as Bindings & LakeSettings).FSTORE_LAKE_ROWS_PER_INVOCATION) || DEFAULT_ROWS_PER_INVOCATION;
  for (;;) {
    const now = Date.now();
    if (!(await claim(db, feature, runId, now))) {
      const run = await getRun(db, runId);
      // Still running elsewhere, or its invocation died: the queue retries this message later
      // (with backoff), by which time the run is free again or finished.
      if (run.status === "running" && !inline) throw new Error(`run ${runId} is busy in another invocation`);
      return run;
    }
    const started = (await db.prepare("SELECT started_at FROM runs WHERE id = ?1").bind(runId).first<{ started_at: number }>())?.started_at ?? now;
    const schedule = (await db.prepare("SELECT failures, watermark FROM feature_schedules WHERE feature_id = ?1").bind(feature.id).first<ScheduleRow>()) as ScheduleRow;
    const state = (await db
      .prepare("SELECT files_matched, files_skipped, next_seq, CAST(max_ts AS TEXT) AS max_ts FROM lake_runs WHERE run_id = ?1")
      .bind(runId)
      .first<LakeRunRow>()) as LakeRunRow;
    const budget: Budget = { rows: rowsPerInvocation, files: FILES_PER_INVOCATION, deadline: now + INVOCATION_MS };
    let more = false;
    try {
      const source = fileSourceOf(feature);
      const store = await openStore(env, source.connector);
      // Nothing matched yet means not planned yet (or an empty glob, which is cheap to list again).
      if (state.files_matched === 0) await plan(db, feature, runId, store, source.path);
      const files = await drizzle(db)
        .select()
        .from(runFiles)
        .where(eq(runFiles.runId, runId))
        .orderBy(asc(runFiles.seq))
        .all();
      for (const file of files) {
        if (file.status === "ingested" || file.status === "failed") continue;
        if (spent(budget)) {
          more = true;
          break;
        }
        await readOneFile(env, feature, runId, store, source, file, state, budget);
        if (spent(budget)) {
          more = (await db.prepare("SELECT 1 FROM run_files WHERE run_id = ?1 AND status IN ('pending', 'reading') LIMIT 1").bind(runId).first()) !== null;
          break;
        }
      }
      if (!more) await finish(db, feature, runId, state, schedule, started, null);
    } catch (err) {
      await finish(db, feature, runId, state, schedule, started, describe(err));
      return getRun(db, runId);
    }
    if (!more) return getRun(db, runId);
    await db.prepare("UPDATE lake_runs SET busy_until = 0 WHERE run_id = ?1").bind(runId).run();
    if (!inline) {
      await enqueueJobs(env.JOBS, [{ type: "materialize", run_id: runId }]);
      return getRun(db, runId);
    }
  }
}
