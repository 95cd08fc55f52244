/**
 * Window values from D1 tiles: reading an entity's tiles — with the guard that fails a later
 * transaction if they changed since — and turning the window's value at a boundary into the row the
 * write path stores (timestamp: the boundary).
 */
import { failWhen } from "../db/guard";
import { jsonValueChunks } from "../db/json-rows";
import type { FeatureRow } from "../db/schema";
import { encodeValue } from "../ingest/rules";
import type { ValueRow } from "../ingest/sql";
import type { StreamSource } from "../registry/sources";
import { msToMicros } from "../time";
import { valueAt, type Tile } from "./windows";

const IN_RANGE = "feature_id = ?1 AND entity_id IN (SELECT value FROM json_each(?2)) AND tile_end > ?3";
const TILES = `SELECT entity_id, tile_end, count, sum, min, max FROM stream_tiles WHERE ${IN_RANGE}`;
// Every change to a tile adds to its count, and pruning drops rows: the same number of rows and the
// same total count mean the same tiles.
const CHANGED = `NOT EXISTS (SELECT 1 FROM (SELECT count(*) AS n, coalesce(sum(count), 0) AS c FROM stream_tiles WHERE ${IN_RANGE}) WHERE n = ?4 AND c = ?5)`;
type TileRow = { entity_id: string; tile_end: number; count: number; sum: number; min: number | null; max: number | null };

/**
 * A read of the tiles of some entities of one feature with end > `after`, in statements of
 * bounded size: `statements` go into a D1 batch, `take` reads their results (in the same order)
 * into tiles per entity, and `guards` then give the statements that fail a transaction unless those
 * tiles are still exactly what was read.
 */
export class TileRead {
  private readonly chunks: string[];
  private seen: { rows: number; count: number }[] = [];

  constructor(
    private readonly featureId: number,
    entities: Iterable<string>,
    private readonly after: number,
  ) {
    this.chunks = [...jsonValueChunks(entities)];
  }

  /** How many statements (and results) the read takes. */
  get size(): number {
    return this.chunks.length;
  }

  statements(db: D1Database): D1PreparedStatement[] {
    return this.chunks.map((chunk) => db.prepare(TILES).bind(this.featureId, chunk, this.after));
  }

  /** Reads the results of `statements` (as many, in order) into `into`, per entity. */
  take(results: readonly D1Result[], into = new Map<string, Tile[]>()): Map<string, Tile[]> {
    this.seen = results.map((r) => {
      let count = 0;
      for (const row of r.results as TileRow[]) {
        const list = into.get(row.entity_id) ?? [];
        list.push({ end: row.tile_end, count: row.count, sum: row.sum, min: row.min, max: row.max });
        into.set(row.entity_id, list);
        count += row.count;
      }
      return { rows: r.results.length, count };
    });
    return into;
  }

  guards(db: D1Database): D1PreparedStatement[] {
    return this.chunks.map((chunk, i) => failWhen(db, CHANGED, this.featureId, chunk, this.after, this.seen[i]?.rows ?? 0, this.seen[i]?.count ?? 0));
  }
}

/** The row holding the window value of `entity` at boundary `b`. */
export function windowRow(f: FeatureRow, s: StreamSource, entity: string, tiles: Tile[], b: number): ValueRow {
  const v = valueAt(tiles, b, s.windowMs as number, s.aggregation as Exclude<StreamSource["aggregation"], "last">);
  const encoded = encodeValue(f.valueType, v);
  // The aggregate of values the feature's type accepted is of that type; a sum past 2^53 of an int feature is not.
  const value = "error" in encoded ? "null" : encoded.json;
  return { featureId: f.id, entityId: entity, ts: msToMicros(b), value };
}
