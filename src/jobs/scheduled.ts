/**
 * The cron trigger (every minute): finds the SQL and data-lake features that are due (their `update_frequency`
 * or cron `schedule`, see materialize/schedule.ts) and not leased by a running run, takes each
 * one's lease with a queued run, and enqueues one `materialize` job per feature on the jobs queue.
 * It also forgets the online-cache vectors KV has dropped (storage/online-cache.ts).
 */
import { inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features } from "../db/schema";
import type { Bindings } from "../env";
import { startRun } from "../materialize/run";
import { firstDue, isScheduled } from "../materialize/schedule";
import { pruneOnlineVectors } from "../storage/online-cache";
import { enqueueJobs, type JobMessage } from "./messages";

interface DueRow {
  id: number;
  next_run_at: number | null;
  lease_until: number | null;
  has_schedule: number | null;
}

export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const now = controller.scheduledTime || Date.now();
  await pruneOnlineVectors(env.DB);
  const { results } = await env.DB.prepare(
    `SELECT f.id, s.next_run_at, s.lease_until, s.feature_id AS has_schedule
       FROM features f LEFT JOIN feature_schedules s ON s.feature_id = f.id
      WHERE f.source_type IN ('sql', 'file')`,
  ).all<DueRow>();
  const candidates = results.filter((r) => (r.lease_until === null || r.lease_until < now) && (r.has_schedule === null || (r.next_run_at ?? 0) <= now));
  if (candidates.length === 0) return;
  const due = await drizzle(env.DB)
    .select()
    .from(features)
    .where(inArray(features.id, sql`(SELECT value FROM json_each(${JSON.stringify(candidates.map((c) => c.id))}))`))
    .all();
  const jobs: JobMessage[] = [];
  for (const feature of due) {
    if (!isScheduled(feature)) continue;
    const state = candidates.find((c) => c.id === feature.id);
    if (state?.has_schedule === null && (firstDue(feature) ?? Infinity) > now) continue;
    const runId = await startRun(env.DB, feature, "schedule");
    if (runId) jobs.push({ type: "materialize", run_id: runId });
  }
  await enqueueJobs(env.JOBS, jobs);
}
