/**
 * Queue consumer. Each message is parsed with zod and acked on its own; a failure is retried
 * with exponential backoff and, after `max_retries` (wrangler.toml), lands in the dead-letter queue.
 */
import type { Bindings } from "../env";
import { refreshCachedVectors, type GroupEntity } from "../storage/online-cache";
import { executeRun, RunBusyError } from "../runs/lifecycle";
import { isDeadLetterQueue, storeDeadLetters } from "./dead-letters";
import { JobMessage } from "./messages";
import { settleRefreshJobs } from "./refresh-isolation";

const backoffSeconds = (attempts: number) => Math.min(300, 2 ** attempts * 5);

/**
 * The refresh jobs of one queue batch are merged so each vector is rebuilt once, however many
 * writes touched it (KV also accepts only about one write per second per key). Queued refreshes
 * come from large writes, so only vectors KV already holds are rebuilt (see refreshCachedVectors).
 */
async function refreshMerged(env: Bindings, jobs: { message: Message; keys: GroupEntity[] }[]): Promise<void> {
  // A key that fails is isolated, retried and dead-lettered alone (refresh-isolation.ts).
  await settleRefreshJobs(env, jobs, (keys) => refreshCachedVectors(env.DB, env.ONLINE, keys), backoffSeconds);
}

/**
 * Run jobs. A run records its own failures (and the scheduler retries its feature with backoff),
 * so only a run busy in another invocation, or an error reaching D1 itself, is retried here.
 */
async function runJob(env: Bindings, message: Message, runId: string): Promise<void> {
  try {
    await executeRun(env, runId);
    message.ack();
  } catch (err) {
    if (!(err instanceof RunBusyError)) console.error(`run job ${runId} (message ${message.id}) failed: ${(err as Error).message}`);
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  }
}

export async function consumeQueue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  if (isDeadLetterQueue(batch.queue)) return storeDeadLetters(batch, env);
  if (!batch.queue.startsWith("fstore-jobs")) {
    // No consumer for this queue yet: keep the messages (retry, then dead-letter) rather than lose them.
    console.error(`no consumer for queue ${batch.queue}; retrying ${batch.messages.length} messages`);
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  const refreshes: { message: Message; keys: GroupEntity[] }[] = [];
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      // Retrying cannot fix a malformed message: drop it loudly.
      console.error(`dropping malformed message ${message.id} on ${batch.queue}`);
      message.ack();
      continue;
    }
    const job = parsed.data;
    if (job.type === "refresh-online") refreshes.push({ message, keys: job.keys });
    else await runJob(env, message, job.run_id);
  }
  await refreshMerged(env, refreshes);
}
