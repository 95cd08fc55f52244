/**
 * Validated writes: checks items against their features (existence, value type, timestamp),
 * writes them to D1 in one transaction, then refreshes the KV vectors they touched — inline for
 * small writes, through the jobs queue for large ones (a Worker invocation may make only so many
 * KV calls). Every source (REST push, materialization, streams) writes through here.
 */
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { findFeatures } from "../registry/features";
import { distinctGroupEntities, refreshOnline } from "../storage/online-cache";
import { writeValues, type ValueRow } from "../storage/values";
import { nowMicros, parseTimestamp } from "../time";
import { checkValue } from "../value-types";

export interface IncomingValue {
  entity_id: string;
  value: unknown;
  timestamp?: string;
}

/** One value checked against its feature: the row to write, or why it cannot be written. */
export function toRow(feature: FeatureRow, item: IncomingValue, now = nowMicros()): ValueRow | string {
  const typeError = checkValue(feature.valueType, item.value);
  if (typeError) return typeError;
  const ts = item.timestamp === undefined ? now : parseTimestamp(item.timestamp);
  if (ts === null) return `timestamp '${item.timestamp}' is not ISO 8601 / RFC 3339`;
  return { featureId: feature.id, entityId: item.entity_id, ts, value: JSON.stringify(item.value) };
}

export interface ItemError {
  index: number;
  errors: { path: string; message: string }[];
}

/**
 * Resolves and checks a batch whose items already passed schema validation. Throws one 400
 * naming every bad item, so nothing is written unless everything can be.
 */
export async function prepareBatch(
  db: D1Database,
  items: (IncomingValue & { feature_id: string })[],
  earlierErrors: ItemError[] = [],
): Promise<{ rows: ValueRow[]; features: Map<string, FeatureRow> }> {
  const features = await findFeatures(db, items.map((i) => i.feature_id));
  const errors = new Map(earlierErrors.map((e) => [e.index, e]));
  const rows: ValueRow[] = [];
  const now = nowMicros();
  items.forEach((item, index) => {
    if (errors.has(index)) return;
    const feature = features.get(item.feature_id);
    const row = feature ? toRow(feature, item, now) : `feature '${item.feature_id}' not found`;
    if (typeof row === "string") {
      errors.set(index, { index, errors: [{ path: feature ? "value" : "feature_id", message: row }] });
    } else rows.push(row);
  });
  if (errors.size > 0) throw batchError([...errors.values()], items.length);
  return { rows, features };
}

export function batchError(errors: ItemError[], total: number) {
  errors.sort((a, b) => a.index - b.index);
  return new ApiError("INVALID_BATCH", `${errors.length} of ${total} items are invalid; nothing was written`, { items: errors });
}

/** Writes rows (all or nothing), then brings the online cache up to date. */
export async function commitValues(env: Bindings, rows: ValueRow[], groupOf: (featureId: number) => string): Promise<void> {
  await writeValues(env.DB, rows);
  const touched = distinctGroupEntities(rows.map((r) => ({ group: groupOf(r.featureId), entityId: r.entityId })));
  await refreshOnline(env, touched);
}

