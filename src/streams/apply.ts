/**
 * The `events` queue consumer: applies each message's events to every stream feature on its topic
 * (docs/streaming.md).
 *
 * A queue batch costs two D1 round trips:
 * 1. one read: the stream features' fingerprint (so this isolate's copy of their definitions can be
 *    trusted, registry.ts), their watermarks, which event ids were applied already, and the tiles
 *    the events fall into (with those the window values depend on);
 * 2. one transaction — the write path's own batch (ingest/write.ts commitValues) — holding guards
 *    that fail it unless what step 1 read still holds (the same features, the same tiles; an event
 *    id applied meanwhile fails its insert), then the seen event ids, the tile additions, counters,
 *    clock and dead letters, and the window values computed from the tiles read plus this batch's
 *    events (history, latest, and the coalesced KV refresh after the commit).
 * Tiles, seen ids and values commit together or not at all: a redelivered event (same topic and id)
 * never counts twice, and no value is computed from tiles another consumer changed meanwhile (such a
 * transaction fails a guard, and the batch is planned again from a fresh read: optimistic
 * concurrency). If the batch keeps failing, each message is applied in a transaction of its own, so
 * one message that cannot be applied is retried (with backoff) without holding up the others.
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
import { jsonArrayChunks, jsonValueChunks } from "../db/json-rows";
import { deadLetterStatement, storeDeadLetter } from "../jobs/dead-letters";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { advanceClock } from "./clock";
import { EventsMessage, type QueuedEvent } from "./events";
import { fingerprintOf, fingerprintStatement, loadStreamCatalog, streamCatalog, unchangedStatement, type StreamCatalog, type StreamFeature } from "./registry";
import { TileRead, windowRow } from "./values";
import { addToTile, boundariesOfEvent, isLate, mergeTiles, tileEndOf, type Tile } from "./windows";

const backoffSeconds = (attempts: number) => Math.min(300, 2 ** attempts * 5);
/**
 * How far ahead of the Worker's clock an event time may be. One event from a producer whose clock
 * is years off would otherwise move the watermark so far that every later event is late.
 */
export const MAX_FUTURE_MS = 3_600_000;
/** Clock entries a consumer invocation advances after its messages (the cron does the rest). */
const CLOCK_PER_BATCH = 200;
/** Plans of one set of messages before giving up on it (a failed guard means another writer moved first). */
const ATTEMPTS = 3;

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

/** Whether a feature keeps tiles: a window over an aggregation other than `last` (whose value is its newest event's). */
const tiled = (s: StreamSource) => s.aggregation !== "last" && s.tileMs !== null && s.windowMs !== null;

const WATERMARKS = "SELECT feature_id, watermark FROM stream_stats WHERE feature_id IN (SELECT value FROM json_each(?1))";
const SEEN = "SELECT event_id FROM stream_seen WHERE topic = ?1 AND event_id IN (SELECT value FROM json_each(?2))";
// No ON CONFLICT: an id another consumer applied since it was read fails the transaction.
const SEEN_INSERT = "INSERT INTO stream_seen (topic, event_id, seen_at) SELECT ?1, value, ?2 FROM json_each(?3)";

// What a batch adds to its tiles (one row per tile: [entity, tile end, count, sum, min, max]).
const TILE_ADD = `INSERT INTO stream_tiles (feature_id, entity_id, tile_end, count, sum, min, max)
  SELECT ?1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'),
         json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]')
    FROM json_each(?2) AS r WHERE true
  ON CONFLICT (feature_id, entity_id, tile_end) DO UPDATE SET
    count = stream_tiles.count + excluded.count,
    sum = stream_tiles.sum + excluded.sum,
    min = CASE WHEN excluded.min IS NULL THEN stream_tiles.min WHEN stream_tiles.min IS NULL THEN excluded.min ELSE min(stream_tiles.min, excluded.min) END,
    max = CASE WHEN excluded.max IS NULL THEN stream_tiles.max WHEN stream_tiles.max IS NULL THEN excluded.max ELSE max(stream_tiles.max, excluded.max) END`;

const laterOf = (col: string) => `CASE WHEN excluded.${col} IS NULL THEN stream_stats.${col} WHEN stream_stats.${col} IS NULL THEN excluded.${col} ELSE max(stream_stats.${col}, excluded.${col}) END`;
// The rate: events applied in the current minute (minute_start) and in the one before it, so the
// events of the last whole minute can be read without a time series (SQLite evaluates every SET
// expression against the row as it was, so the CASEs read the old minute).
const sameMinute = "excluded.minute_start <= stream_stats.minute_start";
const STATS_UPSERT = `INSERT INTO stream_stats (feature_id, watermark, events, late_events, duplicates, rejected, last_event_time, last_applied_at, minute_start, minute_events, prev_minute_events)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?3, 0)
  ON CONFLICT (feature_id) DO UPDATE SET
    minute_start = max(stream_stats.minute_start, excluded.minute_start),
    minute_events = CASE WHEN ${sameMinute} THEN stream_stats.minute_events + excluded.minute_events ELSE excluded.minute_events END,
    prev_minute_events = CASE WHEN ${sameMinute} THEN stream_stats.prev_minute_events
      WHEN stream_stats.minute_start = excluded.minute_start - 60000 THEN stream_stats.minute_events ELSE 0 END,
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

/** What one feature's events of a plan add up to. */
interface FeaturePlan {
  sf: StreamFeature;
  watermark: number | null;
  lastEventTime: number | null;
  counts: { events: number; late: number; duplicates: number; rejected: number };
  /** entity → tile end → what the events add to that tile. */
  added: Map<string, Map<number, Tile>>;
  /** entity → the first time one of the added tiles leaves the window. */
  clock: Map<string, number>;
}

/**
 * Plans `msgs` (one queue batch, or one message when a batch failed) against what D1 holds and
 * commits them in one transaction — see the file's comment. False, with nothing written, when this
 * isolate's stream features are out of date: read them again and plan again. Messages are planned
 * in order, so the watermark and the first delivery of an id are what applying them one by one
 * would give.
 */
async function applyMessages(env: Bindings, msgs: EventsMessage[], catalog: StreamCatalog, now: number): Promise<boolean> {
  const db = env.DB;
  const featuresOf = (topic: string) => catalog.byTopic.get(topic) ?? [];
  // What each feature reads from each event needs no I/O: the tiles to read are known before reading.
  const readings = msgs.map((msg) => featuresOf(msg.topic).map((sf) => msg.events.map((e) => readEvent(sf.feature, sf.stream, e, msg.arrived))));
  const ids = new Map<string, Set<string>>();
  const reach = new Map<number, { entities: Set<string>; from: number }>();
  msgs.forEach((msg, m) => {
    const features = featuresOf(msg.topic);
    if (features.length === 0) return;
    const topicIds = ids.get(msg.topic) ?? new Set<string>();
    ids.set(msg.topic, topicIds);
    for (const e of msg.events) if (e.id !== undefined) topicIds.add(e.id);
    features.forEach((sf, k) => {
      const s = sf.stream;
      if (!tiled(s)) return;
      const r = reach.get(sf.feature.id) ?? { entities: new Set<string>(), from: Infinity };
      reach.set(sf.feature.id, r);
      for (const x of readings[m]?.[k] ?? []) {
        if ("error" in x) continue;
        r.entities.add(x.entity);
        // The values at the boundaries from the event's tile on need the tiles one window back.
        r.from = Math.min(r.from, tileEndOf(x.t, s.tileMs as number) - (s.windowMs as number));
      }
    });
  });
  const features = [...new Map(msgs.flatMap((msg) => featuresOf(msg.topic)).map((sf) => [sf.feature.id, sf])).values()];

  // 1. One read: the fingerprint, watermarks, ids seen, tiles.
  const tileReads = [...reach].filter(([, r]) => r.entities.size > 0).map(([id, r]) => ({ id, read: new TileRead(id, r.entities, r.from) }));
  const seenReads: { topic: string; statement: D1PreparedStatement }[] = [];
  for (const [topic, set] of ids) for (const chunk of jsonValueChunks(set)) seenReads.push({ topic, statement: db.prepare(SEEN).bind(topic, chunk) });
  const results = await db.batch([
    fingerprintStatement(db),
    db.prepare(WATERMARKS).bind(JSON.stringify(features.map((sf) => sf.feature.id))),
    ...seenReads.map((r) => r.statement),
    ...tileReads.flatMap((t) => t.read.statements(db)),
  ]);
  if (fingerprintOf(results[0] as D1Result) !== catalog.fingerprint) return false;
  const watermarks = new Map(((results[1] as D1Result).results as { feature_id: number; watermark: number | null }[]).map((m) => [m.feature_id, m.watermark]));
  const seen = new Map<string, Set<string>>([...ids.keys()].map((t) => [t, new Set<string>()]));
  let at = 2;
  for (const { topic } of seenReads) for (const row of (results[at++] as D1Result).results as { event_id: string }[]) seen.get(topic)?.add(row.event_id);
  const held = new Map<number, Map<string, Tile[]>>();
  for (const { id, read } of tileReads) {
    held.set(id, read.take(results.slice(at, at + read.size)));
    at += read.size;
  }

  // 2. The plan.
  const plans = new Map<number, FeaturePlan>(
    features.map((sf) => [sf.feature.id, { sf, watermark: watermarks.get(sf.feature.id) ?? null, lastEventTime: null, counts: { events: 0, late: 0, duplicates: 0, rejected: 0 }, added: new Map(), clock: new Map() }]),
  );
  const rows: ValueRow[] = [];
  const deadLetters: D1PreparedStatement[] = [];
  const logs: string[] = [];
  // An id seen before, or earlier in these messages, is a duplicate: its first delivery was committed with its values.
  const firstOfId = new Map<string, Set<string>>([...ids.keys()].map((t) => [t, new Set<string>()]));
  msgs.forEach((msg, m) => {
    const features = featuresOf(msg.topic);
    if (features.length === 0) {
      // The features were deleted after the events were accepted: nothing reads them any more.
      logs.push(`no stream feature reads topic '${msg.topic}' any more: ${msg.events.length} events dropped`);
      return;
    }
    const before = seen.get(msg.topic) as Set<string>;
    const first = firstOfId.get(msg.topic) as Set<string>;
    const fresh = msg.events.map((e) => {
      if (e.id === undefined) return true;
      if (before.has(e.id) || first.has(e.id)) return false;
      first.add(e.id);
      return true;
    });
    features.forEach((sf, k) => {
      const { feature: f, stream: s } = sf;
      const plan = plans.get(f.id) as FeaturePlan;
      const { counts, added, clock } = plan;
      const rejected: { event: QueuedEvent; reason: string }[] = [];
      const late: QueuedEvent[] = [];
      msg.events.forEach((e, i) => {
        const r = readings[m]?.[k]?.[i] as Reading;
        if (!fresh[i]) {
          counts.duplicates++;
          return;
        }
        if ("error" in r || r.t > now + MAX_FUTURE_MS) {
          counts.rejected++;
          rejected.push({ event: e, reason: "error" in r ? r.error : `event time ${new Date(r.t).toISOString()} is more than an hour ahead of the Worker's clock` });
          return;
        }
        if (isLate(r.t, plan.watermark, s.allowedLatenessMs)) {
          counts.late++;
          late.push(e);
          return;
        }
        counts.events++;
        plan.watermark = plan.watermark === null ? r.t : Math.max(plan.watermark, r.t);
        plan.lastEventTime = plan.lastEventTime === null ? r.t : Math.max(plan.lastEventTime, r.t);
        // `last` needs no tiles: its value is the newest event's, written at its time (latest never goes back); with a window, ttl = window expires it.
        if (!tiled(s)) {
          rows.push({ featureId: f.id, entityId: r.entity, ts: msToMicros(r.t), value: r.json });
          return;
        }
        const end = tileEndOf(r.t, s.tileMs as number);
        const tiles = added.get(r.entity) ?? new Map<number, Tile>();
        added.set(r.entity, tiles);
        tiles.set(end, addToTile(tiles.get(end), end, r.v));
        const leave = end + (s.windowMs as number);
        if (leave > now) clock.set(r.entity, Math.min(clock.get(r.entity) ?? Infinity, leave));
      });
      // One dead letter per message and feature, committed with the transaction (a retried message plans them again).
      if (rejected.length > 0) {
        logs.push(`stream feature '${f.name}': ${rejected.length} events of topic '${msg.topic}' rejected (first: ${rejected[0]?.reason}); stored as a dead letter`);
        deadLetters.push(deadLetterStatement(db, "fstore-events", { type: "events", topic: msg.topic, arrived: msg.arrived, events: rejected.map((x) => x.event), feature: f.name, rejected: rejected.map((x) => x.reason) }));
      }
      if (late.length > 0 && s.deadLetterLate) {
        deadLetters.push(deadLetterStatement(db, "fstore-events", { type: "events", topic: msg.topic, arrived: msg.arrived, events: late, feature: f.name, late: true }));
      }
    });
  });

  // The window values at every boundary the added tiles change: the tiles read plus what is added.
  for (const { sf, added } of plans.values()) {
    const s = sf.stream;
    const tilesOf = held.get(sf.feature.id);
    for (const [entity, ends] of added) {
      const merged = new Map((tilesOf?.get(entity) ?? []).map((t) => [t.end, t]));
      for (const [end, t] of ends) {
        const old = merged.get(end);
        merged.set(end, old ? mergeTiles(old, t) : t);
      }
      const tiles = [...merged.values()];
      const boundaries = new Set<number>();
      for (const end of ends.keys()) for (const b of boundariesOfEvent(end, s.windowMs as number, s.tileMs as number, now)) boundaries.add(b);
      for (const b of boundaries) rows.push(windowRow(sf.feature, s, entity, tiles, b));
    }
  }

  // 3. One transaction: the guards, then the stream state, then (commitValues) the values.
  const statements: D1PreparedStatement[] = [unchangedStatement(db, catalog.fingerprint), ...tileReads.flatMap((t) => t.read.guards(db))];
  for (const [topic, set] of firstOfId) for (const chunk of jsonValueChunks(set)) statements.push(db.prepare(SEEN_INSERT).bind(topic, now, chunk));
  statements.push(...deadLetters);
  for (const { sf, watermark, lastEventTime, counts, added, clock } of plans.values()) {
    const id = sf.feature.id;
    const tileRows = [...added].flatMap(([entity, tiles]) => [...tiles.values()].map((t) => [entity, t.end, t.count, t.sum, t.min, t.max]));
    for (const chunk of jsonArrayChunks(tileRows)) statements.push(db.prepare(TILE_ADD).bind(id, chunk));
    for (const chunk of jsonArrayChunks(clock)) statements.push(db.prepare(CLOCK_UPSERT).bind(id, chunk));
    statements.push(db.prepare(STATS_UPSERT).bind(id, watermark, counts.events, counts.late, counts.duplicates, counts.rejected, lastEventTime, counts.events > 0 ? now : null, now - (now % 60_000)));
  }
  if (features.length > 0) {
    // One row per (feature, entity, time): the last one planned, i.e. read after the most events.
    const unique = new Map(rows.map((r) => [`${r.featureId}\u0000${r.entityId}\u0000${r.ts}`, r]));
    const groups = new Map(features.map((sf) => [sf.feature.id, sf.feature.featureGroup]));
    await commitValues(env, [...unique.values()], (id) => groups.get(id) as string, statements);
  }
  for (const line of logs) console.error(line);
  return true;
}

/**
 * Applies `msgs`, planning them again from a fresh read when the stream features or the tiles moved
 * meanwhile; throws the last failure after ATTEMPTS plans.
 */
async function applyPlanning(env: Bindings, msgs: EventsMessage[], now: number): Promise<void> {
  let catalog = await streamCatalog(env.DB);
  for (let attempt = 1; ; attempt++) {
    let failure: unknown = new Error("the stream features kept changing while the events were applied");
    try {
      if (await applyMessages(env, msgs, catalog, now)) return;
      catalog = await loadStreamCatalog(env.DB);
    } catch (err) {
      failure = err;
    }
    if (attempt >= ATTEMPTS) throw failure;
  }
}

/** How often at most one isolate's consumer advances the clock while events flow (the cron does it every minute anyway). */
const CLOCK_EVERY_MS = 1000;
let clockAdvancedAt = 0;

/**
 * The consumer of `fstore-events`. All messages of a batch are applied in one transaction; if that
 * keeps failing, each message is applied on its own, so one message that cannot be applied is
 * retried (with backoff) without holding up the others.
 */
export async function consumeEvents(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const now = Date.now();
  const parsed: { message: Message; msg: EventsMessage }[] = [];
  for (const message of batch.messages) {
    const result = EventsMessage.safeParse(message.body);
    if (result.success) {
      parsed.push({ message, msg: result.data });
      continue;
    }
    // Retrying cannot fix a malformed message: keep it where it can be seen.
    console.error(`malformed message ${message.id} on ${batch.queue}: stored as a dead letter`);
    try {
      await storeDeadLetter(env, "fstore-events", message.body);
      message.ack();
    } catch {
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
  const failed = ({ message, msg }: (typeof parsed)[number], err: unknown) => {
    console.error(`events message ${message.id} (topic '${msg.topic}') failed, retrying: ${(err as Error).message}`);
    message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  };
  if (parsed.length > 0) {
    try {
      await applyPlanning(env, parsed.map((p) => p.msg), now);
      for (const p of parsed) p.message.ack();
    } catch (err) {
      if (parsed.length === 1) failed(parsed[0] as (typeof parsed)[number], err);
      else {
        // Nothing of the batch committed: each message on its own, so one that fails holds up no other.
        console.error(`applying a batch of ${parsed.length} events messages failed, applying them one by one: ${(err as Error).message}`);
        for (const p of parsed) {
          try {
            await applyPlanning(env, [p.msg], now);
            p.message.ack();
          } catch (err) {
            failed(p, err);
          }
        }
      }
    }
  }
  const at = Date.now();
  if (at - clockAdvancedAt < CLOCK_EVERY_MS && at >= clockAdvancedAt) return;
  clockAdvancedAt = at;
  try {
    await advanceClock(env, at, CLOCK_PER_BATCH);
  } catch (err) {
    console.error(`advancing the stream clock failed (the cron retries): ${(err as Error).message}`);
  }
}
