/** Messages on the `jobs` queue, parsed with zod on the way in. */
import { z } from "zod";

const GroupEntity = z.object({ group: z.string(), entityId: z.string() });

export const JobMessage = z.discriminatedUnion("type", [
  /** Rebuild these KV vectors from D1 (large writes and runs hand their cache refresh here). */
  z.object({ type: z.literal("refresh-online"), keys: z.array(GroupEntity).min(1) }),
  /** Work on run `run_id`: its first invocation (enqueued by the cron handler or the API) or a continuation. */
  z.object({ type: z.literal("materialize"), run_id: z.string().min(1) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;

/** Queue.sendBatch takes at most 100 messages and 256 KB per call; stay under both. */
const SEND_BATCH_MAX = 100;
const SEND_BATCH_BYTES = 200 * 1024;

export async function enqueueJobs(queue: Queue, jobs: JobMessage[]): Promise<void> {
  let pending: MessageSendRequest[] = [];
  let bytes = 0;
  for (const body of jobs) {
    const size = JSON.stringify(body).length;
    if (pending.length > 0 && (pending.length >= SEND_BATCH_MAX || bytes + size > SEND_BATCH_BYTES)) {
      await queue.sendBatch(pending);
      pending = [];
      bytes = 0;
    }
    pending.push({ body, contentType: "json" });
    bytes += size;
  }
  if (pending.length > 0) await queue.sendBatch(pending);
}
