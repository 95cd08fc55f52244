/**
 * The run lifecycle, one for every pulled source (SQL queries, data-lake files):
 *
 * 1. start — take the feature's lease (a conditional UPDATE on feature_schedules, so two runs of one
 *    feature never overlap) and record the run as queued;
 * 2. claim — each invocation claims the run (`busy_until`), so a second delivery of its job waits;
 * 3. read within a budget — the source (runs/sources.ts) yields events; each becomes one D1 batch:
 *    rows are staged (ingest/sql.ts), commits promote staged rows into history/latest together
 *    with the run's bookkeeping, discards drop them. Every batch carries a lease guard, so a run
 *    that lost its lease can never commit;
 * 4. continue — when the budget (rows, items, time) is spent the cursor is saved and the run is
 *    handed to the next invocation through the jobs queue (or, for `?wait=true`, continued in the
 *    same request);
 * 5. end — succeeded, or failed with its error kept and its uncommitted rows dropped; the scheduler
 *    retries a failed feature with backoff (runs/schedule.ts).
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { scrubMessage } from "../../connectors/scrub";
import { SourceError } from "../../connectors/types";
import { FileError } from "../../connectors/files/types";
import { features, runs, type FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { RowError } from "../ingest/shape";
import { discardAbandonedStatement, discardStatement, promoteStatements, stageStatements, stagedCounts } from "../ingest/sql";
import { refreshPromoted } from "../ingest/write";
import { formatTimestamp, msToMicros, parseTimestamp } from "../time";
import { getRun, type RunRecord, type Trigger } from "./records";
import { firstDue, nextDue, retryAt } from "./schedule";
import { RunError, type Budget, type RunContext, type SourceEvent } from "./source";
import { sourceOf } from "./sources";

/** A run holds its lease this long past its last sign of life (every staged batch extends it). */
export const LEASE_MS = 15 * 60_000;
/** Wall time after which an invocation stops at the next batch boundary. */
const INVOCATION_MS = 60_000;
/** Another delivery may take over a run whose invocation went silent this long ago (it died). */
const BUSY_MS = 2 * INVOCATION_MS;
/** Rows one invocation stages at most (FSTORE_RUN_ROWS_PER_INVOCATION overrides it). */
const DEFAULT_ROWS_PER_INVOCATION = 1_000_000;
/** Items (files) one invocation finishes at most: each costs a few subrequests, and Workers cap them. */
export const ITEMS_PER_INVOCATION = 200;

/** Optional settings, as Worker vars. */
interface RunSettings {
  FSTORE_RUN_ROWS_PER_INVOCATION?: string;
}

/**
 * Takes the feature's lease for a new run and records the run as queued. Returns null when
 * another run holds the lease. Runs left behind by a dead invocation (queued/running without the
 * lease) are marked failed, and staged rows of earlier runs are dropped.
 */
export async function startRun(db: D1Database, feature: FeatureRow, trigger: Trigger): Promise<string | null> {
  const now = Date.now();
  const runId = crypto.randomUUID();
  await db
    .prepare("INSERT INTO feature_schedules (feature_id, next_run_at, failures, updated_at) VALUES (?1, ?2, 0, ?3) ON CONFLICT (feature_id) DO NOTHING")
    .bind(feature.id, firstDue(feature), now)
    .run();
  const taken = await db
    .prepare(
      `UPDATE feature_schedules SET lease_run_id = ?2, lease_until = ?3, updated_at = ?4
        WHERE feature_id = ?1 AND (lease_until IS NULL OR lease_until < ?4)`,
    )
    .bind(feature.id, runId, now + LEASE_MS, now)
    .run();
  // One row by its key, so "changed anything" is "took the lease" (D1's count also includes rows that triggers write).
  if (taken.meta.changes === 0) return null;
  await db.batch([
    db
      .prepare("UPDATE runs SET status = 'failed', error = 'abandoned: its invocation ended before the run finished (lease expired)', finished_at = ?2 WHERE feature_id = ?1 AND status IN ('queued', 'running')")
      .bind(feature.id, now),
    db.prepare("INSERT INTO runs (id, feature_id, status, trigger, created_at) VALUES (?1, ?2, 'queued', ?3, ?4)").bind(runId, feature.id, trigger, now),
    discardAbandonedStatement(db, feature.id, runId),
  ]);
  return runId;
}

/** Lease check inside a D1 batch: fails the whole batch (NOT NULL violation) when `runId` no longer holds the lease. */
const leaseGuard = (db: D1Database, featureId: number, runId: string) =>
  db
    .prepare(
      `INSERT INTO run_values (run_id, seq, entity_id, ts, value)
        SELECT ?2, -1, NULL, 0, '' WHERE NOT EXISTS (SELECT 1 FROM feature_schedules WHERE feature_id = ?1 AND lease_run_id = ?2)`,
    )
    .bind(featureId, runId);

/** A batch of the run with its lease guard first; a failure is reported as a lost lease when that is what it was. */
async function guardedBatch(db: D1Database, featureId: number, runId: string, statements: D1PreparedStatement[]): Promise<void> {
  try {
    await db.batch([leaseGuard(db, featureId, runId), ...statements]);
  } catch (err) {
    const held = await db.prepare("SELECT 1 FROM feature_schedules WHERE feature_id = ?1 AND lease_run_id = ?2").bind(featureId, runId).first();
    if (!held) throw new RunError("the run lost its lease (another run of the feature took over after it went silent); nothing more of it was committed");
    throw err;
  }
}

/** The message a run records for a failure: the source's own words, or a generic one for bugs. */
function describeError(err: unknown): string {
  if (err instanceof SourceError || err instanceof RunError || err instanceof FileError || err instanceof RowError || err instanceof ApiError) return scrubMessage(err.message);
  return `internal error: ${scrubMessage(String((err as Error)?.message ?? err))}`;
}

/** Raised when another invocation is working on the run: the queue retries the job later. */
export class RunBusyError extends Error {
  constructor(runId: string) {
    super(`run ${runId} is busy in another invocation`);
    this.name = "RunBusyError";
  }
}

/** Claims the run for this invocation; false when it is finished, superseded or busy elsewhere. */
async function claim(db: D1Database, runId: string, now: number): Promise<boolean> {
  const [claimed] = await db.batch([
    db
      .prepare(
        `UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?2), busy_until = ?3, invocations = invocations + 1
          WHERE id = ?1 AND status IN ('queued', 'running') AND busy_until < ?2
            AND EXISTS (SELECT 1 FROM feature_schedules s WHERE s.feature_id = runs.feature_id AND s.lease_run_id = runs.id)`,
      )
      .bind(runId, now, now + BUSY_MS),
    db.prepare("UPDATE feature_schedules SET lease_until = ?2 WHERE lease_run_id = ?1").bind(runId, now + LEASE_MS),
  ]);
  return (claimed?.meta.changes ?? 0) > 0; // one row by its key (see startRun)
}

/**
 * One invocation's share of the run `runId` (and, with `inline` — the API's `?wait=true` — every
 * following share in this same request). Returns the run as it stands, or null when the run or
 * its feature no longer exists.
 */
export async function executeRun(env: Bindings, runId: string, { inline = false } = {}): Promise<RunRecord | null> {
  const db = env.DB;
  for (;;) {
    if (!(await claim(db, runId, Date.now()))) {
      const current = await getRun(db, runId).catch((err) => {
        if (err instanceof ApiError && err.code === "RUN_NOT_FOUND") return null; // its feature was deleted
        throw err;
      });
      // Still running elsewhere, or its invocation died: the queue retries this job later (with
      // backoff), by which time the run is free again or finished.
      if (current?.status === "running" && !inline) throw new RunBusyError(runId);
      return current;
    }
    const run = await drizzle(db)
      .select({ featureId: runs.featureId, startedAt: runs.startedAt, createdAt: runs.createdAt, cursor: runs.cursor, nextSeq: runs.nextSeq, commitSeq: runs.commitSeq })
      .from(runs)
      .where(eq(runs.id, runId))
      .get();
    const feature = run && (await drizzle(db).select().from(features).where(eq(features.id, run.featureId)).get());
    if (!run || !feature) return null;
    const more = await invocation(env, feature, runId, run);
    if (!more) return getRun(db, runId);
    await db.prepare("UPDATE runs SET busy_until = 0 WHERE id = ?1").bind(runId).run();
    if (!inline) {
      await enqueueJobs(env.JOBS, [{ type: "materialize", run_id: runId }]);
      return getRun(db, runId);
    }
  }
}

interface RunState {
  startedAt: number | null;
  createdAt: number;
  cursor: unknown;
  nextSeq: number;
  commitSeq: number;
}

/** Reads within one budget; true when the run continues in another invocation. */
async function invocation(env: Bindings, feature: FeatureRow, runId: string, state: RunState): Promise<boolean> {
  const db = env.DB;
  const started = Date.now();
  const rowLimit = Number((env as Bindings & RunSettings).FSTORE_RUN_ROWS_PER_INVOCATION) || DEFAULT_ROWS_PER_INVOCATION;
  let staged = 0;
  let items = 0;
  const budget: Budget = {
    spent: () => staged >= rowLimit || items >= ITEMS_PER_INVOCATION || Date.now() - started >= INVOCATION_MS,
    rowsLeft: () => Math.max(0, rowLimit - staged),
    useItem: () => void items++,
  };
  const schedule = await db.prepare("SELECT failures, watermark FROM feature_schedules WHERE feature_id = ?1").bind(feature.id).first<{ failures: number; watermark: string | null }>();
  const ctx: RunContext = {
    env,
    feature,
    runId,
    runMicros: msToMicros(state.startedAt ?? state.createdAt),
    watermark: schedule?.watermark ?? null,
    budget,
  };
  let { nextSeq, commitSeq } = state;
  let paused = false;
  const apply = async (event: SourceEvent) => {
    const now = Date.now();
    const cursor = JSON.stringify(event.cursor ?? null);
    const alive = db.prepare("UPDATE runs SET busy_until = ?2 WHERE id = ?1").bind(runId, now + BUSY_MS);
    const leaseAlive = db.prepare("UPDATE feature_schedules SET lease_until = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, now + LEASE_MS);
    switch (event.type) {
      case "rows": {
        const n = event.rows.length;
        await guardedBatch(db, feature.id, runId, [
          ...stageStatements(db, runId, event.rows, nextSeq),
          db.prepare("UPDATE runs SET next_seq = ?2, cursor = ?3, rows_read = rows_read + ?4 WHERE id = ?1").bind(runId, nextSeq + n, cursor, n),
          alive,
          leaseAlive,
          ...(event.bookkeeping ?? []),
        ]);
        nextSeq += n;
        staged += n;
        return;
      }
      case "commit": {
        const range = { from: commitSeq, to: nextSeq };
        const watermark = await committedWatermark(db, runId, range.from, range.to, ctx.watermark);
        const counts = stagedCounts("?1", "?2", "?3");
        await guardedBatch(db, feature.id, runId, [
          ...promoteStatements(db, feature.id, runId, range.from, range.to),
          db
            .prepare(`UPDATE runs SET commit_seq = ?3, cursor = ?4, watermark = ?5, rows_written = rows_written + ${counts.changed}, rows_unchanged = rows_unchanged + ${counts.unchanged} WHERE id = ?1`)
            .bind(runId, range.from, range.to, cursor, watermark),
          db.prepare("UPDATE feature_schedules SET watermark = ?3 WHERE feature_id = ?1 AND lease_run_id = ?2").bind(feature.id, runId, watermark),
          alive,
          leaseAlive,
          ...(event.bookkeeping?.(range) ?? []),
        ]);
        commitSeq = nextSeq;
        ctx.watermark = watermark;
        await refreshPromoted(env, feature.featureGroup, runId, range.from, range.to);
        return;
      }
      case "discard":
        await guardedBatch(db, feature.id, runId, [
          discardStatement(db, runId, commitSeq),
          db.prepare("UPDATE runs SET next_seq = ?2, cursor = ?3, rows_read = rows_read - ?4 WHERE id = ?1").bind(runId, commitSeq, cursor, nextSeq - commitSeq),
          alive,
          ...(event.bookkeeping ?? []),
        ]);
        nextSeq = commitSeq;
        return;
      case "pause":
        await db.prepare("UPDATE runs SET cursor = ?2 WHERE id = ?1").bind(runId, cursor).run();
        paused = true;
        return;
    }
  };

  const reader = sourceOf(feature).read(ctx, state.cursor);
  try {
    for (;;) {
      const next = await reader.next();
      if (next.done) {
        await finish(db, feature, runId, schedule?.failures ?? 0, commitSeq, next.value.error);
        return false;
      }
      await apply(next.value);
      if (paused) return true;
    }
  } catch (err) {
    await finish(db, feature, runId, schedule?.failures ?? 0, commitSeq, describeError(err));
    return false;
  } finally {
    // Lets the source close what it holds open (a database connection) when it was stopped early.
    await reader.return({ error: null }).catch(() => {});
  }
}

/** The watermark after committing staged rows [from, to): the greatest timestamp committed so far. */
async function committedWatermark(db: D1Database, runId: string, from: number, to: number, previous: string | null): Promise<string | null> {
  const row = await db
    .prepare("SELECT CAST(max(ts) AS TEXT) AS ts FROM run_values WHERE run_id = ?1 AND seq >= ?2 AND seq < ?3")
    .bind(runId, from, to)
    .first<{ ts: string | null }>();
  const before = previous === null ? null : parseTimestamp(previous);
  const committed = row?.ts == null ? null : BigInt(row.ts);
  const max = before === null ? committed : committed === null || committed < before ? before : committed;
  return max === null ? null : formatTimestamp(max);
}

/**
 * Ends the run: succeeded (error null) or failed with `error` — uncommitted staged rows dropped,
 * what was committed kept — and releases the lease with the feature's next due time.
 */
async function finish(db: D1Database, feature: FeatureRow, runId: string, failuresBefore: number, commitSeq: number, error: string | null): Promise<void> {
  const now = Date.now();
  const started = (await db.prepare("SELECT started_at FROM runs WHERE id = ?1").bind(runId).first<{ started_at: number | null }>())?.started_at ?? now;
  const failures = error === null ? 0 : failuresBefore + 1;
  const nextRunAt = error === null ? nextDue(feature, started) : retryAt(feature, now, failures);
  await db.batch([
    discardStatement(db, runId, commitSeq),
    db
      .prepare("UPDATE runs SET status = ?2, error = ?3, finished_at = ?4, busy_until = 0, next_seq = commit_seq WHERE id = ?1")
      .bind(runId, error === null ? "succeeded" : "failed", error === null ? null : error.slice(0, 4000), now),
    db
      .prepare(
        `UPDATE feature_schedules SET failures = ?3, next_run_at = ?4, lease_run_id = NULL, lease_until = NULL, last_run_id = ?2, updated_at = ?5
          WHERE feature_id = ?1 AND lease_run_id = ?2`,
      )
      .bind(feature.id, runId, failures, nextRunAt, now),
  ]);
  const run = await getRun(db, runId);
  // One line per finished run, so `wrangler dev` shows what the scheduler did. Errors never hold secrets.
  const summary = `run ${runId} of feature ${feature.name} ${run.status}: ${run.rows_read} rows read, ${run.rows_written} written, ${run.rows_unchanged} unchanged in ${run.duration_ms ?? 0} ms (${run.invocations} invocation${run.invocations === 1 ? "" : "s"})`;
  if (error === null) console.log(summary);
  else console.error(`${summary}: ${error}`);
}
