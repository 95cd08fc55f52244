/**
 * Runs as the API shows them: one run, a feature's runs, and every run across features with
 * filters (status, trigger, feature, time) and cursor paging, newest first.
 */
import { and, desc, eq, gte, lt, or, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, runs } from "../db/schema";
import { ApiError } from "../errors";

export type Trigger = "schedule" | "manual";
export type RunStatus = "queued" | "running" | "succeeded" | "failed";

export interface RunRecord {
  id: string;
  feature_id: string;
  source_type: string;
  status: RunStatus;
  trigger: Trigger;
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  duration_ms: number | null;
  watermark: string | null;
  error: string | null;
  invocations: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// drizzle's builder reads better than SQL text here, and these are small indexed reads.
const columns = {
  id: runs.id,
  // The feature's ref (registry/refs.ts): its name while no other group has it, else group:name.
  featureRef: sql<string>`CASE WHEN (SELECT count(*) FROM features AS same WHERE same.name = ${features.name}) > 1 THEN ${features.featureGroup} || ':' || ${features.name} ELSE ${features.name} END`,
  sourceType: features.sourceType,
  status: runs.status,
  trigger: runs.trigger,
  rowsRead: runs.rowsRead,
  rowsWritten: runs.rowsWritten,
  rowsUnchanged: runs.rowsUnchanged,
  watermark: runs.watermark,
  error: runs.error,
  invocations: runs.invocations,
  createdAt: runs.createdAt,
  startedAt: runs.startedAt,
  finishedAt: runs.finishedAt,
};
const select = (db: D1Database) => drizzle(db).select(columns).from(runs).innerJoin(features, eq(features.id, runs.featureId));
type Row = Awaited<ReturnType<ReturnType<typeof select>["all"]>>[number];

function toRecord(r: Row): RunRecord {
  return {
    id: r.id,
    feature_id: r.featureRef,
    source_type: r.sourceType,
    status: r.status,
    trigger: r.trigger,
    rows_read: r.rowsRead,
    rows_written: r.rowsWritten,
    rows_unchanged: r.rowsUnchanged,
    duration_ms: r.startedAt !== null && r.finishedAt !== null ? r.finishedAt - r.startedAt : null,
    watermark: r.watermark,
    error: r.error,
    invocations: r.invocations,
    created_at: iso(r.createdAt) as string,
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
  };
}

export async function getRun(db: D1Database, id: string): Promise<RunRecord> {
  const row = await select(db).where(eq(runs.id, id)).get();
  if (!row) throw new ApiError("RUN_NOT_FOUND", `run '${id}' not found`);
  return toRecord(row);
}

export interface RunFilter {
  featureId?: number;
  status?: RunStatus;
  trigger?: Trigger;
  /** Runs created at or after this time (ms). */
  since?: number;
  limit: number;
  /** next_cursor of the previous page. */
  cursor?: string;
}

/** Cursor of a page: the last run's creation time and id (runs are ordered by both, newest first). */
const encodeCursor = (createdAt: number, id: string) => btoa(JSON.stringify([createdAt, id]));
function decodeCursor(cursor: string): [number, string] {
  try {
    const parsed = JSON.parse(atob(cursor)) as unknown;
    if (Array.isArray(parsed) && typeof parsed[0] === "number" && typeof parsed[1] === "string") return [parsed[0], parsed[1]];
  } catch {
    // fall through
  }
  throw new ApiError("VALIDATION_FAILED", "cursor is not a next_cursor this API returned");
}

/** One page of runs, newest first; `nextCursor` is set when more may follow. */
export async function listRuns(db: D1Database, f: RunFilter): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
  const conditions: (SQL | undefined)[] = [
    f.featureId === undefined ? undefined : eq(runs.featureId, f.featureId),
    f.status ? eq(runs.status, f.status) : undefined,
    f.trigger ? eq(runs.trigger, f.trigger) : undefined,
    f.since === undefined ? undefined : gte(runs.createdAt, f.since),
  ];
  if (f.cursor) {
    const [createdAt, id] = decodeCursor(f.cursor);
    conditions.push(or(lt(runs.createdAt, createdAt), and(eq(runs.createdAt, createdAt), lt(runs.id, id))));
  }
  const rows = await select(db)
    .where(and(...conditions))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(f.limit + 1)
    .all();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { runs: page.map(toRecord), nextCursor: rows.length > f.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

/** How many runs of each status exist (for overviews). */
export async function countRunsByStatus(db: D1Database): Promise<Record<RunStatus, number>> {
  const rows = await drizzle(db).select({ status: runs.status, n: sql<number>`count(*)` }).from(runs).groupBy(runs.status).all();
  const counts: Record<RunStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0 };
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}
