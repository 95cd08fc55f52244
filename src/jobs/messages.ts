/** Messages on the `jobs` queue, parsed with zod on the way in. */
import { z } from "zod";

const GroupEntity = z.object({ group: z.string(), entityId: z.string() });

export const JobMessage = z.discriminatedUnion("type", [
  /** Rebuild these KV vectors from D1 (large writes hand their cache refresh here). */
  z.object({ type: z.literal("refresh-online"), keys: z.array(GroupEntity).min(1) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;

/** Queue.sendBatch takes at most 100 messages per call. */
const SEND_BATCH_MAX = 100;

export async function enqueueJobs(queue: Queue, jobs: JobMessage[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += SEND_BATCH_MAX) {
    await queue.sendBatch(jobs.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body, contentType: "json" as const })));
  }
}
