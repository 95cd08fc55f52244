/**
 * Bulk import of a Feast project: `project`, `entities` and `feature_views` (what a Feast repo's
 * feature_store.yaml and view definitions say) become FStore push features — group = view name,
 * entity_id = the view's join key, one feature per schema field — registered in ONE D1 batch.
 *
 * Everything is checked first and every bad field is named by its path (400), so nothing is written
 * unless everything can be. Re-importing the same description changes nothing (each feature is
 * `unchanged`); a feature whose definition differs is a 409 naming the differences, unless
 * `update` is set (then it is updated — a value type only while the feature has no values).
 */
import { z } from "@hono/zod-openapi";
import { and, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
import { features, type FeatureRow, type ValueType } from "../db/schema";
import { ApiError, describeIssues } from "../errors";
import { NAME_PATTERN } from "../schemas/common";
import { forgetCatalog } from "../serving/catalog";
import { parseDuration } from "../time";
import { changedAt } from "./features";
import { qualifiedRef } from "./refs";

const FeastName = z.string().regex(NAME_PATTERN, "must start with a letter and contain only letters, digits, '_' or '-' (at most 128 characters)");

/** Feast dtypes (feast.types) → FStore value types. */
const DTYPES: Record<string, ValueType> = {
  Float32: "float",
  Float64: "float",
  Int32: "int",
  Int64: "int",
  String: "string",
  Bool: "bool",
  "Array(Float32)": "float_list",
  "Array(Float64)": "float_list",
  "Array(Int32)": "json",
  "Array(Int64)": "json",
  "Array(String)": "json",
  "Array(Bool)": "json",
  Json: "json",
};
export const FEAST_DTYPES = Object.keys(DTYPES);

const Field = z
  .object({
    name: FeastName.refine((n) => n !== "batch", { message: "'batch' is reserved" }),
    dtype: z.string().refine((t) => t.replace(/\s+/g, "") in DTYPES, { message: `must be one of ${FEAST_DTYPES.join(", ")}` }),
    description: z.string().max(4096).optional(),
    tags: z.record(z.string().max(128), z.string().max(1024)).optional(),
  })
  .strict();

/** Feast's ttl: seconds, or a duration such as '1d' / '86400s'; 0 (Feast's "forever") or none: no ttl. */
const Ttl = z.union([
  z.number().int().min(0),
  z.string().refine((s) => parseDuration(s) !== null, { message: "must be seconds or a duration like 30s, 5m, 1h or 1d" }),
]);

const Entity = z
  .object({
    name: FeastName,
    join_keys: z.array(FeastName).length(1, "FStore supports one join key per entity (no composite keys)").optional(),
    join_key: FeastName.optional(),
    value_type: z.string().max(64).optional(),
    description: z.string().max(4096).optional(),
    tags: z.record(z.string(), z.string()).optional(),
    owner: z.string().max(256).optional(),
  })
  .strict()
  .refine((e) => e.join_keys === undefined || e.join_key === undefined, { message: "give join_keys or join_key, not both" });

const View = z
  .object({
    name: FeastName,
    entities: z.array(FeastName).length(1, "a feature view maps to one FStore feature group, keyed by one entity"),
    ttl: Ttl.optional(),
    schema: z.array(Field).min(1).max(500).optional(),
    features: z.array(Field).min(1).max(500).optional(),
    tags: z.record(z.string().max(128), z.string().max(1024)).optional(),
    owner: z.string().max(256).optional(),
    description: z.string().max(4096).optional(),
    online: z.boolean().optional(),
    source: z.unknown().optional(),
  })
  .strict()
  .refine((v) => (v.schema === undefined) !== (v.features === undefined), { message: "give the view's fields as 'schema' or 'features' (one of them)" });

export const FeastProject = z
  .object({
    project: FeastName,
    entities: z.array(Entity).min(1).max(100),
    feature_views: z.array(View).min(1).max(200),
  })
  .strict()
  .openapi("FeastProjectImport");
export type FeastProjectInput = z.infer<typeof FeastProject>;

/** What one imported feature becomes. */
interface Planned {
  name: string;
  featureGroup: string;
  entityId: string;
  valueType: ValueType;
  ttlSeconds: number | null;
  tags: Record<string, string>;
  owner: string | null;
  description: string | null;
}

export interface ImportResult {
  project: string;
  created: number;
  updated: number;
  unchanged: number;
  features: string[];
}

type Issue = { path: string; message: string };

/** The description's features, or a 400 naming every bad field path. */
export function planImport(raw: unknown): { project: string; planned: Planned[] } {
  const parsed = FeastProject.safeParse(raw);
  if (!parsed.success) throw new ApiError("VALIDATION_FAILED", "the Feast project description is invalid; nothing was written", { issues: describeIssues(parsed.error) });
  const input = parsed.data;
  const issues: Issue[] = [];
  const joinKeyOf = new Map<string, string>();
  input.entities.forEach((e, i) => {
    if (joinKeyOf.has(e.name)) issues.push({ path: `entities.${i}.name`, message: `entity '${e.name}' is defined twice` });
    // Feast's default join key is the entity's name.
    joinKeyOf.set(e.name, e.join_keys?.[0] ?? e.join_key ?? e.name);
  });
  const planned: Planned[] = [];
  const views = new Set<string>();
  input.feature_views.forEach((v, i) => {
    if (views.has(v.name)) issues.push({ path: `feature_views.${i}.name`, message: `feature view '${v.name}' is defined twice` });
    views.add(v.name);
    const joinKey = joinKeyOf.get(v.entities[0] as string);
    if (joinKey === undefined) issues.push({ path: `feature_views.${i}.entities.0`, message: `entity '${v.entities[0]}' is not among the project's entities` });
    const ttl = v.ttl === undefined ? null : typeof v.ttl === "number" ? v.ttl || null : parseDuration(v.ttl);
    const fieldsKey = v.schema ? "schema" : "features";
    const names = new Set<string>();
    (v.schema ?? v.features ?? []).forEach((f, j) => {
      if (names.has(f.name)) issues.push({ path: `feature_views.${i}.${fieldsKey}.${j}.name`, message: `field '${f.name}' appears twice in view '${v.name}'` });
      if (f.name === joinKey) return; // Feast lists the join key in a view's schema too: it is the entity, not a feature.
      names.add(f.name);
      planned.push({
        name: f.name,
        featureGroup: v.name,
        entityId: joinKey ?? "",
        valueType: DTYPES[f.dtype.replace(/\s+/g, "")] as ValueType,
        ttlSeconds: ttl,
        tags: { ...v.tags, ...f.tags, feast_project: input.project },
        owner: v.owner ?? null,
        description: f.description ?? v.description ?? null,
      });
    });
  });
  if (issues.length > 0) throw new ApiError("VALIDATION_FAILED", "the Feast project description is invalid; nothing was written", { issues });
  return { project: input.project, planned };
}

const sameTags = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/** How an existing feature differs from what the import would make of it. */
function differences(row: FeatureRow, p: Planned): string[] {
  const out: string[] = [];
  if (row.valueType !== p.valueType) out.push(`value_type ${row.valueType} → ${p.valueType}`);
  if (row.ttlSeconds !== p.ttlSeconds) out.push(`ttl ${row.ttlSeconds} → ${p.ttlSeconds}`);
  if (!sameTags(row.tags, p.tags)) out.push("tags");
  if (row.owner !== p.owner) out.push("owner");
  if (row.description !== p.description) out.push("description");
  return out;
}

/** Registers (or, with `update`, updates) the planned features in one D1 batch. */
export async function importFeastProject(d1: D1Database, raw: unknown, update: boolean): Promise<ImportResult> {
  const { project, planned } = planImport(raw);
  const db = drizzle(d1);
  const groups = [...new Set(planned.map((p) => p.featureGroup))];
  const existing = await db.select().from(features).where(inArray(features.featureGroup, groups)).all();
  const byRef = new Map(existing.map((r) => [qualifiedRef(r), r]));

  const conflicts: { feature: string; problem: string }[] = [];
  for (const group of groups) {
    const entity = planned.find((p) => p.featureGroup === group)?.entityId;
    const other = existing.find((r) => r.featureGroup === group && r.entityId !== entity);
    if (other) conflicts.push({ feature: qualifiedRef(other), problem: `feature group '${group}' holds features of entity '${other.entityId}', not '${entity}'` });
  }
  const inserts: Planned[] = [];
  const updates: { row: FeatureRow; p: Planned }[] = [];
  let unchanged = 0;
  for (const p of planned) {
    const row = byRef.get(qualifiedRef(p));
    if (!row) {
      inserts.push(p);
      continue;
    }
    if (row.sourceType !== "push") {
      conflicts.push({ feature: qualifiedRef(row), problem: `exists as a ${row.sourceType} feature; an import defines push features only` });
      continue;
    }
    const diff = differences(row, p);
    if (diff.length === 0) unchanged++;
    else if (update) updates.push({ row, p });
    else conflicts.push({ feature: qualifiedRef(row), problem: `differs: ${diff.join(", ")} (import with ?update=true to change it)` });
  }
  // A value type changes only while the feature has no values (stored values keep their type).
  const retyped = updates.filter((u) => u.row.valueType !== u.p.valueType).map((u) => u.row.id);
  if (retyped.length > 0) {
    const { results } = await d1
      .prepare("SELECT f.feature_group || ':' || f.name AS ref FROM features f WHERE f.id IN (SELECT value FROM json_each(?1)) AND EXISTS (SELECT 1 FROM feature_latest l WHERE l.feature_id = f.id)")
      .bind(JSON.stringify(retyped))
      .all<{ ref: string }>();
    for (const { ref } of results) conflicts.push({ feature: ref, problem: "has values, so its value_type cannot change" });
  }
  if (conflicts.length > 0) {
    throw new ApiError("CONFLICT", `${conflicts.length} feature${conflicts.length > 1 ? "s" : ""} of the import conflict with the registry; nothing was written`, { conflicts });
  }

  const now = Date.now();
  const statements: BatchItem<"sqlite">[] = [
    ...inserts.map((p) => db.insert(features).values({ ...p, sourceType: "push" as const, source: {}, createdAt: now, updatedAt: now })),
    ...updates.map(({ row, p }) =>
      db
        .update(features)
        .set({ valueType: p.valueType, ttlSeconds: p.ttlSeconds, tags: p.tags, owner: p.owner, description: p.description, updatedAt: changedAt(now) })
        .where(and(eq(features.id, row.id), eq(features.updatedAt, row.updatedAt))),
    ),
  ];
  if (statements.length > 0) {
    try {
      await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    } catch (err) {
      if (/UNIQUE constraint/i.test(String((err as Error).message))) {
        throw new ApiError("CONFLICT", "a feature of the import was registered by another request meanwhile; nothing was written — import again");
      }
      throw err;
    }
    forgetCatalog();
  }
  return { project, created: inserts.length, updated: updates.length, unchanged, features: planned.map(qualifiedRef) };
}
