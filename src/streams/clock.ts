/**
 * The clock of windowed stream features: a window's value changes when events leave it, though no
 * new event arrives. Each (feature, entity) with events still in a window has a row in
 * `stream_clock` holding the next boundary where a non-empty tile leaves; the cron (every minute)
 * and the events consumer (after each batch) write the values whose time has passed — through the
 * one write path, so history, latest and KV follow — and move the row on (or drop it: nothing left).
 * Resolution: the value online changes within a minute of the boundary (the cron), sooner while
 * events flow (every consumer batch); history holds it at the exact boundary either way.
 * Also here: forgetting tiles no event can reach any more and event ids older than a week.
 */
import type { Bindings } from "../env";
import { commitValues } from "../ingest/write";
import { allStreamFeatures, fingerprintOf, fingerprintStatement, loadStreamCatalog, streamCatalog, unchangedStatement } from "./registry";
import { TileRead, windowRow } from "./values";
import { leaveBoundaries, nextLeave, type Tile } from "./windows";

/** How long event ids are remembered for deduplication (a redelivery later than this counts again). */
export const SEEN_RETENTION_MS = 7 * 86_400_000;
/** Tiles are kept this long past the last time any event or the clock can still need them. */
const TILE_MARGIN_MS = 3_600_000;
const PRUNE_ROWS = 5000;
/** Reads and commits of one advance before leaving the rest to the next one (a failed guard: a consumer moved the tiles first). */
const ATTEMPTS = 3;

const DUE = "SELECT feature_id, entity_id, next_change_at FROM stream_clock WHERE next_change_at <= ?1 ORDER BY next_change_at LIMIT ?2";

/**
 * Writes the values of the (feature, entity) pairs whose next change time has passed (at most
 * `limit` of them, oldest first) and moves their clocks on, in one transaction guarded like the
 * consumer's (apply.ts): it commits only if the stream features and the tiles read are unchanged,
 * so a value is never computed from tiles an events batch changed meanwhile. Returns how many it
 * advanced.
 */
export async function advanceClock(env: Bindings, now: number, limit: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await advanceOnce(env, now, limit);
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
    }
  }
}

async function advanceOnce(env: Bindings, now: number, limit: number): Promise<number> {
  const db = env.DB;
  let catalog = await streamCatalog(db);
  const [dueRead, fingerprint] = await db.batch([db.prepare(DUE).bind(now, limit), fingerprintStatement(db)]);
  const due = (dueRead as D1Result).results as { feature_id: number; entity_id: string; next_change_at: number }[];
  if (due.length === 0) return 0;
  if (fingerprintOf(fingerprint as D1Result) !== catalog.fingerprint) catalog = await loadStreamCatalog(db);
  const features = new Map(catalog.all.map((sf) => [sf.feature.id, sf]));
  const byFeature = new Map<number, typeof due>();
  for (const d of due) byFeature.set(d.feature_id, [...(byFeature.get(d.feature_id) ?? []), d]);
  const windowOf = (featureId: number) => {
    const s = features.get(featureId)?.stream;
    return s && s.windowMs !== null && s.aggregation !== "last" ? s.windowMs : null;
  };
  const reads = new Map<number, TileRead>();
  for (const [featureId, entries] of byFeature) {
    const windowMs = windowOf(featureId);
    if (windowMs === null) continue;
    const from = Math.min(...entries.map((e) => e.next_change_at));
    reads.set(featureId, new TileRead(featureId, entries.map((e) => e.entity_id), from - 2 * windowMs));
  }
  const results = reads.size > 0 ? await db.batch([...reads.values()].flatMap((r) => r.statements(db))) : [];
  let at = 0;
  const rows = [];
  const moves: D1PreparedStatement[] = [];
  for (const [featureId, entries] of byFeature) {
    const sf = features.get(featureId);
    const windowMs = windowOf(featureId);
    const read = reads.get(featureId);
    const tiles = read ? read.take(results.slice(at, (at += read.size))) : new Map<string, Tile[]>();
    for (const e of entries) {
      const mine = tiles.get(e.entity_id) ?? [];
      const next = sf && windowMs !== null ? nextLeave(mine, windowMs, now) : null;
      if (sf && windowMs !== null) for (const b of leaveBoundaries(mine, windowMs, e.next_change_at, now)) rows.push(windowRow(sf.feature, sf.stream, e.entity_id, mine, b));
      // Conditional on the time read: an event that set an earlier time meanwhile keeps it.
      moves.push(
        next === null
          ? db.prepare("DELETE FROM stream_clock WHERE feature_id = ?1 AND entity_id = ?2 AND next_change_at = ?3").bind(featureId, e.entity_id, e.next_change_at)
          : db.prepare("UPDATE stream_clock SET next_change_at = ?4 WHERE feature_id = ?1 AND entity_id = ?2 AND next_change_at = ?3").bind(featureId, e.entity_id, e.next_change_at, next),
      );
    }
  }
  const groups = new Map(catalog.all.map((sf) => [sf.feature.id, sf.feature.featureGroup]));
  // Values and moves together: if this fails the clock has not moved, and the next advance writes them again.
  const guards = [unchangedStatement(db, catalog.fingerprint), ...[...reads.values()].flatMap((r) => r.guards(db))];
  await commitValues(env, rows, (id) => groups.get(id) as string, [...guards, ...moves]);
  return due.length;
}

/**
 * Forgets event ids older than SEEN_RETENTION_MS and tiles no allowed event and no clock entry can
 * reach any more (older than the watermark minus allowed_lateness minus the window, with a margin).
 */
export async function pruneStreamState(db: D1Database, now: number): Promise<void> {
  const statements = [db.prepare("DELETE FROM stream_seen WHERE rowid IN (SELECT rowid FROM stream_seen WHERE seen_at < ?1 LIMIT ?2)").bind(now - SEEN_RETENTION_MS, PRUNE_ROWS)];
  const { results: marks } = await db.prepare("SELECT feature_id, watermark FROM stream_stats WHERE watermark IS NOT NULL").all<{ feature_id: number; watermark: number }>();
  const features = new Map((await allStreamFeatures(db)).map((sf) => [sf.feature.id, sf.stream]));
  for (const { feature_id: id, watermark } of marks) {
    const s = features.get(id);
    if (!s || s.windowMs === null || s.tileMs === null) continue;
    const before = Math.min(now, watermark - s.allowedLatenessMs) - s.windowMs - s.tileMs - TILE_MARGIN_MS;
    statements.push(db.prepare("DELETE FROM stream_tiles WHERE rowid IN (SELECT rowid FROM stream_tiles WHERE feature_id = ?1 AND tile_end < ?2 LIMIT ?3)").bind(id, before, PRUNE_ROWS));
  }
  await db.batch(statements);
}
