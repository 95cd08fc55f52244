/**
 * Window values from D1 tiles: loading an entity's tiles and turning the window's value at a
 * boundary into the row the write path stores (timestamp: the boundary).
 */
import { jsonValueChunks } from "../db/json-rows";
import type { FeatureRow } from "../db/schema";
import { encodeValue } from "../ingest/rules";
import type { ValueRow } from "../ingest/sql";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { valueAt, type Tile } from "./windows";

const TILES = `SELECT entity_id, tile_end, count, sum, min, max FROM stream_tiles
  WHERE feature_id = ?1 AND entity_id IN (SELECT value FROM json_each(?2)) AND tile_end > ?3`;
type TileRow = { entity_id: string; tile_end: number; count: number; sum: number; min: number | null; max: number | null };

/** Statements reading the tiles of `entities` of one feature with end > `after` (read them with tilesByEntity). */
export function tilesStatements(db: D1Database, featureId: number, entities: Iterable<string>, after: number): D1PreparedStatement[] {
  return [...jsonValueChunks(entities)].map((chunk) => db.prepare(TILES).bind(featureId, chunk, after));
}

/** Adds the rows read by tilesStatements to `into`, per entity. */
export function tilesByEntity(results: readonly unknown[], into = new Map<string, Tile[]>()): Map<string, Tile[]> {
  for (const r of results as TileRow[]) {
    const list = into.get(r.entity_id) ?? [];
    list.push({ end: r.tile_end, count: r.count, sum: r.sum, min: r.min, max: r.max });
    into.set(r.entity_id, list);
  }
  return into;
}

/** Tiles of `entities` of one feature with end > `after`, per entity. */
export async function loadTiles(db: D1Database, featureId: number, entities: string[], after: number): Promise<Map<string, Tile[]>> {
  const tiles = new Map<string, Tile[]>();
  const statements = tilesStatements(db, featureId, entities, after);
  if (statements.length === 0) return tiles;
  for (const r of await db.batch(statements)) tilesByEntity(r.results, tiles);
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
