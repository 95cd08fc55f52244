/**
 * Every timestamp from 0001-01-01 to 9999-12-31 round-trips exactly, to the microsecond, through
 * push, batch, latest, history, online vectors and training sets — including the years past 2255,
 * where microseconds no longer fit a JS number (2^53), and Python's `datetime.min`/`datetime.max`.
 */
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";
import { MAX_MICROS, MIN_MICROS, parseTimestamp } from "../src/time";

const extremes = [
  ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z"],
  ["0001-01-01T00:00:00.000001", "0001-01-01T00:00:00.000001Z"],
  ["1500-06-15T12:00:00.999999Z", "1500-06-15T12:00:00.999999Z"],
  ["1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"],
  ["2300-01-01T00:00:00.000001Z", "2300-01-01T00:00:00.000001Z"],
  ["9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999Z"],
] as const;

describe("timestamps from 0001 to 9999", () => {
  it.each(extremes)("%s round-trips through push, latest, history, online and a training set", async (input, expected) => {
    const name = `tsr_${Math.random().toString(36).slice(2, 10)}`;
    await registerFeature({ name, entity_id: "thing", feature_group: `${name}_g` });
    const pushed = await callJson("POST", `/api/v1/features/${name}/values`, 200, { body: { entity_id: "e1", value: 7.5, timestamp: input } });
    expect(pushed.timestamp).toBe(expected);
    // The KV vector was rebuilt from D1 by the write, so this also crosses D1 → KV.
    expect(await callJson("GET", `/api/v1/features/${name}/values/e1`, 200)).toMatchObject({ value: 7.5, timestamp: expected });
    const history = await callJson("GET", `/api/v1/features/${name}/values?entity_id=e1&start=${encodeURIComponent(expected)}&end=${encodeURIComponent(expected)}`, 200);
    expect(history.values).toEqual([{ entity_id: "e1", value: 7.5, timestamp: expected }]);
    const online = await callJson("POST", "/api/v1/online-features", 200, { body: { features: [name], entity_ids: ["e1"] } });
    expect(online.results[0].event_timestamps[name]).toBe(expected);
    const training = await callJson("POST", "/api/v1/historical-features", 200, { body: { features: [name], entity_rows: [{ entity_id: "e1", timestamp: expected }] } });
    expect(training.rows[0][name]).toBe(7.5);
  });

  it("keeps two values one microsecond apart after 2255 as two history rows in order", async () => {
    await registerFeature({ name: "tsr_far_future", entity_id: "thing" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "tsr_far_future", entity_id: "e1", value: 1, timestamp: "2300-01-01T00:00:00.000001Z" },
        { feature_id: "tsr_far_future", entity_id: "e1", value: 2, timestamp: "2300-01-01T00:00:00.000002Z" },
      ],
    });
    const history = await callJson("GET", "/api/v1/features/tsr_far_future/values?entity_id=e1", 200);
    expect(history.values.map((v: any) => [v.value, v.timestamp])).toEqual([
      [2, "2300-01-01T00:00:00.000002Z"],
      [1, "2300-01-01T00:00:00.000001Z"],
    ]);
    // Point in time exactly between them sees the first.
    const training = await callJson("POST", "/api/v1/historical-features", 200, {
      body: { features: ["tsr_far_future"], entity_rows: [{ entity_id: "e1", timestamp: "2300-01-01T00:00:00.000001Z" }] },
    });
    expect(training.rows[0].tsr_far_future).toBe(1);
  });

  it.each(["0000-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-01:00", "0001-01-01T00:00:00+01:00"])(
    "refuses %s, outside 0001..9999 UTC, with 400",
    async (timestamp) => {
      await registerFeature({ name: "tsr_bounds" }).catch(() => undefined);
      const res = await call("POST", "/api/v1/features/tsr_bounds/values", { body: { entity_id: "e1", value: 1, timestamp } });
      expect(res.status).toBe(400);
    },
  );
});

describe("parseTimestamp, by arithmetic", () => {
  /** The reference: what Date makes of the same fields (setUTCFullYear keeps years 0001-0099). */
  function reference(y: number, mo: number, d: number, h: number, mi: number, s: number, offsetMinutes: number): bigint | null {
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d);
    if (date.getUTCDate() !== d) return null;
    date.setUTCHours(h, mi, Math.min(s, 59), 0);
    return BigInt(date.getTime() - offsetMinutes * 60_000) * 1000n;
  }
  const pad = (n: number, w: number) => String(n).padStart(w, "0");

  it("agrees with Date on every day of leap and common years, month ends past them, and offsets", () => {
    let checked = 0;
    for (const y of [1, 4, 99, 100, 400, 1582, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 2255, 2400, 9999]) {
      for (let mo = 1; mo <= 12; mo++) {
        for (let d = 1; d <= 31; d++) {
          for (const [h, mi, s, off] of [[0, 0, 0, 0], [23, 59, 60, 0], [12, 30, 15, 330], [1, 2, 3, -23 * 60 - 59]] as const) {
            const sign = off < 0 ? "-" : "+";
            const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${sign}${pad(Math.floor(Math.abs(off) / 60), 2)}:${pad(Math.abs(off) % 60, 2)}`;
            const expected = reference(y, mo, d, h, mi, s, off);
            const inRange = expected !== null && expected >= MIN_MICROS && expected <= MAX_MICROS ? expected : null;
            expect(parseTimestamp(text), text).toBe(inRange);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(16 * 12 * 31 * 4);
    expect(parseTimestamp("2024-02-30T00:00:00Z")).toBeNull();
    expect(parseTimestamp("2024-02-29T00:00:00.1234567Z")).toBe(BigInt(Date.UTC(2024, 1, 29)) * 1000n + 123_456n);
    expect(parseTimestamp("2024-01-00T00:00:00Z")).toBeNull();
  });
});
