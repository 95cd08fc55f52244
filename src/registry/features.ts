/** The feature registry in D1: create, look up, list, change and delete definitions. */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, type FeatureRow, type SourceType } from "../db/schema";
import { ApiError } from "../errors";
import { forgetCatalog } from "../serving/catalog";
import { sourceFieldNames, type FeatureCreateInput, type FeaturePatchInput } from "../schemas/feature";
import { checkSource, sourceTypeOf, streamSourceOf } from "./sources";

type SourceInput = Partial<Pick<FeatureCreateInput, (typeof sourceFieldNames)[number]>>;

function pickSource(input: SourceInput): Record<string, unknown> {
  const source: Record<string, unknown> = {};
  for (const key of sourceFieldNames) if (input[key] !== undefined) source[key] = input[key];
  return source;
}

/** The API shape of a feature: the guide's snake_case fields, `id` = name. */
export function featureToJson(row: FeatureRow) {
  return {
    id: row.name,
    name: row.name,
    description: row.description,
    entity_id: row.entityId,
    feature_group: row.featureGroup,
    value_type: row.valueType,
    ttl: row.ttlSeconds,
    tags: row.tags,
    owner: row.owner,
    source_type: row.sourceType,
    ...row.source,
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}

/**
 * A windowed `last` stream feature reads as expired once its event is older than the window: its
 * ttl defaults to the window (docs/streaming.md#the-clock).
 */
function windowedLastTtl(source: Record<string, unknown>, valueType: FeatureRow["valueType"]): number | null {
  if (sourceTypeOf(source) !== "stream") return null;
  const stream = streamSourceOf(source, valueType);
  return !Array.isArray(stream) && stream.aggregation === "last" && stream.windowMs !== null ? stream.windowMs / 1000 : null;
}

export async function createFeature(d1: D1Database, input: FeatureCreateInput): Promise<FeatureRow> {
  const db = drizzle(d1);
  const group = input.feature_group ?? input.entity_id;
  // A group serves one vector per entity, so all its features must describe the same entity type.
  const sibling = await db.select({ entityId: features.entityId }).from(features).where(eq(features.featureGroup, group)).limit(1).get();
  if (sibling && sibling.entityId !== input.entity_id) {
    throw new ApiError(
      "CONFLICT",
      `feature group '${group}' holds features of entity '${sibling.entityId}', not '${input.entity_id}'; use another feature_group`,
    );
  }
  const source = pickSource(input);
  await checkSource(d1, source, input.value_type);
  const ttl = input.ttl ?? windowedLastTtl(source, input.value_type);
  const now = Date.now();
  const [row] = await db
    .insert(features)
    .values({
      name: input.name,
      description: input.description ?? null,
      entityId: input.entity_id,
      featureGroup: group,
      valueType: input.value_type,
      ttlSeconds: ttl,
      tags: input.tags ?? {},
      owner: input.owner ?? null,
      sourceType: sourceTypeOf(source),
      source,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({ target: features.name })
    .returning();
  if (!row) throw new ApiError("CONFLICT", `feature '${input.name}' already exists`);
  forgetCatalog();
  return row;
}

export async function findFeature(d1: D1Database, name: string): Promise<FeatureRow | undefined> {
  return drizzle(d1).select().from(features).where(eq(features.name, name)).get();
}

export async function getFeature(d1: D1Database, name: string): Promise<FeatureRow> {
  const row = await findFeature(d1, name);
  if (!row) throw new ApiError("FEATURE_NOT_FOUND", `feature '${name}' not found`);
  return row;
}

/** Features by name, in one query; absent names are simply missing from the map. */
export async function findFeatures(d1: D1Database, names: string[]): Promise<Map<string, FeatureRow>> {
  const unique = [...new Set(names)];
  const rows = unique.length
    ? await drizzle(d1)
        .select()
        .from(features)
        .where(inArray(features.name, sql`(SELECT value FROM json_each(${JSON.stringify(unique)}))`))
        .all()
    : [];
  return new Map(rows.map((r) => [r.name, r]));
}

export interface FeatureFilter {
  feature_group?: string;
  entity?: string;
  source_type?: SourceType;
  limit: number;
  cursor?: string;
}

/** One page ordered by name; `nextCursor` is the last name when more may follow. */
export async function listFeatures(d1: D1Database, f: FeatureFilter) {
  const rows = await drizzle(d1)
    .select()
    .from(features)
    .where(
      and(
        f.feature_group ? eq(features.featureGroup, f.feature_group) : undefined,
        f.entity ? eq(features.entityId, f.entity) : undefined,
        f.source_type ? eq(features.sourceType, f.source_type) : undefined,
        f.cursor ? gt(features.name, f.cursor) : undefined,
      ),
    )
    .orderBy(asc(features.name))
    .limit(f.limit + 1)
    .all();
  const page = rows.slice(0, f.limit);
  return { rows: page, nextCursor: rows.length > f.limit ? (page.at(-1)?.name ?? null) : null };
}

export async function updateFeature(d1: D1Database, current: FeatureRow, patch: FeaturePatchInput): Promise<FeatureRow> {
  const source = { ...current.source, ...pickSource(patch) };
  await checkSource(d1, source, current.valueType);
  const [row] = await drizzle(d1)
    .update(features)
    .set({
      description: patch.description ?? current.description,
      ttlSeconds: patch.ttl === undefined ? current.ttlSeconds : patch.ttl,
      tags: patch.tags ?? current.tags,
      owner: patch.owner ?? current.owner,
      source,
      sourceType: sourceTypeOf(source),
      updatedAt: Date.now(),
    })
    .where(eq(features.id, current.id))
    .returning();
  if (!row) throw new ApiError("FEATURE_NOT_FOUND", `feature '${current.name}' not found`);
  if (readsStreamDifferently(current, row)) {
    // Tiles hold what the old definition read, cut as it cut time: its windows start again empty.
    await d1.batch(["stream_tiles", "stream_clock"].map((table) => d1.prepare(`DELETE FROM ${table} WHERE feature_id = ?1`).bind(row.id)));
  }
  forgetCatalog();
  return row;
}

/** Whether a change of definition changes what a stream feature's window tiles hold. */
function readsStreamDifferently(before: FeatureRow, after: FeatureRow): boolean {
  if (before.sourceType !== "stream") return false;
  const a = streamSourceOf(before.source, before.valueType);
  const b = after.sourceType === "stream" ? streamSourceOf(after.source, after.valueType) : null;
  if (Array.isArray(a) || b === null || Array.isArray(b)) return true;
  const keys = ["topic", "valueField", "entityField", "timestampField", "windowMs", "tileMs"] as const;
  return keys.some((k) => a[k] !== b[k]);
}

/** Deletes the definition; its history and latest values go with it (ON DELETE CASCADE). */
export async function deleteFeature(d1: D1Database, name: string): Promise<void> {
  const deleted = await drizzle(d1).delete(features).where(eq(features.name, name)).returning({ id: features.id });
  if (deleted.length === 0) throw new ApiError("FEATURE_NOT_FOUND", `feature '${name}' not found`);
  forgetCatalog();
}
