/**
 * A failing item never blocks the others: the KV refreshes of one queue batch are merged into one
 * call, and when that call fails, the keys are split in halves (and halves of halves) until the
 * keys that fail on their own are found. Everything else is refreshed and its messages acked; a
 * message whose keys all fail is retried with backoff and, after the queue's max_retries, lands in
 * the dead-letter queue (GET /api/v1/dead-letters); a message holding both is acked and its failing
 * keys go on as a new message, which then retries and dead-letters alone. So one bad key costs a
 * few extra refresh calls, never the freshness of the entities that came with it.
 */
import { distinctGroupEntities, vectorKey, type GroupEntity } from "../storage/online-cache";

export interface RefreshJob {
  message: Message;
  keys: GroupEntity[];
}

/**
 * Refresh calls one batch may spend isolating failures: one bad key among thousands takes about
 * 2·log2(n); when everything fails (D1 or KV down) the search stops here and every message retries.
 */
const MAX_REFRESH_CALLS = 48;

/** Keys (by KV key) that fail when refreshed on their own, or that the call budget left unsettled. */
async function failingKeys(keys: GroupEntity[], refresh: (keys: GroupEntity[]) => Promise<void>): Promise<{ failed: Set<string>; error: string }> {
  const failed = new Set<string>();
  let error = "";
  let calls = 0;
  const parts: GroupEntity[][] = [keys];
  for (let part = parts.shift(); part; part = parts.shift()) {
    if (calls++ >= MAX_REFRESH_CALLS) {
      for (const k of part) failed.add(vectorKey(k.group, k.entityId));
      continue;
    }
    try {
      await refresh(part);
    } catch (err) {
      error = String((err as Error)?.message ?? err);
      if (part.length === 1) failed.add(vectorKey((part[0] as GroupEntity).group, (part[0] as GroupEntity).entityId));
      else parts.push(part.slice(0, Math.ceil(part.length / 2)), part.slice(Math.ceil(part.length / 2)));
    }
  }
  return { failed, error };
}

/**
 * Refreshes the keys of `jobs` and acks, retries or splits each message as the module comment
 * says; `requeue` sends a message's failing keys on as a new job of the same kind.
 */
export async function settleRefreshJobs(
  jobs: RefreshJob[],
  refresh: (keys: GroupEntity[]) => Promise<void>,
  requeue: (keys: GroupEntity[]) => Promise<void>,
  backoffSeconds: (attempts: number) => number,
): Promise<void> {
  if (jobs.length === 0) return;
  const { failed, error } = await failingKeys(distinctGroupEntities(jobs.flatMap((j) => j.keys)), refresh);
  if (failed.size === 0) {
    for (const j of jobs) j.message.ack();
    return;
  }
  console.error(`online-cache refresh: ${failed.size} vector(s) fail on their own (${error}); the rest were refreshed`);
  const split: { job: RefreshJob; bad: GroupEntity[] }[] = [];
  for (const job of jobs) {
    const bad = job.keys.filter((k) => failed.has(vectorKey(k.group, k.entityId)));
    if (bad.length === 0) job.message.ack();
    else if (bad.length === job.keys.length) job.message.retry({ delaySeconds: backoffSeconds(job.message.attempts) });
    else split.push({ job, bad });
  }
  if (split.length === 0) return;
  try {
    await requeue(distinctGroupEntities(split.flatMap((s) => s.bad)));
    for (const s of split) s.job.message.ack();
  } catch {
    for (const s of split) s.job.message.retry({ delaySeconds: backoffSeconds(s.job.message.attempts) });
  }
}
