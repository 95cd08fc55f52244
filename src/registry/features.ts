/** The feature registry in D1: create, look up, list, change and delete definitions. */
import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, type FeatureRow, type SourceType } from "../db/schema";
import { ApiError } from "../errors";
import { forgetCatalog } from "../serving/catalog";
import { sourceFieldNames, type FeatureCreateInput, type FeaturePatchInput } from "../schemas/feature";
import { parseRef, refOf, resolveRef, sharedNames } from "./refs";
import { checkSource, defaultValueType, sourceTypeOf, streamSourceOf } from "./sources";

type SourceInput = Partial<Pick<FeatureCreateInput, (typeof sourceFieldNames)[number]>>;

function pickSource(input: SourceInput): Record<string, unknown> {
  const source: Record<string, unknown> = {};
  for (const key of sourceFieldNames) if (input[key] !== undefined) source[key] = input[key];
  return source;
}

/**
 * The API shape of a feature: the guide's snake_case fields, and `ref` (= `id`): what addresses it
 * in paths and requests — its name while no other group has one of that name, else `group:name`.
 */
export function featureToJson(row: FeatureRow, shared: boolean) {
  const ref = refOf(row, shared);
  return {
    id: ref,
    ref,
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

/** Registers a feature; a name another group holds is fine, the same name twice in one group is a 409. */
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
  const valueType = input.value_type ?? defaultValueType(source);
  await checkSource(d1, source, valueType);
  const ttl = input.ttl ?? windowedLastTtl(source, valueType);
  const now = Date.now();
  const [row] = await db
    .insert(features)
    .values({
      name: input.name,
      description: input.description ?? null,
      entityId: input.entity_id,
      featureGroup: group,
      valueType,
      ttlSeconds: ttl,
      tags: input.tags ?? {},
      owner: input.owner ?? null,
      sourceType: sourceTypeOf(source),
      source,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({ target: [features.featureGroup, features.name] })
    .returning();
  if (!row) throw new ApiError("CONFLICT", `feature '${input.name}' already exists in feature group '${group}'`);
  forgetCatalog();
  return row;
}

/** The feature a reference (`name` or `group:name`) names: 404 unknown, 400 AMBIGUOUS_FEATURE. */
export async function getFeature(d1: D1Database, ref: string): Promise<FeatureRow> {
  return (await resolveRef(d1, ref)).row;
}

/** A feature's API shape, with its `ref` checked against the registry (its name may be shared). */
export async function featureJson(d1: D1Database, row: FeatureRow) {
  return featureToJson(row, (await sharedNames(d1, [row.name])).has(row.name));
}

/** Features' API shapes, with one query for which of their names are shared. */
export async function featuresJson(d1: D1Database, rows: FeatureRow[]) {
  const shared = await sharedNames(d1, rows.map((r) => r.name));
  return rows.map((r) => featureToJson(r, shared.has(r.name)));
}

export interface FeatureFilter {
  feature_group?: string;
  entity?: string;
  source_type?: SourceType;
  limit: number;
  cursor?: string;
}

/**
 * One page ordered by name, then group; `nextCursor` (when more may follow) is the last feature's
 * name, or its `group:name` when the next feature has the same name (a bare name as cursor
 * continues after every feature of that name).
 */
export async function listFeatures(d1: D1Database, f: FeatureFilter) {
  const rows = await drizzle(d1)
    .select()
    .from(features)
    .where(
      and(
        f.feature_group ? eq(features.featureGroup, f.feature_group) : undefined,
        f.entity ? eq(features.entityId, f.entity) : undefined,
        f.source_type ? eq(features.sourceType, f.source_type) : undefined,
        cursorAfter(f.cursor),
      ),
    )
    .orderBy(asc(features.name), asc(features.featureGroup))
    .limit(f.limit + 1)
    .all();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  const next = rows[f.limit];
  // The name alone while the next row has another name (cursors stay names for unique names); group:name otherwise.
  const nextCursor = next && last ? (next.name === last.name ? `${last.featureGroup}:${last.name}` : last.name) : null;
  return { rows: page, nextCursor };
}

function cursorAfter(cursor: string | undefined) {
  if (!cursor) return undefined;
  const { group, name } = parseRef(cursor);
  if (group === null) return gt(features.name, name);
  return or(gt(features.name, name), and(eq(features.name, name), gt(features.featureGroup, group)));
}

/**
 * A changed feature's updated_at: now, and always later than before, so (id, updated_at) names one
 * version of a definition (the stream features' fingerprint relies on it, streams/registry.ts).
 */
export const changedAt = (now: number) => sql`max(${now}, ${features.updatedAt} + 1)`;

export async function updateFeature(d1: D1Database, current: FeatureRow, patch: FeaturePatchInput): Promise<FeatureRow> {
  const source = { ...current.source, ...pickSource(patch) };
  await checkSource(d1, source, current.valueType);
  const [row] = await drizzle(d1)
    .update(features)
    .set({
      description: patch.description ?? current.description,
      ttlSeconds: patch.ttl === undefined ? followWindow(current, source) : patch.ttl,
      tags: patch.tags ?? current.tags,
      owner: patch.owner ?? current.owner,
      source,
      sourceType: sourceTypeOf(source),
      updatedAt: changedAt(Date.now()),
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

/** A windowed `last` whose ttl is still its window's default follows a new window; any other ttl stays. */
function followWindow(current: FeatureRow, source: Record<string, unknown>): number | null {
  const before = windowedLastTtl(current.source, current.valueType);
  return before !== null && current.ttlSeconds === before ? windowedLastTtl(source, current.valueType) : current.ttlSeconds;
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
export async function deleteFeature(d1: D1Database, ref: string): Promise<void> {
  const { row } = await resolveRef(d1, ref);
  const deleted = await drizzle(d1).delete(features).where(eq(features.id, row.id)).returning({ id: features.id });
  if (deleted.length === 0) throw new ApiError("FEATURE_NOT_FOUND", `feature '${ref}' not found`);
  forgetCatalog();
}
