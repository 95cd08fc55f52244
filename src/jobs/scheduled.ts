/**
 * The cron trigger (every minute). Scheduled materialization of SQL and data-lake features
 * hooks in here once their connectors exist; push-only deployments have nothing to schedule.
 */
import type { Bindings } from "../env";

export async function runScheduled(_controller: ScheduledController, _env: Bindings): Promise<void> {
  // Nothing is scheduled yet: every registered feature is fed by push.
}
