/**
 * Window values from D1 tiles: loading an entity's tiles and turning the window's value at a
 * boundary into the row the write path stores (timestamp: the boundary).
 */
import type { FeatureRow } from "../db/schema";
import { encodeValue } from "../ingest/rules";
import type { ValueRow } from "../ingest/sql";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { valueAt, type Tile } from "./windows";

/** Tiles of `entities` of one feature with end > `after`, per entity. */
export async function loadTiles(db: D1Database, featureId: number, entities: string[], after: number): Promise<Map<string, Tile[]>> {
  const { results } = await db
    .prepare(
      `SELECT entity_id, tile_end, count, sum, min, max FROM stream_tiles
        WHERE feature_id = ?1 AND entity_id IN (SELECT value FROM json_each(?2)) AND tile_end > ?3`,
    )
    .bind(featureId, JSON.stringify(entities), after)
    .all<{ entity_id: string; tile_end: number; count: number; sum: number; min: number | null; max: number | null }>();
  const tiles = new Map<string, Tile[]>();
  for (const r of results) {
    const list = tiles.get(r.entity_id) ?? [];
    list.push({ end: r.tile_end, count: r.count, sum: r.sum, min: r.min, max: r.max });
    tiles.set(r.entity_id, list);
  }
  return tiles;
}

/** The row holding the window value of `entity` at boundary `b`. */
export function windowRow(f: FeatureRow, s: StreamSource, entity: string, tiles: Tile[], b: number): ValueRow {
  const v = valueAt(tiles, b, s.windowMs as number, s.aggregation as Exclude<StreamSource["aggregation"], "last">);
  const encoded = encodeValue(f.valueType, v);
  // The aggregate of values the feature's type accepted is of that type; a sum past 2^53 of an int feature is not.
  const value = "error" in encoded ? "null" : encoded.json;
  return { featureId: f.id, entityId: entity, ts: msToMicros(b), value };
}
