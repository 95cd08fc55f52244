/**
 * What the read paths need to know about features (id, group, entity, type, ttl), kept per
 * isolate for a few seconds so a hot online read does not pay a D1 round trip for the registry.
 * A registry change is seen at once by the isolate that made it and within CATALOG_TTL_MS by the
 * others.
 */
import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, type FeatureRow } from "../db/schema";
import { ApiError } from "../errors";
import { refOf, resolveIndexed } from "../registry/refs";

const CATALOG_TTL_MS = 10_000;

export interface Catalog {
  /** Every feature of each name (a name is unique per group, not globally). */
  byName: Map<string, FeatureRow[]>;
  byGroup: Map<string, FeatureRow[]>;
}

let cached: { catalog: Catalog; until: number } | null = null;

export function forgetCatalog(): void {
  cached = null;
}

export async function loadCatalog(db: D1Database): Promise<Catalog> {
  if (cached && cached.until > Date.now()) return cached.catalog;
  const rows = await drizzle(db).select().from(features).orderBy(asc(features.featureGroup), asc(features.name)).all();
  const catalog: Catalog = { byName: new Map(), byGroup: new Map() };
  for (const row of rows) {
    const sameName = catalog.byName.get(row.name);
    if (sameName) sameName.push(row);
    else catalog.byName.set(row.name, [row]);
    const group = catalog.byGroup.get(row.featureGroup) ?? [];
    group.push(row);
    catalog.byGroup.set(row.featureGroup, group);
  }
  cached = { catalog, until: Date.now() + CATALOG_TTL_MS };
  return catalog;
}

/**
 * Resolves feature references — `name` or `group:name` (registry/refs.ts) — in request order.
 * Unknown references are all reported together (404); an ambiguous bare name is a 400.
 */
export function resolveRefs(catalog: Catalog, refs: string[]): FeatureRow[] {
  return resolveIndexed(catalog.byName, refs);
}

/** The feature's `ref` as the catalog sees it: its name while unique, else `group:name`. */
export function catalogRef(catalog: Catalog, row: FeatureRow): string {
  return refOf(row, (catalog.byName.get(row.name)?.length ?? 0) > 1);
}

/** Each feature once, in first-asked order (`name` and `group:name` may name the same one). */
export function distinctFeatures(features: FeatureRow[]): FeatureRow[] {
  const seen = new Set<number>();
  return features.filter((f) => !seen.has(f.id) && seen.add(f.id));
}

export function groupFeatures(catalog: Catalog, group: string): FeatureRow[] {
  const rows = catalog.byGroup.get(group);
  if (!rows) throw new ApiError("NOT_FOUND", `feature group '${group}' not found`);
  return rows;
}
