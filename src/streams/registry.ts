/**
 * Which stream features read a topic, and the streams as the bridges see them
 * (`GET /api/v1/streams`): one entry per (connector, topic) with the features on it, the connector's
 * non-secret config and the names of its secret fields (secret values never leave), and counters.
 */
import { drizzle } from "drizzle-orm/d1";
import { asc, eq } from "drizzle-orm";
import { connectors, features, type FeatureRow } from "../db/schema";
import { connectorToJson } from "../registry/connectors";
import { refOf, sharedNames } from "../registry/refs";
import { streamSourceOf, type StreamSource } from "../registry/sources";
import { failWhen } from "../db/guard";

export interface StreamFeature {
  feature: FeatureRow;
  stream: StreamSource;
}

/** Every stream feature whose definition is usable, with its normalised source. */
export async function allStreamFeatures(db: D1Database): Promise<StreamFeature[]> {
  const rows = await drizzle(db).select().from(features).where(eq(features.sourceType, "stream")).orderBy(asc(features.name)).all();
  return rows.flatMap((feature) => {
    const stream = streamSourceOf(feature.source, feature.valueType);
    return Array.isArray(stream) ? [] : [{ feature, stream }];
  });
}

/**
 * What the stream features are, in a few bytes: their ids and update times. A feature's updated_at
 * only ever grows (registry/features.ts bumps it on every change) and ids are never reused, so the
 * same fingerprint means the same stream features with the same definitions.
 */
const FINGERPRINT = `SELECT coalesce(group_concat(x, ','), '') AS fingerprint
  FROM (SELECT id || ':' || updated_at AS x FROM features WHERE source_type = 'stream' ORDER BY id)`;

/** A statement reading the stream features' fingerprint (read it with fingerprintOf). */
export const fingerprintStatement = (db: D1Database) => db.prepare(FINGERPRINT);
export const fingerprintOf = (result: D1Result) => (result.results[0] as { fingerprint: string } | undefined)?.fingerprint ?? "";

/** A statement that fails its batch — so nothing of it is written — unless the stream features still have `fingerprint`. */
export const unchangedStatement = (db: D1Database, fingerprint: string) => failWhen(db, `(${FINGERPRINT}) <> ?1`, fingerprint);

/** The stream features as one isolate knows them, and their fingerprint when they were read. */
export interface StreamCatalog {
  fingerprint: string;
  all: StreamFeature[];
  byTopic: Map<string, StreamFeature[]>;
  loadedAt: number;
}

let cached: StreamCatalog | null = null;

/**
 * The stream features, read fresh: the fingerprint first, so a change made between the two reads
 * leaves a fingerprint older than the features — the next check sees a difference and reads again,
 * never the other way round.
 */
export async function loadStreamCatalog(db: D1Database): Promise<StreamCatalog> {
  const fingerprint = fingerprintOf(await fingerprintStatement(db).all());
  const all = await allStreamFeatures(db);
  const byTopic = new Map<string, StreamFeature[]>();
  for (const sf of all) {
    const onTopic = byTopic.get(sf.stream.topic);
    if (onTopic) onTopic.push(sf);
    else byTopic.set(sf.stream.topic, [sf]);
  }
  cached = { fingerprint, all, byTopic, loadedAt: Date.now() };
  return cached;
}

/**
 * The stream features as this isolate last read them (loading them when it has none). Its users
 * check the fingerprint in their own D1 batches (the events consumer) or accept an answer up to
 * `maxAgeMs` old (the events endpoint): no round trip for the registry on the hot paths.
 */
export async function streamCatalog(db: D1Database, maxAgeMs = Infinity): Promise<StreamCatalog> {
  const age = cached ? Date.now() - cached.loadedAt : Infinity;
  return cached && age >= 0 && age <= maxAgeMs ? cached : loadStreamCatalog(db);
}

/** How old an answer of the events endpoint about a topic's features may be (a feature created since is seen at once: a miss reads again). */
const ENDPOINT_CATALOG_MS = 5_000;

/**
 * The stream features reading `topic`. A topic this isolate saw read in the last few seconds is
 * taken as still read (events of a topic whose features were deleted meanwhile are dropped by the
 * consumer, as events accepted just before a delete are); any other topic is looked up afresh.
 */
export async function streamFeaturesOf(db: D1Database, topic: string): Promise<StreamFeature[]> {
  const known = (await streamCatalog(db, ENDPOINT_CATALOG_MS)).byTopic.get(topic);
  if (known) return known;
  return (await loadStreamCatalog(db)).byTopic.get(topic) ?? [];
}

export interface StreamStatsJson {
  events: number;
  late_events: number;
  duplicates: number;
  rejected: number;
  last_event_time: string | null;
  last_applied_at: string | null;
  /** Events applied in the last whole minute (the rate: divide by 60 for events/s). */
  events_last_minute: number;
}

interface StatsRow {
  feature_id: number;
  events: number;
  late_events: number;
  duplicates: number;
  rejected: number;
  last_event_time: number | null;
  last_applied_at: number | null;
  minute_start: number;
  minute_events: number;
  prev_minute_events: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const emptyStats = (): StatsRow => ({
  feature_id: 0,
  events: 0,
  late_events: 0,
  duplicates: 0,
  rejected: 0,
  last_event_time: null,
  last_applied_at: null,
  minute_start: 0,
  minute_events: 0,
  prev_minute_events: 0,
});

/** Events applied in the last whole minute before `now`, from the two minute counters. */
function lastMinute(s: StatsRow, now: number): number {
  const current = now - (now % 60_000);
  if (s.minute_start === current) return s.prev_minute_events;
  return s.minute_start === current - 60_000 ? s.minute_events : 0;
}

const toJson = (s: StatsRow, now: number): StreamStatsJson => ({
  events: s.events,
  late_events: s.late_events,
  duplicates: s.duplicates,
  rejected: s.rejected,
  last_event_time: iso(s.last_event_time),
  last_applied_at: iso(s.last_applied_at),
  events_last_minute: lastMinute(s, now),
});

async function statsRows(db: D1Database): Promise<Map<number, StatsRow>> {
  const { results } = await db.prepare("SELECT feature_id, events, late_events, duplicates, rejected, last_event_time, last_applied_at, minute_start, minute_events, prev_minute_events FROM stream_stats").all<StatsRow>();
  return new Map(results.map((r) => [r.feature_id, r]));
}

/** One feature's counters (all zero before its first event). */
export async function streamStatsOf(db: D1Database, featureId: number): Promise<StreamStatsJson> {
  const row = await db
    .prepare("SELECT feature_id, events, late_events, duplicates, rejected, last_event_time, last_applied_at, minute_start, minute_events, prev_minute_events FROM stream_stats WHERE feature_id = ?1")
    .bind(featureId)
    .first<StatsRow>();
  return toJson(row ?? emptyStats(), Date.now());
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** The streams the bridges subscribe to: one entry per (connector, topic). */
export async function listStreams(db: D1Database) {
  const [all, stats, connectorRows] = await Promise.all([allStreamFeatures(db), statsRows(db), drizzle(db).select().from(connectors).all()]);
  const shared = await sharedNames(db, [...new Set(all.map((f) => f.feature.name))]);
  const byName = new Map(connectorRows.map((c) => [c.name, c]));
  const now = Date.now();
  const entries = new Map<string, { topic: string; connector: string | null; features: string[]; stats: StatsRow; lastMinute: number }>();
  for (const { feature, stream } of all) {
    const key = JSON.stringify([stream.connector, stream.topic]);
    const entry = entries.get(key) ?? { topic: stream.topic, connector: stream.connector, features: [], stats: emptyStats(), lastMinute: 0 };
    entry.features.push(refOf(feature, shared.has(feature.name)));
    const s = stats.get(feature.id);
    if (s) {
      entry.stats.events += s.events;
      entry.stats.late_events += s.late_events;
      entry.stats.duplicates += s.duplicates;
      entry.stats.rejected += s.rejected;
      entry.stats.last_event_time = maxOf(entry.stats.last_event_time, s.last_event_time);
      entry.stats.last_applied_at = maxOf(entry.stats.last_applied_at, s.last_applied_at);
      entry.lastMinute += lastMinute(s, now);
    }
    entries.set(key, entry);
  }
  return [...entries.values()]
    .sort((a, b) => a.topic.localeCompare(b.topic) || (a.connector ?? "").localeCompare(b.connector ?? ""))
    .map((e) => {
      const row = e.connector === null ? undefined : byName.get(e.connector);
      const connector = row ? connectorToJson(row) : undefined;
      return {
        topic: e.topic,
        connector: connector ? { name: connector.name, type: connector.type, config: connector.config, secret_fields: connector.secret_fields } : null,
        features: e.features,
        stats: { ...toJson(e.stats, now), events_last_minute: e.lastMinute },
      };
    });
}

/** Per stream feature: its ref, how it reads its stream and its counters (the dashboard's Streams page). */
export async function streamFeatureStats(db: D1Database) {
  const [all, stats] = await Promise.all([allStreamFeatures(db), statsRows(db)]);
  const shared = await sharedNames(db, [...new Set(all.map((f) => f.feature.name))]);
  const now = Date.now();
  return all.map(({ feature, stream }) => ({
    ref: refOf(feature, shared.has(feature.name)),
    group: feature.featureGroup,
    stream,
    stats: toJson(stats.get(feature.id) ?? emptyStats(), now),
  }));
}
