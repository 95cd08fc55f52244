/**
 * Window math (src/streams/windows.ts) as properties against a brute-force reference over the raw
 * events: random event times and values, random delivery order and message cuts, redeliveries of
 * the same id, lateness, and a clock that advances between messages. The consumer's protocol is
 * replayed with the same pure functions it uses: dedupe by id, lateness against the watermark,
 * tiles, the boundaries an event rewrites, and the clock's leave boundaries.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addToTile, boundariesOfEvent, isLate, leaveBoundaries, nextLeave, tileEndOf, valueAt, type Tile } from "../src/streams/windows";

type Agg = "count" | "sum" | "avg" | "min" | "max";

/** The reference: the aggregate of the events with time in (b − window, b], straight from the events. */
function brute(events: { t: number; v: number }[], b: number, window: number, agg: Agg): number | null {
  const inside = events.filter((e) => e.t > b - window && e.t <= b).map((e) => e.v);
  if (agg === "count") return inside.length;
  if (agg === "sum") return inside.reduce((a, v) => a + v, 0);
  if (inside.length === 0) return null;
  if (agg === "avg") return inside.reduce((a, v) => a + v, 0) / inside.length;
  return agg === "min" ? Math.min(...inside) : Math.max(...inside);
}

const TILE = 1000;

const scenario = fc
  .record({
    slides: fc.integer({ min: 1, max: 6 }),
    agg: fc.constantFrom<Agg>("count", "sum", "avg", "min", "max"),
    lateness: fc.integer({ min: 0, max: 8000 }),
    events: fc.array(fc.record({ t: fc.integer({ min: 1, max: 30_000 }), v: fc.integer({ min: -50, max: 50 }) }), { minLength: 1, maxLength: 60 }),
    // Delivery: an order (with redeliveries of some events) and cuts into messages.
    seed: fc.integer(),
  })
  .map((s) => {
    let x = s.seed >>> 0;
    const rand = () => ((x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32);
    const events = s.events.map((e, i) => ({ ...e, id: `e${i}` }));
    const order = [...events, ...events.filter(() => rand() < 0.3)];
    // Mostly in time order, with local disorder: sort by time plus noise.
    const keyed = order.map((e) => ({ e, k: e.t + (rand() - 0.5) * 10_000 }));
    keyed.sort((a, b) => a.k - b.k);
    const messages: (typeof events)[] = [];
    for (const { e } of keyed) {
      if (messages.length === 0 || rand() < 0.3) messages.push([]);
      (messages.at(-1) as typeof events).push(e);
    }
    return { ...s, window: s.slides * TILE, messages };
  });

describe("window math", () => {
  it("tiles give the brute-force value at every boundary, whatever the delivery order, redeliveries and lateness", () => {
    fc.assert(
      fc.property(scenario, ({ window, agg, lateness, messages }) => {
        const seen = new Set<string>();
        let watermark: number | null = null;
        const tiles = new Map<number, Tile>();
        const applied: { t: number; v: number }[] = [];
        let late = 0;
        for (const message of messages) {
          for (const e of message) {
            if (seen.has(e.id)) continue;
            seen.add(e.id);
            if (isLate(e.t, watermark, lateness)) {
              late++;
              continue;
            }
            watermark = Math.max(watermark ?? e.t, e.t);
            const end = tileEndOf(e.t, TILE);
            tiles.set(end, addToTile(tiles.get(end), end, agg === "count" ? null : e.v));
            applied.push(e);
          }
        }
        // Exactly once: every distinct event is applied or late, none twice.
        expect(applied.length + late).toBe(seen.size);
        for (let b = 0; b <= 40_000; b += TILE) expect(valueAt(tiles.values(), b, window, agg)).toBe(brute(applied, b, window, agg));
      }),
      { numRuns: 300 },
    );
  });

  it("the rows an event rewrites plus the clock's leave boundaries make a history whose value at every boundary is the brute-force one", () => {
    fc.assert(
      fc.property(scenario, ({ window, agg, messages }) => {
        const tiles = new Map<number, Tile>();
        const applied: { t: number; v: number }[] = [];
        const history = new Map<number, number | null>();
        const seen = new Set<string>();
        let clock: number | null = null;
        let now = 0;
        const runClock = () => {
          if (clock !== null && clock <= now) {
            for (const b of leaveBoundaries(tiles.values(), window, clock, now)) history.set(b, valueAt(tiles.values(), b, window, agg));
            clock = nextLeave(tiles.values(), window, now);
          }
        };
        for (const message of messages) {
          // Time moves on: each message arrives after its newest event.
          now = Math.max(now, ...message.map((e) => e.t));
          const ends = new Set<number>();
          for (const e of message) {
            if (seen.has(e.id)) continue;
            seen.add(e.id);
            const end = tileEndOf(e.t, TILE);
            tiles.set(end, addToTile(tiles.get(end), end, agg === "count" ? null : e.v));
            applied.push(e);
            ends.add(end);
            if (end + window > now) clock = Math.min(clock ?? Infinity, end + window);
          }
          for (const end of ends) for (const b of boundariesOfEvent(end, window, TILE, now)) history.set(b, valueAt(tiles.values(), b, window, agg));
          runClock();
        }
        now = 1_000_000;
        runClock();
        // Point in time: the value at boundary b is the newest row at or before b.
        const times = [...history.keys()].sort((a, b) => a - b);
        const first = times[0] as number;
        for (let b = first; b <= 40_000; b += TILE) {
          const row = times.filter((t) => t <= b).at(-1) as number;
          expect(history.get(row)).toBe(brute(applied, b, window, agg));
        }
        expect(clock).toBeNull(); // every event has left its window: nothing left to clock
      }),
      { numRuns: 300 },
    );
  });

  it("an event counts from its time until the first boundary at least one window later", () => {
    // window 5 s, slide 1 s: an event at 2.5 s is in (2, 3], counts at boundaries 3..7 and has left at 8.
    const t = addToTile(undefined, tileEndOf(2500, 1000), 4);
    expect([2000, 3000, 7000, 8000].map((b) => valueAt([t], b, 5000, "sum"))).toEqual([0, 4, 4, 0]);
    expect(nextLeave([t], 5000, 3000)).toBe(8000);
    expect(boundariesOfEvent(3000, 5000, 1000, 5500)).toEqual([3000, 4000, 5000, 6000]);
    expect(boundariesOfEvent(3000, 5000, 1000, 9000)).toEqual([3000, 4000, 5000, 6000, 7000, 8000]);
  });
});
