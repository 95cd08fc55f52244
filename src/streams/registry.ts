/**
 * Which stream features read a topic, and the streams as the bridges see them
 * (`GET /api/v1/streams`): one entry per (connector, topic) with the features on it, the connector's
 * non-secret config and the names of its secret fields (secret values never leave), and counters.
 */
import { drizzle } from "drizzle-orm/d1";
import { asc, eq } from "drizzle-orm";
import { connectors, features, type FeatureRow } from "../db/schema";
import { connectorToJson } from "../registry/connectors";
import { streamSourceOf, type StreamSource } from "../registry/sources";

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

/** The stream features reading `topic` (both shapes of the definition). */
export async function streamFeaturesOf(db: D1Database, topic: string): Promise<StreamFeature[]> {
  const { results } = await db
    .prepare(
      `SELECT name FROM features WHERE source_type = 'stream'
         AND (json_extract(source, '$.stream_config.topic') = ?1 OR (json_extract(source, '$.stream_config.topic') IS NULL AND json_extract(source, '$.topic') = ?1))`,
    )
    .bind(topic)
    .all<{ name: string }>();
  if (results.length === 0) return [];
  const names = new Set(results.map((r) => r.name));
  return (await allStreamFeatures(db)).filter((f) => names.has(f.feature.name) && f.stream.topic === topic);
}

export interface StreamStatsJson {
  events: number;
  late_events: number;
  duplicates: number;
  rejected: number;
  last_event_time: string | null;
  last_applied_at: string | null;
}

interface StatsRow {
  feature_id: number;
  events: number;
  late_events: number;
  duplicates: number;
  rejected: number;
  last_event_time: number | null;
  last_applied_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const emptyStats = (): StatsRow => ({ feature_id: 0, events: 0, late_events: 0, duplicates: 0, rejected: 0, last_event_time: null, last_applied_at: null });
const toJson = (s: StatsRow): StreamStatsJson => ({
  events: s.events,
  late_events: s.late_events,
  duplicates: s.duplicates,
  rejected: s.rejected,
  last_event_time: iso(s.last_event_time),
  last_applied_at: iso(s.last_applied_at),
});

async function statsRows(db: D1Database): Promise<Map<number, StatsRow>> {
  const { results } = await db.prepare("SELECT feature_id, events, late_events, duplicates, rejected, last_event_time, last_applied_at FROM stream_stats").all<StatsRow>();
  return new Map(results.map((r) => [r.feature_id, r]));
}

/** One feature's counters (all zero before its first event). */
export async function streamStatsOf(db: D1Database, featureId: number): Promise<StreamStatsJson> {
  const row = await db
    .prepare("SELECT feature_id, events, late_events, duplicates, rejected, last_event_time, last_applied_at FROM stream_stats WHERE feature_id = ?1")
    .bind(featureId)
    .first<StatsRow>();
  return toJson(row ?? emptyStats());
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** The streams the bridges subscribe to: one entry per (connector, topic). */
export async function listStreams(db: D1Database) {
  const [all, stats, connectorRows] = await Promise.all([allStreamFeatures(db), statsRows(db), drizzle(db).select().from(connectors).all()]);
  const byName = new Map(connectorRows.map((c) => [c.name, c]));
  const entries = new Map<string, { topic: string; connector: string | null; features: string[]; stats: StatsRow }>();
  for (const { feature, stream } of all) {
    const key = JSON.stringify([stream.connector, stream.topic]);
    const entry = entries.get(key) ?? { topic: stream.topic, connector: stream.connector, features: [], stats: emptyStats() };
    entry.features.push(feature.name);
    const s = stats.get(feature.id);
    if (s) {
      entry.stats.events += s.events;
      entry.stats.late_events += s.late_events;
      entry.stats.duplicates += s.duplicates;
      entry.stats.rejected += s.rejected;
      entry.stats.last_event_time = maxOf(entry.stats.last_event_time, s.last_event_time);
      entry.stats.last_applied_at = maxOf(entry.stats.last_applied_at, s.last_applied_at);
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
        stats: toJson(e.stats),
      };
    });
}
