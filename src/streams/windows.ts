/**
 * Window math, pure (no I/O), shared by the events consumer and the clock and tested against a
 * brute-force reference (test/stream-windows.test.ts).
 *
 * Time is cut into tiles of `tile` ms (a sliding window's slide; a tumbling window's length). A
 * tile is named by its end E and holds the events with event time in (E − tile, E], as mergeable
 * partial aggregates: count, sum, min, max (avg = sum / count). A window of `window` ms (a whole
 * number of tiles) has an exact value at every tile boundary B: the events in (B − window, B],
 * i.e. the tiles with end in (B − window, B].
 *
 * When a value changes, and at which boundary it is written (with that boundary as its timestamp):
 * - an event in tile E changes the values at E, E + tile, ..., E + window − tile, and the value at
 *   E + window (where the tile has left again) may differ from the one before it;
 * - with no new event, a value changes only where a non-empty tile X leaves: at X + window.
 */
import type { Aggregation } from "../registry/sources";

export interface Tile {
  end: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
}

/** The end of the tile holding event time `t` (ms): tiles cover (end − tile, end]. */
export const tileEndOf = (t: number, tile: number) => Math.ceil(t / tile) * tile;

/** A tile with one more value (v null: counted, not summed — `count` needs no value). */
export function addToTile(tile: Tile | undefined, end: number, v: number | null): Tile {
  const t = tile ?? { end, count: 0, sum: 0, min: null, max: null };
  return {
    end,
    count: t.count + 1,
    sum: t.sum + (v ?? 0),
    min: v === null ? t.min : t.min === null ? v : Math.min(t.min, v),
    max: v === null ? t.max : t.max === null ? v : Math.max(t.max, v),
  };
}

/** Two partial aggregates of the same tile (what D1 holds, what a batch adds) as one. */
export function mergeTiles(a: Tile, b: Tile): Tile {
  const pick = (x: number | null, y: number | null, f: (p: number, q: number) => number) => (x === null ? y : y === null ? x : f(x, y));
  return { end: a.end, count: a.count + b.count, sum: a.sum + b.sum, min: pick(a.min, b.min, Math.min), max: pick(a.max, b.max, Math.max) };
}

/** The window's value at boundary `b`: count and sum are 0 and avg, min, max null over no events. */
export function valueAt(tiles: Iterable<Tile>, b: number, window: number, aggregation: Exclude<Aggregation, "last">): number | null {
  let count = 0;
  let sum = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (const t of tiles) {
    if (t.end <= b - window || t.end > b || t.count === 0) continue;
    count += t.count;
    sum += t.sum;
    if (t.min !== null) min = min === null ? t.min : Math.min(min, t.min);
    if (t.max !== null) max = max === null ? t.max : Math.max(max, t.max);
  }
  switch (aggregation) {
    case "count":
      return count;
    case "sum":
      return sum;
    case "avg":
      return count === 0 ? null : sum / count;
    case "min":
      return min;
    case "max":
      return max;
  }
}

/**
 * The boundaries whose values an event in tile `end` changes and that are due now: the tile's own
 * end (always: the value online readers see at once), the later boundaries inside the window up to
 * the current tile (values written before, by later events, now stale), and the boundary where the
 * tile leaves the window once that time has passed (before that, the clock holds it).
 */
export function boundariesOfEvent(end: number, window: number, tile: number, now: number): number[] {
  const current = tileEndOf(now, tile);
  const out = [end];
  for (let b = end + tile; b < end + window && b <= current; b += tile) out.push(b);
  if (end + window <= now) out.push(end + window);
  return out;
}

/** The boundaries in [from, to] where a non-empty tile leaves the window, ascending. */
export function leaveBoundaries(tiles: Iterable<Tile>, window: number, from: number, to: number): number[] {
  const out = new Set<number>();
  for (const t of tiles) if (t.count > 0 && t.end + window >= from && t.end + window <= to) out.add(t.end + window);
  return [...out].sort((a, b) => a - b);
}

/** The first boundary after `after` where a non-empty tile leaves the window, or null: none will. */
export function nextLeave(tiles: Iterable<Tile>, window: number, after: number): number | null {
  let next: number | null = null;
  for (const t of tiles) if (t.count > 0 && t.end + window > after && (next === null || t.end + window < next)) next = t.end + window;
  return next;
}

/** Whether an event at `t` is too late to count: older than the watermark minus the allowed lateness. */
export const isLate = (t: number, watermark: number | null, allowedLateness: number) => watermark !== null && t < watermark - allowedLateness;
