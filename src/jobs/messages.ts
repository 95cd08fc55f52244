/** Messages on the `jobs` queue, parsed with zod on the way in. */
import { z } from "zod";

const GroupEntity = z.object({ group: z.string(), entityId: z.string() });

export const JobMessage = z.discriminatedUnion("type", [
  /**
   * Rebuild these KV vectors from D1 (storage/online-cache.ts): `cached` ones after a large write,
   * `pending` ones once the second since their last KV write has passed. `attempt` counts writes KV refused.
   */
  z.object({
    type: z.literal("refresh-online"),
    keys: z.array(GroupEntity).min(1),
    mode: z.enum(["cached", "pending"]).default("cached"),
    attempt: z.number().int().min(0).default(0),
  }),
  /** Work on run `run_id`: its first invocation (enqueued by the cron handler or the API) or a continuation. */
  z.object({ type: z.literal("materialize"), run_id: z.string().min(1) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;

/** Queue.sendBatch takes at most 100 messages and 256 KB per call; stay under both. */
const SEND_BATCH_MAX = 100;
const SEND_BATCH_BYTES = 200 * 1024;

/** Sends jobs in as few sendBatch calls as the limits allow, each delivered no sooner than `delaySeconds`. */
export async function enqueueJobs(queue: Queue, jobs: JobMessage[], delaySeconds?: number): Promise<void> {
  const options = delaySeconds === undefined ? undefined : { delaySeconds };
  let pending: MessageSendRequest[] = [];
  let bytes = 0;
  for (const body of jobs) {
    const size = JSON.stringify(body).length;
    if (pending.length > 0 && (pending.length >= SEND_BATCH_MAX || bytes + size > SEND_BATCH_BYTES)) {
      await queue.sendBatch(pending, options);
      pending = [];
      bytes = 0;
    }
    pending.push({ body, contentType: "json" });
    bytes += size;
  }
  if (pending.length > 0) await queue.sendBatch(pending, options);
}
