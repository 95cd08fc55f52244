/**
 * The write path. Every value FStore stores enters here: pushes (REST, batch, Feast) are checked
 * against their features and written in one transaction; run rows (SQL, files) are shaped by
 * ingest/shape.ts, staged, and promoted by the run lifecycle with the statements of ingest/sql.ts;
 * stream aggregates are written like pushes. After a commit the KV vectors the values touched are
 * brought up to date (storage/online-cache.ts decides inline or queued).
 */
import { scrubMessage } from "../../connectors/scrub";
import { failWhen } from "../db/guard";
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { usageOf } from "../invocation";
import { loadByNames, parseRef, pickRef } from "../registry/refs";
import { forgetCatalog, loadCatalog } from "../serving/catalog";
import { cachedKeysProbe, distinctGroupEntities, refreshOnline } from "../storage/online-cache";
import { nowMicros, parseTimestamp, type Micros } from "../time";
import { checkEntityId, encodeValue } from "./rules";
import { changedEntities, discardStatement, writeStatements, type ValueRow } from "./sql";

export interface IncomingValue {
  /** Checked here (rules.ts), whatever the caller's schema let through. */
  entity_id: unknown;
  value: unknown;
  timestamp?: string;
}

/** One pushed value checked against its feature: the row to write, or why it cannot be written. */
export function toRow(feature: FeatureRow, item: IncomingValue, now: Micros = nowMicros()): ValueRow | string {
  const entityError = checkEntityId(item.entity_id);
  if (entityError) return entityError;
  const encoded = encodeValue(feature.valueType, item.value);
  if ("error" in encoded) return encoded.error;
  const ts = item.timestamp === undefined ? now : parseTimestamp(item.timestamp);
  if (ts === null) return `timestamp '${String(item.timestamp).slice(0, 60)}' is not ISO 8601 / RFC 3339 between 0001-01-01 and 9999-12-31`;
  return { featureId: feature.id, entityId: item.entity_id as string, ts, value: encoded.json };
}

export interface ItemError {
  index: number;
  /** `code` marks an error with its own code (AMBIGUOUS_FEATURE), `details` what it says beyond the message. */
  errors: { path: string; message: string; code?: string; details?: unknown }[];
}

/**
 * Resolves and checks a batch whose items already passed schema validation. Throws one 400
 * naming every bad item, so nothing is written unless everything can be.
 */
export async function prepareBatch(
  db: D1Database,
  items: BatchItem[],
  earlierErrors: ItemError[] = [],
): Promise<PreparedBatch> {
  // Items name features by `name` or `group:name` (registry/refs.ts): one query for every feature of those names.
  return checkBatch(await loadByNames(db, items.map((i) => parseRef(i.feature_id).name)), items, earlierErrors);
}

type BatchItem = IncomingValue & { feature_id: string };
interface PreparedBatch {
  rows: ValueRow[];
  features: Map<string, FeatureRow>;
}

/** prepareBatch against features already loaded (every feature of each name the items use). */
function checkBatch(byName: Map<string, FeatureRow[]>, items: BatchItem[], earlierErrors: ItemError[] = []): PreparedBatch {
  const features = new Map<string, FeatureRow>();
  const errors = new Map(earlierErrors.map((e) => [e.index, e]));
  const rows: ValueRow[] = [];
  const now = nowMicros();
  items.forEach((item, index) => {
    if (errors.has(index)) return;
    let feature = features.get(item.feature_id);
    if (!feature) {
      const picked = pickRef(item.feature_id, byName.get(parseRef(item.feature_id).name));
      if (picked instanceof ApiError) {
        errors.set(index, { index, errors: [{ path: "feature_id", message: picked.message, code: picked.code, details: picked.details }] });
        return;
      }
      if (picked) features.set(item.feature_id, (feature = picked));
    }
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

/**
 * Writes rows to history and latest (all or nothing), then brings the online cache up to date.
 * Once the values are committed nothing may fail the request (a client would retry what is already
 * stored): a refresh that cannot even be queued is logged, and readers fall back to D1 on a miss.
 * `before` runs first in the same transaction: guards (db/guard.ts), and state that must commit
 * with the values or not at all (the stream consumer's tiles, seen ids and counters).
 */
export async function commitValues(env: Bindings, rows: ValueRow[], groupOf: (featureId: number) => string, before: D1PreparedStatement[] = []): Promise<void> {
  if (rows.length === 0 && before.length === 0) return;
  const touched = distinctGroupEntities(rows.map((r) => ({ group: groupOf(r.featureId), entityId: r.entityId })));
  // A large write asks which of its vectors KV holds in the same batch (no round trip of its own).
  const writes = [...before, ...writeStatements(env.DB, rows)];
  const probe = cachedKeysProbe(env, touched);
  const results = await env.DB.batch(probe ? [...writes, ...probe.statements] : writes);
  await afterCommit("online-cache refresh", () => refreshOnline(env, touched, probe?.read(results.slice(writes.length))));
}

/**
 * A guard (db/guard.ts) failing the batch unless the features holding `names` in D1 are exactly
 * those with `ids`. Feature ids are never reused and a feature's name, group and type never change,
 * so the same ids mean the same resolution and the same checks as a fresh lookup.
 */
function registryGuard(db: D1Database, names: string[], ids: number[]): D1PreparedStatement {
  const named = "name IN (SELECT value FROM json_each(?1))";
  return failWhen(
    db,
    `(SELECT count(*) FROM features WHERE ${named}) <> ?3 OR (SELECT count(*) FROM features WHERE ${named} AND id IN (SELECT value FROM json_each(?2))) <> ?3`,
    JSON.stringify(names),
    JSON.stringify(ids),
    ids.length,
  );
}

/**
 * Writes a batch of pushed values (all or nothing) and answers how many were written. Names are
 * resolved against the per-isolate catalog (serving/catalog.ts) when it knows all of them, and that
 * resolution is checked in the write's own D1 batch (registryGuard): no round trip for the
 * registry. Whatever the catalog cannot settle — a name it does not know, any invalid item, a
 * registry changed since it was loaded — goes the way it always went: one D1 query for the names,
 * then the checks, then the write. So a client sees exactly what a fresh lookup would give.
 */
export async function writeBatch(env: Bindings, items: BatchItem[]): Promise<number> {
  const usage = usageOf(env);
  const names = [...new Set(items.map((i) => parseRef(i.feature_id).name))];
  const catalog = await usage.phaseAsync("registry", () => loadCatalog(env.DB));
  if (names.every((n) => catalog.byName.has(n))) {
    let prepared: PreparedBatch | null = null;
    try {
      prepared = usage.phase("validate", () => checkBatch(catalog.byName, items));
    } catch {
      // Decided below against D1 (the catalog may be behind).
    }
    if (prepared) {
      const ids = names.flatMap((n) => (catalog.byName.get(n) as FeatureRow[]).map((f) => f.id));
      const groups = new Map([...prepared.features.values()].map((f) => [f.id, f.featureGroup]));
      try {
        await commitValues(env, prepared.rows, (id) => groups.get(id) as string, [registryGuard(env.DB, names, ids)]);
        return prepared.rows.length;
      } catch {
        // The batch failed as a whole, so nothing was written (commitValues throws only from the
        // batch; what follows the commit is logged, never thrown). Whether the guard fired — the
        // registry changed since the catalog was loaded — or D1 failed, the fresh path below
        // decides, without reading D1's error text.
        forgetCatalog();
      }
    }
  }
  const { rows, features } = await usage.phaseAsync("validate", () => prepareBatch(env.DB, items));
  const groups = new Map([...features.values()].map((f) => [f.id, f.featureGroup]));
  await commitValues(env, rows, (id) => groups.get(id) as string);
  return rows.length;
}

/** Runs a step that follows a commit: its failure is logged, never thrown. */
async function afterCommit(step: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    console.error(`${step} after a commit failed (the values are stored; cached vectors may stay stale until the next write or their refill): ${scrubMessage(String((err as Error)?.message ?? err))}`);
  }
}

/**
 * After a run's promotion committed: brings the vectors of its changed staged rows [from, to) up to
 * date, then drops those staged rows (their keys travel on in the refresh jobs).
 */
export async function refreshPromoted(env: Bindings, group: string, runId: string, from: number, to: number): Promise<void> {
  if (to <= from) return;
  await afterCommit("online-cache refresh of a run", async () => {
    for await (const entities of changedEntities(env.DB, runId, from, to)) {
      await refreshOnline(env, entities.map((entityId) => ({ group, entityId })));
    }
  });
  await discardStatement(env.DB, runId, from, to).run();
}
