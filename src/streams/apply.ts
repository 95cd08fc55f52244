/**
 * The `events` queue consumer: applies each message's events to every stream feature on its topic
 * (docs/streaming.md).
 *
 * Per message, one D1 batch (one transaction) records the event ids as seen — with a claim token —
 * and adds the events to their window tiles, each tile update counting only events without an id
 * or whose id this very batch claimed: a redelivered event (same topic and id) never counts twice,
 * and tiles and seen ids commit together or not at all. The same batch moves the feature's
 * watermark and counters, and the clock (the next time an entity's value changes by events leaving
 * the window).
 *
 * Then, once per queue batch, the values whose windows changed are recomputed from the tiles and
 * written through the one write path (src/ingest: history, latest, the coalesced KV refresh). That
 * step is idempotent, so a message is acked only after it; if it fails the messages are retried and
 * their recomputation redone (their events, already seen, are counted as duplicates, not again).
 *
 * A deterministic bad event (no entity, a value the aggregation cannot use) is `rejected`: counted
 * and stored as a dead letter, without holding up the rest of its message. Events older than the
 * watermark minus allowed_lateness are `late`: counted, not applied, dead-lettered when
 * `dead_letter_late` is set. Any other failure retries the message with backoff; Queues moves a
 * message that fails every retry to the dead-letter queue.
 */
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { entityCell, RowError, timestampCell, valueCell } from "../ingest/shape";
import type { ValueRow } from "../ingest/sql";
import { commitValues } from "../ingest/write";
import { storeDeadLetter } from "../jobs/dead-letters";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { advanceClock } from "./clock";
import { EventsMessage, type QueuedEvent } from "./events";
import { streamFeaturesOf, type StreamFeature } from "./registry";
import { loadTiles, windowRow } from "./values";
import { boundariesOfEvent, isLate, tileEndOf, type Tile } from "./windows";

const backoffSeconds = (attempts: number) => Math.min(300, 2 ** attempts * 5);
/**
 * How far ahead of the Worker's clock an event time may be. One event from a producer whose clock
 * is years off would otherwise move the watermark so far that every later event is late.
 */
export const MAX_FUTURE_MS = 3_600_000;
/** Clock entries a consumer invocation advances after its messages (the cron does the rest). */
const CLOCK_PER_BATCH = 200;

/** What one feature reads from one event. */
type Reading = { entity: string; t: number; v: number | null; json: string } | { error: string };

/** Follows a dot path into a payload; undefined where it leads nowhere. */
export function atPath(payload: unknown, path: string): unknown {
  let v = payload;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) && /^\d+$/.test(part) ? v[Number(part)] : (v as Record<string, unknown>)[part];
  }
  return v;
}

/** The entity, event time (ms), and value an event has for a feature, or why it has none. */
export function readEvent(f: FeatureRow, s: StreamSource, e: QueuedEvent, arrived: number): Reading {
  try {
    const entityRaw = s.entityField === null ? e.key : atPath(e.value, s.entityField);
    if (entityRaw === undefined || entityRaw === null) return { error: s.entityField === null ? "the record has no key (and the feature sets no entity_field)" : `the payload has no '${s.entityField}' (entity_field)` };
    const entity = entityCell(entityRaw);
    let t = e.ts ?? arrived;
    if (s.timestampField !== null) {
      const raw = atPath(e.value, s.timestampField);
      if (raw === undefined || raw === null) return { error: `the payload has no '${s.timestampField}' (timestamp_field)` };
      t = Number(timestampCell(raw) / 1000n);
    }
    const raw = s.valueField === null ? e.value : atPath(e.value, s.valueField);
    if (s.aggregation === "count") return { entity, t, v: null, json: "null" };
    if (raw === undefined) return { error: `the payload has no '${s.valueField}' (value_field)` };
    if (s.aggregation === "last") return { entity, t, v: null, json: valueCell(f.valueType, raw) };
    const json = valueCell(f.valueType, raw);
    const v = JSON.parse(json) as unknown;
    if (typeof v !== "number") return { error: `aggregation '${s.aggregation}' needs a number, got ${v === null ? "null" : typeof v}` };
    return { entity, t, v, json };
  } catch (err) {
    if (err instanceof RowError) return { error: `${err.role}: ${err.message}` };
    throw err;
  }
}

/** (feature id, entity) → tile ends whose values must be recomputed. */
type Touched = Map<number, { sf: StreamFeature; entities: Map<string, Set<number>> }>;

function touch(touched: Touched, sf: StreamFeature, entity: string, end: number): void {
  const f = touched.get(sf.feature.id) ?? { sf, entities: new Map<string, Set<number>>() };
  touched.set(sf.feature.id, f);
  const ends = f.entities.get(entity) ?? new Set<number>();
  f.entities.set(entity, ends);
  ends.add(end);
}

const TILE_UPSERT = `INSERT INTO stream_tiles (feature_id, entity_id, tile_end, count, sum, min, max)
  SELECT ?1, json_extract(r.value, '$[0]') AS e, json_extract(r.value, '$[1]') AS t, count(*), total(json_extract(r.value, '$[2]')),
         min(json_extract(r.value, '$[2]')), max(json_extract(r.value, '$[2]'))
    FROM json_each(?2) AS r
   WHERE json_extract(r.value, '$[3]') IS NULL
      OR EXISTS (SELECT 1 FROM stream_seen s WHERE s.topic = ?3 AND s.event_id = json_extract(r.value, '$[3]') AND s.claim = ?4)
   GROUP BY e, t
  ON CONFLICT (feature_id, entity_id, tile_end) DO UPDATE SET
    count = stream_tiles.count + excluded.count,
    sum = stream_tiles.sum + excluded.sum,
    min = CASE WHEN excluded.min IS NULL THEN stream_tiles.min WHEN stream_tiles.min IS NULL THEN excluded.min ELSE min(stream_tiles.min, excluded.min) END,
    max = CASE WHEN excluded.max IS NULL THEN stream_tiles.max WHEN stream_tiles.max IS NULL THEN excluded.max ELSE max(stream_tiles.max, excluded.max) END`;

const laterOf = (col: string) => `CASE WHEN excluded.${col} IS NULL THEN stream_stats.${col} WHEN stream_stats.${col} IS NULL THEN excluded.${col} ELSE max(stream_stats.${col}, excluded.${col}) END`;
const STATS_UPSERT = `INSERT INTO stream_stats (feature_id, watermark, events, late_events, duplicates, rejected, last_event_time, last_applied_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
  ON CONFLICT (feature_id) DO UPDATE SET
    watermark = ${laterOf("watermark")},
    events = stream_stats.events + excluded.events,
    late_events = stream_stats.late_events + excluded.late_events,
    duplicates = stream_stats.duplicates + excluded.duplicates,
    rejected = stream_stats.rejected + excluded.rejected,
    last_event_time = ${laterOf("last_event_time")},
    last_applied_at = coalesce(excluded.last_applied_at, stream_stats.last_applied_at)`;

const CLOCK_UPSERT = `INSERT INTO stream_clock (feature_id, entity_id, next_change_at)
  SELECT ?1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]') FROM json_each(?2) AS r WHERE true
  ON CONFLICT (feature_id, entity_id) DO UPDATE SET next_change_at = min(stream_clock.next_change_at, excluded.next_change_at)`;

interface Applied {
  /** Values of `last` features, written at their event time. */
  lastRows: ValueRow[];
}

/**
 * Applies one message's events (one D1 transaction for tiles, seen ids, counters and clock) and
 * records which values must be recomputed. Dead letters for rejected and late events are stored
 * before the transaction, so a failure after it retries the message and never loses them.
 */
async function applyMessage(env: Bindings, msg: EventsMessage, features: StreamFeature[], now: number, touched: Touched, out: Applied): Promise<void> {
  const db = env.DB;
  const ids = [...new Set(msg.events.flatMap((e) => (e.id === undefined ? [] : [e.id])))];
  const seen = new Set<string>();
  if (ids.length > 0) {
    const { results } = await db
      .prepare("SELECT event_id FROM stream_seen WHERE topic = ?1 AND event_id IN (SELECT value FROM json_each(?2))")
      .bind(msg.topic, JSON.stringify(ids))
      .all<{ event_id: string }>();
    for (const r of results) seen.add(r.event_id);
  }
  // An id seen before, or earlier in this message, is a duplicate.
  const firstOfId = new Set<string>();
  const fresh = msg.events.map((e) => {
    if (e.id === undefined) return true;
    if (seen.has(e.id) || firstOfId.has(e.id)) return false;
    firstOfId.add(e.id);
    return true;
  });
  const { results: marks } = await db
    .prepare("SELECT feature_id, watermark FROM stream_stats WHERE feature_id IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify(features.map((f) => f.feature.id)))
    .all<{ feature_id: number; watermark: number | null }>();
  const watermarks = new Map(marks.map((m) => [m.feature_id, m.watermark]));

  const claim = crypto.randomUUID();
  const statements: D1PreparedStatement[] = [];
  const newIds = [...firstOfId];
  if (newIds.length > 0) {
    statements.push(
      db.prepare("INSERT INTO stream_seen (topic, event_id, claim, seen_at) SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true ON CONFLICT DO NOTHING").bind(msg.topic, claim, now, JSON.stringify(newIds)),
    );
  }
  for (const sf of features) {
    const { feature: f, stream: s } = sf;
    let watermark = watermarks.get(f.id) ?? null;
    let lastEventTime: number | null = null;
    const counts = { events: 0, late: 0, duplicates: 0, rejected: 0 };
    const tileRows: [string, number, number | null, string | null][] = [];
    const clock = new Map<string, number>();
    const rejected: { event: QueuedEvent; reason: string }[] = [];
    const late: QueuedEvent[] = [];
    msg.events.forEach((e, i) => {
      const r = readEvent(f, s, e, msg.arrived);
      if (!fresh[i]) {
        counts.duplicates++;
        // Recomputed again: the message may be retried because the values of its first delivery were not written.
        if ("error" in r) return;
        if (s.aggregation === "last" || s.tileMs === null) out.lastRows.push({ featureId: f.id, entityId: r.entity, ts: msToMicros(r.t), value: r.json });
        else touch(touched, sf, r.entity, tileEndOf(r.t, s.tileMs));
        return;
      }
      if ("error" in r || r.t > now + MAX_FUTURE_MS) {
        counts.rejected++;
        rejected.push({ event: e, reason: "error" in r ? r.error : `event time ${new Date(r.t).toISOString()} is more than an hour ahead of the Worker's clock` });
        return;
      }
      if (isLate(r.t, watermark, s.allowedLatenessMs)) {
        counts.late++;
        late.push(e);
        return;
      }
      counts.events++;
      watermark = watermark === null ? r.t : Math.max(watermark, r.t);
      lastEventTime = lastEventTime === null ? r.t : Math.max(lastEventTime, r.t);
      // `last` needs no tiles: its value is the newest event's, written at its time (latest never goes back); with a window, ttl = window expires it.
      if (s.aggregation === "last" || s.tileMs === null || s.windowMs === null) {
        out.lastRows.push({ featureId: f.id, entityId: r.entity, ts: msToMicros(r.t), value: r.json });
        return;
      }
      const end = tileEndOf(r.t, s.tileMs);
      tileRows.push([r.entity, end, r.v, e.id ?? null]);
      touch(touched, sf, r.entity, end);
      const leave = end + s.windowMs;
      if (leave > now) clock.set(r.entity, Math.min(clock.get(r.entity) ?? Infinity, leave));
    });
    if (rejected.length > 0) {
      console.error(`stream feature '${f.name}': ${rejected.length} events of topic '${msg.topic}' rejected (first: ${rejected[0]?.reason}); stored as a dead letter`);
      await storeDeadLetter(env, "fstore-events", { type: "events", topic: msg.topic, arrived: msg.arrived, events: rejected.map((x) => x.event), feature: f.name, rejected: rejected.map((x) => x.reason) });
    }
    if (late.length > 0 && s.deadLetterLate) {
      await storeDeadLetter(env, "fstore-events", { type: "events", topic: msg.topic, arrived: msg.arrived, events: late, feature: f.name, late: true });
    }
    if (tileRows.length > 0) statements.push(db.prepare(TILE_UPSERT).bind(f.id, JSON.stringify(tileRows), msg.topic, claim));
    if (clock.size > 0) statements.push(db.prepare(CLOCK_UPSERT).bind(f.id, JSON.stringify([...clock])));
    statements.push(
      db.prepare(STATS_UPSERT).bind(f.id, watermark, counts.events, counts.late, counts.duplicates, counts.rejected, lastEventTime, counts.events > 0 ? now : null),
    );
  }
  await db.batch(statements);
}

/** The values at every boundary the touched tiles changed, from the tiles now in D1. */
async function recompute(db: D1Database, touched: Touched, now: number): Promise<ValueRow[]> {
  const rows: ValueRow[] = [];
  for (const { sf, entities } of touched.values()) {
    const { feature: f, stream: s } = sf;
    if (s.windowMs === null || s.tileMs === null || s.aggregation === "last") continue;
    const minEnd = Math.min(...[...entities.values()].flatMap((ends) => [...ends]));
    const tiles = await loadTiles(db, f.id, [...entities.keys()], minEnd - s.windowMs);
    for (const [entity, ends] of entities) {
      const mine: Tile[] = tiles.get(entity) ?? [];
      const boundaries = new Set<number>();
      for (const end of ends) for (const b of boundariesOfEvent(end, s.windowMs, s.tileMs, now)) boundaries.add(b);
      for (const b of boundaries) rows.push(windowRow(f, s, entity, mine, b));
    }
  }
  return rows;
}

/** The consumer of `fstore-events`. */
export async function consumeEvents(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const now = Date.now();
  const byTopic = new Map<string, StreamFeature[]>();
  const touched: Touched = new Map();
  const out: Applied = { lastRows: [] };
  const applied: Message[] = [];
  for (const message of batch.messages) {
    const parsed = EventsMessage.safeParse(message.body);
    if (!parsed.success) {
      // Retrying cannot fix a malformed message: keep it where it can be seen.
      console.error(`malformed message ${message.id} on ${batch.queue}: stored as a dead letter`);
      try {
        await storeDeadLetter(env, "fstore-events", message.body);
        message.ack();
      } catch {
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
      continue;
    }
    const msg = parsed.data;
    try {
      let features = byTopic.get(msg.topic);
      if (!features) byTopic.set(msg.topic, (features = await streamFeaturesOf(env.DB, msg.topic)));
      if (features.length === 0) {
        // The features were deleted after the events were accepted: nothing reads them any more.
        console.warn(`no stream feature reads topic '${msg.topic}' any more: ${msg.events.length} events dropped`);
        message.ack();
        continue;
      }
      // What a message touched counts only once its transaction committed.
      const mine: Touched = new Map();
      const rows: Applied = { lastRows: [] };
      await applyMessage(env, msg, features, now, mine, rows);
      for (const { sf, entities } of mine.values()) for (const [entity, ends] of entities) for (const end of ends) touch(touched, sf, entity, end);
      out.lastRows.push(...rows.lastRows);
      applied.push(message);
    } catch (err) {
      console.error(`events message ${message.id} (topic '${msg.topic}') failed, retrying: ${(err as Error).message}`);
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
  if (applied.length > 0) {
    try {
      const rows = [...out.lastRows, ...(await recompute(env.DB, touched, now))];
      const groups = new Map([...byTopic.values()].flat().map((sf) => [sf.feature.id, sf.feature.featureGroup]));
      await commitValues(env, rows, (id) => groups.get(id) as string);
      for (const m of applied) m.ack();
    } catch (err) {
      console.error(`writing the window values of ${applied.length} events messages failed, retrying them: ${(err as Error).message}`);
      for (const m of applied) m.retry({ delaySeconds: backoffSeconds(m.attempts) });
    }
  }
  try {
    await advanceClock(env, Date.now(), CLOCK_PER_BATCH);
  } catch (err) {
    console.error(`advancing the stream clock failed (the cron retries): ${(err as Error).message}`);
  }
}
