/**
 * The cron trigger (every minute): finds the SQL and data-lake features that are due (their
 * `update_frequency` or cron `schedule`, see runs/schedule.ts) and not leased by a running run,
 * starts a run of each (taking its lease) and enqueues one `materialize` job per run.
 * It also forgets the online-cache vectors KV has dropped (storage/online-cache.ts), and writes
 * the stream window values that changed because events left their windows (streams/clock.ts).
 */
import { and, eq, inArray, isNull, lt, lte, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, featureSchedules } from "../db/schema";
import type { Bindings } from "../env";
import { startRun } from "../runs/lifecycle";
import { firstDue, isScheduled } from "../runs/schedule";
import { pruneOnlineVectors } from "../storage/online-cache";
import { advanceClock, pruneStreamState } from "../streams/clock";
import { enqueueJobs, type JobMessage } from "./messages";

/** Stream clock entries one cron tick advances (a minute's backlog of a busy deployment fits several ticks). */
const CLOCK_PER_TICK = 2000;

export async function runScheduled(controller: ScheduledController, env: Bindings): Promise<void> {
  const now = controller.scheduledTime || Date.now();
  await pruneOnlineVectors(env.DB);
  // Stream windows whose values change because events leave them (streams/clock.ts).
  await advanceClock(env, Date.now(), CLOCK_PER_TICK);
  await pruneStreamState(env.DB, Date.now());
  const candidates = await drizzle(env.DB)
    .select({ feature: features, hasSchedule: featureSchedules.featureId })
    .from(features)
    .leftJoin(featureSchedules, eq(featureSchedules.featureId, features.id))
    .where(
      and(
        inArray(features.sourceType, ["sql", "file"]),
        or(isNull(featureSchedules.leaseUntil), lt(featureSchedules.leaseUntil, now)),
        or(isNull(featureSchedules.featureId), isNull(featureSchedules.nextRunAt), lte(featureSchedules.nextRunAt, now)),
      ),
    )
    .all();
  const jobs: JobMessage[] = [];
  for (const { feature, hasSchedule } of candidates) {
    if (!isScheduled(feature)) continue;
    // Never run yet: due at its first due time (registration for update_frequency, the first cron occurrence for schedule).
    if (hasSchedule === null && (firstDue(feature) ?? Infinity) > now) continue;
    const runId = await startRun(env.DB, feature, "schedule");
    if (runId) jobs.push({ type: "materialize", run_id: runId });
  }
  await enqueueJobs(env.JOBS, jobs);
}
