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

const CATALOG_TTL_MS = 10_000;

export interface Catalog {
  byName: Map<string, FeatureRow>;
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
    catalog.byName.set(row.name, row);
    const group = catalog.byGroup.get(row.featureGroup) ?? [];
    group.push(row);
    catalog.byGroup.set(row.featureGroup, group);
  }
  cached = { catalog, until: Date.now() + CATALOG_TTL_MS };
  return catalog;
}

/**
 * Resolves feature references — `name` or `group:name` — in request order. Unknown references
 * are all reported together.
 */
export function resolveRefs(catalog: Catalog, refs: string[]): FeatureRow[] {
  const found: FeatureRow[] = [];
  const unknown: string[] = [];
  for (const ref of refs) {
    const colon = ref.indexOf(":");
    const name = colon >= 0 ? ref.slice(colon + 1) : ref;
    const row = catalog.byName.get(name);
    if (row && (colon < 0 || row.featureGroup === ref.slice(0, colon))) found.push(row);
    else unknown.push(ref);
  }
  if (unknown.length > 0) {
    throw new ApiError("FEATURE_NOT_FOUND", `unknown feature${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, { unknown });
  }
  return found;
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
