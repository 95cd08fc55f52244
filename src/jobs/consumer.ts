/**
 * Queue consumer. Each message is parsed with zod and acked on its own; a failure is retried
 * with exponential backoff and, after `max_retries` (wrangler.toml), lands in the dead-letter queue.
 *
 * A whole batch runs in one invocation, which may make at most 1,000 KV operations (invocation.ts
 * enforces it). So every job is started only when the KV operations it may need are left, and is
 * otherwise sent back to the queue (not retried: that would spend its attempts); online-cache
 * refreshes are merged and cut to what is left, the rest queued again.
 */
import type { Bindings } from "../env";
import { kvOpsLeft } from "../invocation";
import { executeRun, RunBusyError } from "../runs/lifecycle";
import { distinctGroupEntities, INLINE_REFRESH_LIMIT, queueRefresh, refreshKeys, vectorKey, type GroupEntity } from "../storage/online-cache";
import { isDeadLetterQueue, storeDeadLetters } from "./dead-letters";
import { JobMessage } from "./messages";
import { settleRefreshJobs } from "./refresh-isolation";
import { consumeEvents } from "../streams/apply";

const backoffSeconds = (attempts: number) => Math.min(300, 2 ** attempts * 5);

/** KV operations kept back from every budget below (a margin for bookkeeping reads). */
const KV_RESERVE = 10;
/**
 * KV operations a run job starts with: its inline refreshes. (A run's later refreshes queue
 * themselves when the invocation's KV operations run short: storage/online-cache.ts.)
 */
const RUN_JOB_KV_OPS = INLINE_REFRESH_LIMIT;

type RefreshJob = Extract<JobMessage, { type: "refresh-online" }>;

/**
 * The refresh jobs of one queue batch are merged so each vector is rebuilt once however many
 * writes touched it, and cut to the KV operations left in this invocation (one per vector);
 * vectors beyond that go back to the queue as new jobs. A vector whose refresh fails is isolated,
 * retried and dead-lettered alone (refresh-isolation.ts), never holding up the others.
 */
async function refreshMerged(env: Bindings, jobs: { message: Message; job: RefreshJob }[]): Promise<void> {
  const bySort = new Map<string, { mode: RefreshJob["mode"]; attempt: number; keys: GroupEntity[]; messages: Message[] }>();
  const keysOf = new Map<Message, GroupEntity[]>();
  for (const { message, job } of jobs) {
    keysOf.set(message, job.keys);
    const sort = `${job.mode}:${job.attempt}`;
    const entry = bySort.get(sort) ?? { mode: job.mode, attempt: job.attempt, keys: [], messages: [] };
    entry.keys.push(...job.keys);
    entry.messages.push(message);
    bySort.set(sort, entry);
  }
  for (const { mode, attempt, keys, messages } of bySort.values()) {
    try {
      const distinct = distinctGroupEntities(keys);
      const budget = Math.max(0, kvOpsLeft(env) - KV_RESERVE);
      const later = new Set(distinct.slice(budget).map((k) => vectorKey(k.group, k.entityId)));
      if (later.size > 0) await queueRefresh(env, distinct.slice(budget), mode, attempt);
      // What is left for this invocation, message by message, so a failing key is traced to its message.
      const now = messages.map((message) => ({ message, keys: keysOf.get(message)?.filter((k) => !later.has(vectorKey(k.group, k.entityId))) ?? [] }));
      await settleRefreshJobs(now, async (part) => void (await refreshKeys(env, part, mode, attempt)), (bad) => queueRefresh(env, bad, mode, attempt), backoffSeconds);
    } catch (err) {
      console.error(`online-cache refresh of ${messages.length} jobs failed: ${(err as Error).message}`);
      for (const m of messages) m.retry({ delaySeconds: backoffSeconds(m.attempts) });
    }
  }
}

/**
 * Run jobs. A run records its own failures (and the scheduler retries its feature with backoff),
 * so only a run busy in another invocation, or an error reaching D1 itself, is retried here.
 */
async function runJob(env: Bindings, message: Message, runId: string): Promise<void> {
  try {
    if (kvOpsLeft(env) < RUN_JOB_KV_OPS + KV_RESERVE) {
      // Not enough KV operations left in this invocation: a fresh one will run it.
      await env.JOBS.send(message.body, { contentType: "json" });
    } else await executeRun(env, runId);
    message.ack();
  } catch (err) {
    if (!(err instanceof RunBusyError)) console.error(`run job ${runId} (message ${message.id}) failed: ${(err as Error).message}`);
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  }
}

export async function consumeQueue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  // First: "fstore-jobs-dlq" also starts with "fstore-jobs".
  if (isDeadLetterQueue(batch.queue)) return storeDeadLetters(batch, env);
  if (batch.queue.startsWith("fstore-events")) return consumeEvents(batch, env);
  if (!batch.queue.startsWith("fstore-jobs")) {
    // No consumer for this queue yet: keep the messages (retry, then dead-letter) rather than lose them.
    console.error(`no consumer for queue ${batch.queue}; retrying ${batch.messages.length} messages`);
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  const refreshes: { message: Message; job: RefreshJob }[] = [];
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      // Retrying cannot fix a malformed message: drop it loudly.
      console.error(`dropping malformed message ${message.id} on ${batch.queue}`);
      message.ack();
      continue;
    }
    const job = parsed.data;
    if (job.type === "refresh-online") refreshes.push({ message, job });
    else await runJob(env, message, job.run_id);
  }
  await refreshMerged(env, refreshes);
}
