/**
 * Every timestamp from 0001-01-01 to 9999-12-31 round-trips exactly, to the microsecond, through
 * push, batch, latest, history, online vectors and training sets — including the years past 2255,
 * where microseconds no longer fit a JS number (2^53), and Python's `datetime.min`/`datetime.max`.
 */
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";

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
