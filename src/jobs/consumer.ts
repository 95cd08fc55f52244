/**
 * Queue consumer. Each message is parsed with zod and acked on its own; a failure is retried
 * with exponential backoff and, after `max_retries` (wrangler.toml), lands in the dead-letter queue.
 */
import type { Bindings } from "../env";
import { refreshVectors } from "../storage/online-cache";
import { JobMessage } from "./messages";

const backoffSeconds = (attempts: number) => Math.min(300, 2 ** attempts * 5);

async function runJob(env: Bindings, job: JobMessage): Promise<void> {
  switch (job.type) {
    case "refresh-online":
      return refreshVectors(env.DB, env.ONLINE, job.keys);
  }
}

export async function consumeQueue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  if (!batch.queue.startsWith("fstore-jobs")) {
    // No consumer for this queue yet: keep the messages (retry, then dead-letter) rather than lose them.
    console.error(`no consumer for queue ${batch.queue}; retrying ${batch.messages.length} messages`);
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      // Retrying cannot fix a malformed message: drop it loudly.
      console.error(`dropping malformed message ${message.id} on ${batch.queue}`);
      message.ack();
      continue;
    }
    try {
      await runJob(env, parsed.data);
      message.ack();
    } catch (err) {
      console.error(`job ${parsed.data.type} (message ${message.id}) failed: ${(err as Error).message}`);
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}
