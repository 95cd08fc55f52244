/**
 * Online reads: the latest vectors of many features for many entities. One KV key per
 * (feature group, entity), fetched with bulk reads of up to 100 keys (one KV operation each), all
 * issued concurrently; vectors KV does not have come from D1 in one query per group and are
 * written back to KV in the background (a fill). The answer is the cells themselves, in the shape
 * they are served in; online-json.ts turns them into a response body.
 */
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { kvOpsLeft } from "../invocation";
import { FRESH_WINDOW_MS, fillVectors, loadCells, vectorKey, type Cells, type Vector } from "../storage/online-cache";

/** Keys per bulk KV read (the KV maximum). */
const BULK_GET_KEYS = 100;
/**
 * Vectors one request may read: 200 bulk reads, well inside a Worker invocation's 1,000 KV
 * operations, leaving room for fills.
 */
export const MAX_VECTORS_PER_REQUEST = 20_000;
/** KV writes one request may spend filling misses; further misses are served from D1 alone. */
const MAX_FILLS = 200;
/** KV operations a request keeps back for anything else. */
const KV_MARGIN = 10;

export interface OnlineRead {
  /** `cells[g][e]`: the cells of group `groupOf[f] = g` for the e-th requested entity; null when it has no values. */
  cells: (Cells | null)[][];
  /** Per requested feature, the index of its group in `cells`. */
  groupOf: number[];
  /** (group, entity) vectors served from KV alone, and those D1 answered (misses and checks). */
  hits: number;
  fromD1: number;
}

/**
 * Which KV vectors younger than FRESH_WINDOW_MS (a write may still be waiting for KV's second per
 * key) are checked against D1: `all` of them, or only those `missing` a requested feature — a
 * value that exists is never reported NOT_FOUND, while a value rewritten within the last second
 * may be served a few seconds late.
 */
export type FreshnessCheck = "all" | "missing";

/** Reads the vectors that hold `features` for `entityIds` (duplicates allowed), KV first. */
export async function readOnline(
  env: Bindings,
  features: FeatureRow[],
  entityIds: string[],
  waitUntil: (p: Promise<unknown>) => void,
  check: FreshnessCheck = "all",
): Promise<OnlineRead> {
  const groups: string[] = [];
  const idsOf: string[][] = [];
  const groupOf = features.map((f) => {
    let g = groups.indexOf(f.featureGroup);
    if (g < 0) {
      g = groups.push(f.featureGroup) - 1;
      idsOf.push([]);
    }
    (idsOf[g] as string[]).push(String(f.id));
    return g;
  });
  const unique: string[] = [];
  const position = new Map<string, number>();
  const uniqueOf = entityIds.map((id) => {
    let u = position.get(id);
    if (u === undefined) position.set(id, (u = unique.push(id) - 1));
    return u;
  });
  const total = groups.length * unique.length;
  if (total > MAX_VECTORS_PER_REQUEST) {
    throw new ApiError(
      "VALIDATION_FAILED",
      `this request needs ${total} vectors (${groups.length} feature groups × ${unique.length} entities); at most ${MAX_VECTORS_PER_REQUEST} — split it`,
    );
  }

  // byGroup[g][u]: cells, null (no values), undefined (miss), or STALE (check against D1).
  const byGroup: (Cells | null | undefined | typeof CHECK)[][] = groups.map(() => new Array(unique.length));
  const youngSince = Date.now() - FRESH_WINDOW_MS;
  const reads: Promise<void>[] = [];
  for (let start = 0; start < total; start += BULK_GET_KEYS) {
    const end = Math.min(total, start + BULK_GET_KEYS);
    const keys: string[] = [];
    for (let k = start; k < end; k++) keys.push(vectorKey(groups[Math.floor(k / unique.length)] as string, unique[k % unique.length] as string));
    reads.push(
      env.ONLINE.get<Vector>(keys, "json").then((found) => {
        for (let k = start; k < end; k++) {
          const vector = found.get(keys[k - start] as string);
          if (!vector) continue;
          const g = Math.floor(k / unique.length);
          const young = vector.w > youngSince;
          const slot = byGroup[g] as unknown[];
          if (young && (check === "all" || (idsOf[g] as string[]).some((id) => !(id in vector.f)))) slot[k % unique.length] = CHECK;
          else slot[k % unique.length] = isEmpty(vector.f) ? null : vector.f;
        }
      }),
    );
  }
  await Promise.all(reads);

  // Misses and checks: one D1 query per group (groups concurrently); misses are filled into KV in the background.
  let fromD1 = 0;
  let fills = Math.max(0, Math.min(MAX_FILLS, kvOpsLeft(env) - KV_MARGIN));
  await Promise.all(
    groups.map(async (group, g) => {
      const slots = byGroup[g] as (Cells | null | undefined | typeof CHECK)[];
      const load: number[] = [];
      const missing: string[] = [];
      for (let u = 0; u < unique.length; u++) {
        if (slots[u] === undefined) missing.push(unique[u] as string);
        if (slots[u] === undefined || slots[u] === CHECK) load.push(u);
      }
      if (load.length === 0) return;
      fromD1 += load.length;
      const loaded = await loadCells(env.DB, group, load.map((u) => unique[u] as string));
      for (const u of load) slots[u] = loaded.get(unique[u] as string) ?? null;
      const fill = missing.slice(0, fills);
      fills -= fill.length;
      if (fill.length > 0) {
        waitUntil(fillVectors(env, group, fill).catch((err) => console.error(`filling ${fill.length} KV vectors of '${group}' failed: ${(err as Error).message}`)));
      }
    }),
  );

  return {
    cells: byGroup.map((slots) => uniqueOf.map((u) => (slots[u] as Cells | null | undefined) ?? null)),
    groupOf,
    hits: total - fromD1,
    fromD1,
  };
}

/** Marks a KV vector that D1 must confirm. */
const CHECK = Symbol("check");

function isEmpty(cells: Cells): boolean {
  for (const _ in cells) return false;
  return true;
}
