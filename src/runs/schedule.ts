/**
 * When a SQL or file feature is due: `update_frequency` (`30s`, `5m`, `1h`, `1d`) after the last run's
 * start, or the next occurrence of its cron `schedule` (UTC). A feature never run is due at once
 * with `update_frequency`, and at the first cron occurrence after registration with `schedule`.
 * After a failure the next attempt comes with backoff — 1, 2, 4, ... minutes, at most an hour —
 * but never later than the next regular due time.
 */
import { Cron } from "croner";
import type { FeatureRow } from "../db/schema";
import { parseDuration } from "../time";

/** The cron schedule: `schedule`, or `batch_config.schedule` as in the guide's S3 batch example. */
function cronOf(feature: FeatureRow): string | null {
  if (typeof feature.source.schedule === "string") return feature.source.schedule;
  const batch = feature.source.batch_config as { schedule?: unknown } | undefined;
  return typeof batch?.schedule === "string" ? batch.schedule : null;
}

export function isScheduled(feature: FeatureRow): boolean {
  return typeof feature.source.update_frequency === "string" || cronOf(feature) !== null;
}

/** The next regular due time (ms) after `fromMs`, or null for a feature with no schedule. */
export function nextDue(feature: FeatureRow, fromMs: number): number | null {
  const every = typeof feature.source.update_frequency === "string" ? parseDuration(feature.source.update_frequency) : null;
  if (every !== null) return fromMs + every * 1000;
  const cron = cronOf(feature);
  if (cron !== null) {
    const next = new Cron(cron, { timezone: "UTC", paused: true }).nextRun(new Date(fromMs));
    return next ? next.getTime() : null;
  }
  return null;
}

/** When a feature that has never run is first due. */
export function firstDue(feature: FeatureRow): number | null {
  if (typeof feature.source.update_frequency === "string") return feature.createdAt;
  return nextDue(feature, feature.createdAt);
}

export const backoffMs = (failures: number) => Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, failures - 1));

/** Next attempt after the `failures`-th consecutive failure at `nowMs`. */
export function retryAt(feature: FeatureRow, nowMs: number, failures: number): number {
  const regular = nextDue(feature, nowMs);
  const backoff = nowMs + backoffMs(failures);
  return regular === null ? backoff : Math.min(regular, backoff);
}
