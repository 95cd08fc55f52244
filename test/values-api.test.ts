/** The guide's push contract: POST /features/{id}/values, latest and history reads. */
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";

const push = (feature: string, body: unknown) => call("POST", `/api/v1/features/${feature}/values`, { body });

describe("POST /api/v1/features/{id}/values", () => {
  it("accepts the guide's payload with a Python utcnow().isoformat() timestamp and reads it back", async () => {
    await registerFeature({ name: "customer_purchase_amount", entity_id: "customer", feature_group: "customer_metrics" });
    const res = await push("customer_purchase_amount", { entity_id: "customer_123", value: 99.99, timestamp: "2024-02-20T22:39:38.123456" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      feature_id: "customer_purchase_amount",
      entity_id: "customer_123",
      value: 99.99,
      timestamp: "2024-02-20T22:39:38.123456Z",
    });
    const latest = await callJson("GET", "/api/v1/features/customer_purchase_amount/values/customer_123", 200);
    expect(latest).toMatchObject({ value: 99.99, timestamp: "2024-02-20T22:39:38.123456Z" });
  });

  it.each([
    ["2024-02-20T22:39:38", "2024-02-20T22:39:38Z"],
    ["2024-02-20T22:39:38Z", "2024-02-20T22:39:38Z"],
    ["2024-02-20T22:39:38.5+00:00", "2024-02-20T22:39:38.500000Z"],
    ["2024-02-20T20:39:38-02:00", "2024-02-20T22:39:38Z"],
    ["2024-02-21T04:09:38.000001+05:30", "2024-02-20T22:39:38.000001Z"],
    ["2024-02-20 22:39:38.123456", "2024-02-20T22:39:38.123456Z"],
    ["2024-02-20T22:39:38.123456789Z", "2024-02-20T22:39:38.123456Z"],
  ])("reads timestamp %s as %s", async (input, normalized) => {
    const name = `ts_${Math.random().toString(36).slice(2, 10)}`;
    await registerFeature({ name });
    const body = await callJson("POST", `/api/v1/features/${name}/values`, 200, { body: { entity_id: "e1", value: 1, timestamp: input } });
    expect(body.timestamp).toBe(normalized);
  });

  it("uses the server's time when timestamp is omitted", async () => {
    await registerFeature({ name: "no_timestamp" });
    const before = Date.now();
    const body = await callJson("POST", "/api/v1/features/no_timestamp/values", 200, { body: { entity_id: "e1", value: 3 } });
    const ts = Date.parse(body.timestamp);
    expect(ts).toBeGreaterThanOrEqual(before - 1000);
    expect(ts).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("answers 404 FEATURE_NOT_FOUND for an unknown feature", async () => {
    const res = await push("does_not_exist", { entity_id: "customer_1", value: 1.5 });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "FEATURE_NOT_FOUND" } });
  });

  it.each([
    ["missing entity_id", { value: 1 }],
    ["missing value", { entity_id: "e1" }],
    ["empty entity_id", { entity_id: "", value: 1 }],
    ["a timestamp that is not a date", { entity_id: "e1", value: 1, timestamp: "yesterday" }],
    ["an impossible date", { entity_id: "e1", value: 1, timestamp: "2024-02-30T00:00:00Z" }],
    ["a body that is an array", [{ entity_id: "e1", value: 1 }]],
  ])("answers 400 for %s and writes nothing", async (_label, body) => {
    await registerFeature({ name: "strict_payload" }).catch(() => undefined);
    const res = await push("strict_payload", body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe("VALIDATION_FAILED");
    expect(err.error.message).toMatch(/Invalid request/);
    const history = await callJson("GET", "/api/v1/features/strict_payload/values", 200);
    expect(history.values).toEqual([]);
  });

  it.each([
    ["float", "99.9", 1.5],
    ["float", true, 2],
    ["int", 1.5, 7],
    ["string", 12, "gold"],
    ["bool", "true", false],
    ["float_list", [1, "2"], [0.1, 0.2, 0.3]],
  ])("rejects a value of the wrong type for a %s feature (%j) and keeps its type otherwise (%j)", async (type, bad, good) => {
    const name = `typed_${type}_${Math.random().toString(36).slice(2, 8)}`;
    await registerFeature({ name, value_type: type });
    const res = await push(name, { entity_id: "e1", value: bad });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "INVALID_VALUE" } });
    await callJson("POST", `/api/v1/features/${name}/values`, 200, { body: { entity_id: "e1", value: good } });
    const latest = await callJson("GET", `/api/v1/features/${name}/values/e1`, 200);
    expect(latest.value).toEqual(good);
  });

  it("stores any JSON for a json feature and null for any type", async () => {
    await registerFeature({ name: "session_blob", value_type: "json" });
    const blob = { pages: ["/", "/cart"], dwell: { avg: 3.2 } };
    await callJson("POST", "/api/v1/features/session_blob/values", 200, { body: { entity_id: "s1", value: blob } });
    expect((await callJson("GET", "/api/v1/features/session_blob/values/s1", 200)).value).toEqual(blob);
    await registerFeature({ name: "nullable_int", value_type: "int" });
    await callJson("POST", "/api/v1/features/nullable_int/values", 200, { body: { entity_id: "s1", value: null } });
    expect((await callJson("GET", "/api/v1/features/nullable_int/values/s1", 200)).value).toBeNull();
  });
});

describe("latest value semantics", () => {
  it("keeps the greatest timestamp when values arrive out of order", async () => {
    await registerFeature({ name: "stock_level", entity_id: "product" });
    for (const [value, timestamp] of [
      [10, "2024-01-01T10:00:00Z"],
      [30, "2024-01-01T12:00:00Z"],
      [20, "2024-01-01T11:00:00Z"],
    ] as const) {
      await callJson("POST", "/api/v1/features/stock_level/values", 200, { body: { entity_id: "product_1", value, timestamp } });
    }
    const latest = await callJson("GET", "/api/v1/features/stock_level/values/product_1", 200);
    expect(latest).toMatchObject({ value: 30, timestamp: "2024-01-01T12:00:00Z" });
    const history = await callJson("GET", "/api/v1/features/stock_level/values?entity_id=product_1", 200);
    expect(history.values.map((v: { value: number }) => v.value)).toEqual([30, 20, 10]);
  });

  it("stores the same (feature, entity, timestamp) delivered twice as one value", async () => {
    await registerFeature({ name: "clicks" });
    const body = { entity_id: "u1", value: 5, timestamp: "2024-03-01T00:00:00Z" };
    await callJson("POST", "/api/v1/features/clicks/values", 200, { body });
    await callJson("POST", "/api/v1/features/clicks/values", 200, { body });
    const history = await callJson("GET", "/api/v1/features/clicks/values?entity_id=u1", 200);
    expect(history.values).toEqual([{ entity_id: "u1", value: 5, timestamp: "2024-03-01T00:00:00Z" }]);
  });

  it("answers 404 VALUE_NOT_FOUND for an entity without values", async () => {
    await registerFeature({ name: "empty_feature" });
    const res = await call("GET", "/api/v1/features/empty_feature/values/nobody");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "VALUE_NOT_FOUND" } });
  });

  it("answers 404 VALUE_EXPIRED once the latest value is older than the feature's ttl", async () => {
    await registerFeature({ name: "recent_views", ttl: "1h" });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    await callJson("POST", "/api/v1/features/recent_views/values", 200, { body: { entity_id: "u1", value: 4, timestamp: twoHoursAgo } });
    const res = await call("GET", "/api/v1/features/recent_views/values/u1");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "VALUE_EXPIRED", details: { ttl: 3600 } } });

    const fiveMinutesAgo = new Date(Date.now() - 5 * 60_000).toISOString();
    await callJson("POST", "/api/v1/features/recent_views/values", 200, { body: { entity_id: "u1", value: 6, timestamp: fiveMinutesAgo } });
    expect((await callJson("GET", "/api/v1/features/recent_views/values/u1", 200)).value).toBe(6);

    // Removing the ttl serves old values again.
    await callJson("PATCH", "/api/v1/features/recent_views", 200, { body: { ttl: null } });
    await callJson("POST", "/api/v1/features/recent_views/values", 200, { body: { entity_id: "u2", value: 1, timestamp: twoHoursAgo } });
    expect((await callJson("GET", "/api/v1/features/recent_views/values/u2", 200)).value).toBe(1);
  });
});

describe("GET /api/v1/features/{id}/values (history)", () => {
  it("filters by entity and time range, newest first, with a limit", async () => {
    await registerFeature({ name: "daily_spend" });
    const items = [];
    for (let day = 1; day <= 5; day++) {
      for (const entity of ["a", "b"]) {
        items.push({ feature_id: "daily_spend", entity_id: entity, value: day * (entity === "a" ? 1 : 10), timestamp: `2024-05-0${day}T00:00:00Z` });
      }
    }
    await callJson("POST", "/api/v1/features/batch", 200, { body: items });

    const ranged = await callJson("GET", "/api/v1/features/daily_spend/values?entity_id=a&start=2024-05-02T00:00:00Z&end=2024-05-04T00:00:00Z", 200);
    expect(ranged.values.map((v: { value: number }) => v.value)).toEqual([4, 3, 2]);

    const limited = await callJson("GET", "/api/v1/features/daily_spend/values?limit=3", 200);
    expect(limited.values).toEqual([
      { entity_id: "a", value: 5, timestamp: "2024-05-05T00:00:00Z" },
      { entity_id: "b", value: 50, timestamp: "2024-05-05T00:00:00Z" },
      { entity_id: "a", value: 4, timestamp: "2024-05-04T00:00:00Z" },
    ]);
  });

  it("rejects a range whose start is after its end, and an unknown feature", async () => {
    await registerFeature({ name: "ranged" });
    const bad = await call("GET", "/api/v1/features/ranged/values?start=2024-05-04T00:00:00Z&end=2024-05-01T00:00:00Z");
    expect(bad.status).toBe(400);
    expect((await call("GET", "/api/v1/features/nope/values")).status).toBe(404);
  });
});
