/**
 * The `events` queue consumer: applies each message's events to every stream feature on its topic
 * (docs/streaming.md).
 *
 * Per queue batch, one D1 batch (one transaction) records the event ids of all its messages as seen
 * — with a claim token — and adds the events to their window tiles, each tile update counting only
 * events without an id or whose id this very batch claimed: a redelivered event (same topic and id)
 * never counts twice, and tiles and seen ids commit together or not at all. The same batch moves
 * the features' watermarks and counters, the clock (the next time an entity's value changes by
 * events leaving the window), stores the dead letters, and reads back the tiles whose values must
 * be recomputed. If it fails, each message is applied in a transaction of its own, so one message
 * that cannot be applied is retried without holding up the others.
 *
 * Then the values whose windows changed are computed from those tiles and written, once per queue
 * batch, through the one write path (src/ingest: history, latest, the coalesced KV refresh). That
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
import { jsonArrayChunks, jsonValueChunks } from "../db/json-rows";
import { deadLetterStatement, storeDeadLetter } from "../jobs/dead-letters";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { advanceClock } from "./clock";
import { EventsMessage, type QueuedEvent } from "./events";
import { allStreamFeatures, type StreamFeature } from "./registry";
import { tilesByEntity, tilesStatements, windowRow } from "./values";
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
  tileRows: [string, number, number | null, string | null][];
  clock: Map<string, number>;
}

/**
 * Applies messages (one queue batch, or one message when a batch failed) in one D1 transaction —
 * seen ids, tiles, counters, clock, and the dead letters of their rejected and late events — and
 * returns the value rows to write: `last` values at their event time, and window values at every
 * boundary the touched tiles changed, read from the tiles inside the same transaction. Two round
 * trips whatever the number of messages: one reading the ids already seen and the watermarks, one
 * transaction. Messages are planned in order, so the watermark and the first delivery of an id are
 * what applying them one by one would give.
 */
async function applyMessages(env: Bindings, msgs: EventsMessage[], featuresOf: (topic: string) => StreamFeature[], now: number): Promise<ValueRow[]> {
  const db = env.DB;
  const topics = new Map<string, Set<string>>();
  for (const msg of msgs) {
    const ids = topics.get(msg.topic) ?? new Set<string>();
    topics.set(msg.topic, ids);
    for (const e of msg.events) if (e.id !== undefined) ids.add(e.id);
  }
  const features = [...topics.keys()].flatMap(featuresOf);
  const reads: D1PreparedStatement[] = [
    db.prepare("SELECT feature_id, watermark FROM stream_stats WHERE feature_id IN (SELECT value FROM json_each(?1))").bind(JSON.stringify(features.map((f) => f.feature.id))),
  ];
  const readTopics: string[] = [];
  for (const [topic, ids] of topics) {
    for (const chunk of jsonValueChunks(ids)) {
      reads.push(db.prepare("SELECT event_id FROM stream_seen WHERE topic = ?1 AND event_id IN (SELECT value FROM json_each(?2))").bind(topic, chunk));
      readTopics.push(topic);
    }
  }
  const [marks, ...seenReads] = await db.batch(reads);
  const seen = new Map<string, Set<string>>([...topics.keys()].map((t) => [t, new Set<string>()]));
  seenReads.forEach((r, i) => {
    for (const row of r.results as { event_id: string }[]) seen.get(readTopics[i] as string)?.add(row.event_id);
  });
  const watermarks = new Map((marks?.results as { feature_id: number; watermark: number | null }[]).map((m) => [m.feature_id, m.watermark]));
  const plans = new Map<number, FeaturePlan>(
    features.map((sf) => [sf.feature.id, { sf, watermark: watermarks.get(sf.feature.id) ?? null, lastEventTime: null, counts: { events: 0, late: 0, duplicates: 0, rejected: 0 }, tileRows: [], clock: new Map() }]),
  );

  const touched: Touched = new Map();
  const lastRows: ValueRow[] = [];
  const deadLetters: D1PreparedStatement[] = [];
  const logs: string[] = [];
  // An id seen before, or earlier in these messages, is a duplicate.
  const firstOfId = new Map<string, Set<string>>([...topics.keys()].map((t) => [t, new Set<string>()]));
  for (const msg of msgs) {
    const before = seen.get(msg.topic) as Set<string>;
    const first = firstOfId.get(msg.topic) as Set<string>;
    const fresh = msg.events.map((e) => {
      if (e.id === undefined) return true;
      if (before.has(e.id) || first.has(e.id)) return false;
      first.add(e.id);
      return true;
    });
    for (const sf of featuresOf(msg.topic)) {
      const { feature: f, stream: s } = sf;
      const plan = plans.get(f.id) as FeaturePlan;
      const { counts, tileRows, clock } = plan;
      const rejected: { event: QueuedEvent; reason: string }[] = [];
      const late: QueuedEvent[] = [];
      msg.events.forEach((e, i) => {
        const r = readEvent(f, s, e, msg.arrived);
        if (!fresh[i]) {
          counts.duplicates++;
          // Recomputed again: the message may be retried because the values of its first delivery were not written.
          if ("error" in r) return;
          if (s.aggregation === "last" || s.tileMs === null) lastRows.push({ featureId: f.id, entityId: r.entity, ts: msToMicros(r.t), value: r.json });
          else touch(touched, sf, r.entity, tileEndOf(r.t, s.tileMs));
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
        if (s.aggregation === "last" || s.tileMs === null || s.windowMs === null) {
          lastRows.push({ featureId: f.id, entityId: r.entity, ts: msToMicros(r.t), value: r.json });
          return;
        }
        const end = tileEndOf(r.t, s.tileMs);
        tileRows.push([r.entity, end, r.v, e.id ?? null]);
        touch(touched, sf, r.entity, end);
        const leave = end + s.windowMs;
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
    }
  }

  const claim = crypto.randomUUID();
  const statements: D1PreparedStatement[] = [...deadLetters];
  for (const [topic, ids] of firstOfId) {
    for (const chunk of jsonValueChunks(ids)) {
      statements.push(db.prepare("INSERT INTO stream_seen (topic, event_id, claim, seen_at) SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true ON CONFLICT DO NOTHING").bind(topic, claim, now, chunk));
    }
  }
  for (const { sf, watermark, lastEventTime, counts, tileRows, clock } of plans.values()) {
    const id = sf.feature.id;
    for (const chunk of jsonArrayChunks(tileRows)) statements.push(db.prepare(TILE_UPSERT).bind(id, chunk, sf.stream.topic, claim));
    for (const chunk of jsonArrayChunks(clock)) statements.push(db.prepare(CLOCK_UPSERT).bind(id, chunk));
    statements.push(db.prepare(STATS_UPSERT).bind(id, watermark, counts.events, counts.late, counts.duplicates, counts.rejected, lastEventTime, counts.events > 0 ? now : null, now - (now % 60_000)));
  }
  // The tiles the values are recomputed from, read inside the same transaction: what it committed.
  const tileReads: { sf: StreamFeature; entities: Map<string, Set<number>>; from: number; to: number }[] = [];
  for (const { sf, entities } of touched.values()) {
    const { windowMs, tileMs, aggregation } = sf.stream;
    if (windowMs === null || tileMs === null || aggregation === "last") continue;
    const minEnd = Math.min(...[...entities.values()].flatMap((ends) => [...ends]));
    const reads = tilesStatements(db, sf.feature.id, entities.keys(), minEnd - windowMs);
    tileReads.push({ sf, entities, from: statements.length, to: statements.length + reads.length });
    statements.push(...reads);
  }
  const results = await db.batch(statements);
  for (const line of logs) console.error(line);

  const rows = lastRows;
  for (const { sf, entities, from, to } of tileReads) {
    const { feature: f, stream: s } = sf;
    const tiles = new Map<string, Tile[]>();
    for (const r of results.slice(from, to)) tilesByEntity(r.results, tiles);
    for (const [entity, ends] of entities) {
      const mine = tiles.get(entity) ?? [];
      const boundaries = new Set<number>();
      for (const end of ends) for (const b of boundariesOfEvent(end, s.windowMs as number, s.tileMs as number, now)) boundaries.add(b);
      for (const b of boundaries) rows.push(windowRow(f, s, entity, mine, b));
    }
  }
  return rows;
}

/** How often at most one isolate's consumer advances the clock while events flow (the cron does it every minute anyway). */
const CLOCK_EVERY_MS = 1000;
let clockAdvancedAt = 0;

/**
 * The consumer of `fstore-events`. All messages of a batch are applied in one transaction; if that
 * fails, each message is applied on its own, so one message that cannot be applied is retried
 * (with backoff) without holding up the others. The values are written once per batch.
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
  const retry = (m: Message) => m.retry({ delaySeconds: backoffSeconds(m.attempts) });
  let byTopic = new Map<string, StreamFeature[]>();
  if (parsed.length > 0) {
    try {
      const all = await allStreamFeatures(env.DB);
      byTopic = new Map([...new Set(parsed.map((p) => p.msg.topic))].map((topic) => [topic, all.filter((sf) => sf.stream.topic === topic)]));
    } catch (err) {
      console.error(`reading the stream features failed, retrying ${parsed.length} events messages: ${(err as Error).message}`);
      parsed.forEach((p) => retry(p.message));
      parsed.length = 0;
    }
  }
  const featuresOf = (topic: string) => byTopic.get(topic) ?? [];
  const pending = parsed.filter(({ message, msg }) => {
    if (featuresOf(msg.topic).length > 0) return true;
    // The features were deleted after the events were accepted: nothing reads them any more.
    console.warn(`no stream feature reads topic '${msg.topic}' any more: ${msg.events.length} events dropped`);
    message.ack();
    return false;
  });

  const rows: ValueRow[] = [];
  const applied: Message[] = [];
  if (pending.length > 0) {
    try {
      rows.push(...(await applyMessages(env, pending.map((p) => p.msg), featuresOf, now)));
      applied.push(...pending.map((p) => p.message));
    } catch (err) {
      if (pending.length === 1) {
        const { message, msg } = pending[0] as (typeof pending)[number];
        console.error(`events message ${message.id} (topic '${msg.topic}') failed, retrying: ${(err as Error).message}`);
        retry(message);
      } else {
        // Nothing of the batch committed: each message on its own, so one that fails holds up no other.
        console.error(`applying a batch of ${pending.length} events messages failed, applying them one by one: ${(err as Error).message}`);
        for (const { message, msg } of pending) {
          try {
            rows.push(...(await applyMessages(env, [msg], featuresOf, now)));
            applied.push(message);
          } catch (err) {
            console.error(`events message ${message.id} (topic '${msg.topic}') failed, retrying: ${(err as Error).message}`);
            retry(message);
          }
        }
      }
    }
  }
  if (applied.length > 0) {
    try {
      // One row per (feature, entity, time): the last one planned, i.e. read after the most events.
      const unique = new Map(rows.map((r) => [`${r.featureId}\u0000${r.entityId}\u0000${r.ts}`, r]));
      const groups = new Map([...byTopic.values()].flat().map((sf) => [sf.feature.id, sf.feature.featureGroup]));
      await commitValues(env, [...unique.values()], (id) => groups.get(id) as string);
      for (const m of applied) m.ack();
    } catch (err) {
      console.error(`writing the window values of ${applied.length} events messages failed, retrying them: ${(err as Error).message}`);
      for (const m of applied) retry(m);
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
