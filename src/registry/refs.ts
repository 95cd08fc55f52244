/**
 * Feature references: the one place that turns what a client wrote into a feature. A name is unique
 * within its feature group, not globally (Feast views may share `conv_rate`), so a reference is
 * `name` or `group:name`:
 * - `group:name` names at most one feature;
 * - a bare `name` names the feature of that name when only one group has it; when several do it is
 *   a 400 AMBIGUOUS_FEATURE listing their `group:name` references;
 * - anything else is a 404, as before.
 * Every feature carries its `ref`: its name while unique, else `group:name` (refOf).
 *
 * Two ways in: from rows already loaded (the serving catalog's index, kept per isolate, for the hot
 * read paths) and straight from D1 (one indexed query on the name, for the registry routes).
 */
import { z } from "@hono/zod-openapi";
import { eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { features, type FeatureRow } from "../db/schema";
import { ApiError } from "../errors";

const NAME = "[A-Za-z][A-Za-z0-9_-]{0,127}";
export const REF_PATTERN = new RegExp(`^(?:${NAME}:)?${NAME}$`);

/** A feature reference in a path or body: `name` or `group:name` (`:` may be sent URL-encoded as %3A). */
export const FeatureRef = z
  .string()
  .regex(REF_PATTERN, "must be a feature name or group:name (names: a letter, then letters, digits, '_' or '-'; at most 128 characters)");

export interface ParsedRef {
  group: string | null;
  name: string;
}

export function parseRef(ref: string): ParsedRef {
  const colon = ref.indexOf(":");
  return colon < 0 ? { group: null, name: ref } : { group: ref.slice(0, colon), name: ref.slice(colon + 1) };
}

/** `group:name`, whatever the name's uniqueness. */
export const qualifiedRef = (row: Pick<FeatureRow, "featureGroup" | "name">) => `${row.featureGroup}:${row.name}`;

/** The reference a client can address the feature by: its name while no other group has it. */
export const refOf = (row: Pick<FeatureRow, "featureGroup" | "name">, shared: boolean) => (shared ? qualifiedRef(row) : row.name);

export function ambiguousError(ref: string, candidates: FeatureRow[]): ApiError {
  const refs = candidates.map(qualifiedRef).sort();
  return new ApiError("AMBIGUOUS_FEATURE", `feature name '${ref}' is held by ${refs.length} feature groups; use one of ${refs.join(", ")}`, {
    ref,
    candidates: refs,
  });
}

/**
 * The feature `ref` names among `sameName` (every feature whose name is the ref's name): the row,
 * undefined when there is none, or an AMBIGUOUS_FEATURE error (returned, not thrown, so batches can
 * report it per item).
 */
export function pickRef(ref: string, sameName: FeatureRow[] | undefined): FeatureRow | ApiError | undefined {
  if (!sameName || sameName.length === 0) return undefined;
  const { group } = parseRef(ref);
  if (group !== null) return sameName.find((f) => f.featureGroup === group);
  if (sameName.length === 1) return sameName[0];
  return ambiguousError(ref, sameName);
}

/**
 * Resolves references against an index of features by name, in request order. Ambiguity is a 400
 * (the first ambiguous reference, with its candidates); unknown references are reported together (404).
 */
export function resolveIndexed(byName: Map<string, FeatureRow[]>, refs: string[]): FeatureRow[] {
  const found: FeatureRow[] = [];
  const unknown: string[] = [];
  for (const ref of refs) {
    const row = pickRef(ref, byName.get(parseRef(ref).name));
    if (row instanceof ApiError) throw row;
    if (row) found.push(row);
    else unknown.push(ref);
  }
  if (unknown.length > 0) {
    throw new ApiError("FEATURE_NOT_FOUND", `unknown feature${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, { unknown });
  }
  return found;
}

/** Every feature holding one of these names, grouped by name (one indexed query). */
export async function loadByNames(d1: D1Database, names: string[]): Promise<Map<string, FeatureRow[]>> {
  const unique = [...new Set(names)];
  const rows = unique.length
    ? await drizzle(d1)
        .select()
        .from(features)
        .where(inArray(features.name, sql`(SELECT value FROM json_each(${JSON.stringify(unique)}))`))
        .all()
    : [];
  const byName = new Map<string, FeatureRow[]>();
  for (const row of rows) {
    const list = byName.get(row.name);
    if (list) list.push(row);
    else byName.set(row.name, [row]);
  }
  return byName;
}

/** The feature a reference names, from D1, with whether its name is shared: 404 unknown, 400 ambiguous. */
export async function resolveRef(d1: D1Database, ref: string): Promise<{ row: FeatureRow; shared: boolean }> {
  const { name } = parseRef(ref);
  const sameName = await drizzle(d1).select().from(features).where(eq(features.name, name)).all();
  const row = pickRef(ref, sameName);
  if (row instanceof ApiError) throw row;
  if (!row) throw new ApiError("FEATURE_NOT_FOUND", `feature '${ref}' not found`);
  return { row, shared: sameName.length > 1 };
}

/** Of these names, those more than one feature group holds. */
export async function sharedNames(d1: D1Database, names: string[]): Promise<Set<string>> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return new Set();
  const rows = await drizzle(d1)
    .select({ name: features.name })
    .from(features)
    .where(inArray(features.name, sql`(SELECT value FROM json_each(${JSON.stringify(unique)}))`))
    .groupBy(features.name)
    .having(sql`count(*) > 1`)
    .all();
  return new Set(rows.map((r) => r.name));
}
