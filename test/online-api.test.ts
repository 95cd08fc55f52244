/** POST /api/v1/online-features and feature groups. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";

const online = (body: unknown) => callJson("POST", "/api/v1/online-features", 200, { body });
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString();

describe("POST /api/v1/online-features", () => {
  it("returns values, timestamps and a status per value for several entities", async () => {
    await registerFeature({ name: "ol_spend", entity_id: "customer", feature_group: "ol_customer" });
    await registerFeature({ name: "ol_orders", entity_id: "customer", feature_group: "ol_customer", value_type: "int" });
    await registerFeature({ name: "ol_recent", entity_id: "customer", feature_group: "ol_customer", ttl: 60 });
    await registerFeature({ name: "ol_segment", entity_id: "customer", feature_group: "ol_customer", value_type: "string" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "ol_spend", entity_id: "c1", value: 12.5, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "ol_orders", entity_id: "c1", value: 3, timestamp: "2024-01-02T00:00:00.5Z" },
        { feature_id: "ol_recent", entity_id: "c1", value: 1, timestamp: hourAgo() },
        { feature_id: "ol_segment", entity_id: "c1", value: null, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "ol_spend", entity_id: "c2", value: 7, timestamp: "2024-01-01T00:00:00Z" },
      ],
    });

    const body = await online({ features: ["ol_spend", "ol_customer:ol_orders", "ol_recent", "ol_segment"], entity_ids: ["c1", "c2", "nobody"] });
    expect(body.features).toEqual(["ol_spend", "ol_orders", "ol_recent", "ol_segment"]);
    expect(body.results).toHaveLength(3);
    expect(body.results[0]).toEqual({
      entity_id: "c1",
      values: { ol_spend: 12.5, ol_orders: 3, ol_recent: null, ol_segment: null },
      statuses: { ol_spend: "PRESENT", ol_orders: "PRESENT", ol_recent: "OUTSIDE_MAX_AGE", ol_segment: "NULL_VALUE" },
      event_timestamps: {
        ol_spend: "2024-01-01T00:00:00Z",
        ol_orders: "2024-01-02T00:00:00.500000Z",
        ol_recent: expect.any(String),
        ol_segment: "2024-01-01T00:00:00Z",
      },
    });
    expect(body.results[1].statuses).toEqual({ ol_spend: "PRESENT", ol_orders: "NOT_FOUND", ol_recent: "NOT_FOUND", ol_segment: "NOT_FOUND" });
    expect(body.results[2].values).toEqual({ ol_spend: null, ol_orders: null, ol_recent: null, ol_segment: null });
    expect(body.results[2].event_timestamps.ol_spend).toBeNull();
  });

  it("serves a whole feature group by name", async () => {
    await registerFeature({ name: "grp_a", entity_id: "product", feature_group: "ol_products" });
    await registerFeature({ name: "grp_b", entity_id: "product", feature_group: "ol_products" });
    await callJson("POST", "/api/v1/features/grp_b/values", 200, { body: { entity_id: "p1", value: 2 } });
    const body = await online({ feature_group: "ol_products", entity_ids: ["p1"] });
    expect(body.features).toEqual(["grp_a", "grp_b"]);
    expect(body.results[0].statuses).toEqual({ grp_a: "NOT_FOUND", grp_b: "PRESENT" });
  });

  it("serves 1,000 entities in one request", async () => {
    await registerFeature({ name: "thousand_score", entity_id: "user", feature_group: "ol_thousand" });
    const ids = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: ids.filter((_, i) => i % 2 === 0).map((id, i) => ({ feature_id: "thousand_score", entity_id: id, value: i, timestamp: "2024-01-01T00:00:00Z" })),
    });
    const body = await online({ features: ["thousand_score"], entity_ids: ids });
    expect(body.results).toHaveLength(1000);
    expect(body.results.filter((r: { statuses: Record<string, string> }) => r.statuses.thousand_score === "PRESENT")).toHaveLength(500);
    expect(body.results[998]).toMatchObject({ entity_id: "u998", values: { thousand_score: 499 } });
    expect(body.results[999].statuses.thousand_score).toBe("NOT_FOUND");
  });

  it("reads D1 when KV misses and refills KV", async () => {
    await registerFeature({ name: "refill_rate", entity_id: "shop", feature_group: "ol_refill" });
    // A bulk load: more than 200 entities, none of them cached, so none is written to KV.
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: Array.from({ length: 201 }, (_, i) => ({ feature_id: "refill_rate", entity_id: i === 0 ? "s1" : `bulk${i}`, value: i === 0 ? 0.3 : i, timestamp: "2024-01-01T00:00:00Z" })),
    });
    expect(await env.ONLINE.get("v3:ol_refill:s1")).toBeNull();

    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://fstore.test/api/v1/online-features", {
        method: "POST",
        headers: { authorization: `Bearer ${env.FSTORE_ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ features: ["refill_rate"], entity_ids: ["s1", "s2"] }),
      }),
      env,
      ctx,
    );
    const body = (await res.json()) as { results: { values: Record<string, unknown> }[] };
    expect(body.results.map((r) => r.values.refill_rate)).toEqual([0.3, null]);
    await waitOnExecutionContext(ctx);
    // KV holds each vector as it is served: feature id → [value JSON, RFC 3339 time].
    expect(Object.values(((await env.ONLINE.get("v3:ol_refill:s1", "json")) as { f: object }).f)).toEqual([["0.3", "2024-01-01T00:00:00Z"]]);
    // The entity with no values is remembered as empty; a later write replaces that (once KV's
    // second per key has passed since the fill: the refresh is queued until then).
    expect(await env.ONLINE.get("v3:ol_refill:s2", "json")).toEqual({ w: expect.any(Number), f: {} });
    await callJson("POST", "/api/v1/features/refill_rate/values", 200, { body: { entity_id: "s2", value: 0.9 } });
    await expect.poll(async () => (await online({ features: ["refill_rate"], entity_ids: ["s2"] })).results[0].values.refill_rate, { timeout: 20_000, interval: 250 }).toBe(0.9);
  });

  it.each([
    ["no entities", { features: ["ol_spend"], entity_ids: [] }],
    ["both features and feature_group", { features: ["ol_spend"], feature_group: "ol_customer", entity_ids: ["c1"] }],
    ["neither features nor feature_group", { entity_ids: ["c1"] }],
    ["more than 1,000 entities", { features: ["ol_spend"], entity_ids: Array.from({ length: 1001 }, (_, i) => `e${i}`) }],
  ])("answers 400 for %s", async (_label, body) => {
    expect((await call("POST", "/api/v1/online-features", { body })).status).toBe(400);
  });

  it("answers 400 when a request would read more vectors than one invocation may", async () => {
    const names: string[] = [];
    for (let g = 0; g < 21; g++) {
      names.push(`wide_${g}`);
      await registerFeature({ name: `wide_${g}`, entity_id: "wide_entity", feature_group: `wide_g${g}` });
    }
    const res = await call("POST", "/api/v1/online-features", { body: { features: names, entity_ids: Array.from({ length: 1000 }, (_, i) => `w${i}`) } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("21 feature groups × 1000 entities");
  });

  it("answers 404 naming every unknown feature, and for an unknown group", async () => {
    const res = await call("POST", "/api/v1/online-features", { body: { features: ["nope_1", "ol_spend", "wrong_group:ol_spend"], entity_ids: ["c1"] } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "FEATURE_NOT_FOUND", details: { unknown: ["nope_1", "wrong_group:ol_spend"] } } });
    expect((await call("POST", "/api/v1/online-features", { body: { feature_group: "no_group", entity_ids: ["c1"] } })).status).toBe(404);
  });
});

describe("feature groups", () => {
  it("lists groups with their entity and features, and shows one group", async () => {
    await registerFeature({ name: "fg_one", entity_id: "store", feature_group: "fg_stores" });
    await registerFeature({ name: "fg_two", entity_id: "store", feature_group: "fg_stores", value_type: "int" });
    const list = await callJson("GET", "/api/v1/feature-groups", 200);
    expect(list.feature_groups).toContainEqual({ name: "fg_stores", entity: "store", features: ["fg_one", "fg_two"] });
    const one = await callJson("GET", "/api/v1/feature-groups/fg_stores", 200);
    expect(one).toMatchObject({ name: "fg_stores", entity: "store" });
    expect(one.features.map((f: { name: string; value_type: string }) => [f.name, f.value_type])).toEqual([
      ["fg_one", "float"],
      ["fg_two", "int"],
    ]);
    expect((await call("GET", "/api/v1/feature-groups/missing")).status).toBe(404);
  });
});
