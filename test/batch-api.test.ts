/** POST /api/v1/features/batch: the guide's send_batch_values, all or nothing. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";

const batch = (items: unknown) => call("POST", "/api/v1/features/batch", { body: items });
const countValues = async (feature: string) => {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM feature_values v JOIN features f ON f.id = v.feature_id WHERE f.name = ?")
    .bind(feature)
    .first<{ n: number }>();
  return row?.n ?? 0;
};

describe("POST /api/v1/features/batch", () => {
  it("writes every item of a valid batch across several features", async () => {
    await registerFeature({ name: "purchase_total", entity_id: "customer" });
    await registerFeature({ name: "is_vip", entity_id: "customer", value_type: "bool" });
    const body = await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "purchase_total", entity_id: "customer_1", value: 10.5, timestamp: "2024-02-20T22:39:38.000001" },
        { feature_id: "purchase_total", entity_id: "customer_2", value: 7, timestamp: "2024-02-20T22:39:38Z" },
        { feature_id: "is_vip", entity_id: "customer_1", value: true },
      ],
    });
    expect(body).toEqual({ written: 3 });
    expect((await callJson("GET", "/api/v1/features/purchase_total/values/customer_1", 200)).value).toBe(10.5);
    expect((await callJson("GET", "/api/v1/features/is_vip/values/customer_1", 200)).value).toBe(true);
  });

  it("rejects the whole batch when any item is bad, naming each bad item by index, and writes nothing", async () => {
    await registerFeature({ name: "atomic_amount", value_type: "float" });
    const res = await batch([
      { feature_id: "atomic_amount", entity_id: "c1", value: 1 },
      { feature_id: "atomic_amount", entity_id: "c2", value: "not a number" },
      { feature_id: "atomic_amount", entity_id: "c3", value: 3 },
      { feature_id: "unknown_feature", entity_id: "c4", value: 4 },
      { feature_id: "atomic_amount", value: 5 },
      { feature_id: "atomic_amount", entity_id: "c6", value: 6, timestamp: "2024-13-01T00:00:00Z" },
    ]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; details: { items: { index: number; errors: { path: string; message: string }[] }[] } } };
    expect(body.error.code).toBe("INVALID_BATCH");
    expect(body.error.message).toBe("4 of 6 items are invalid; nothing was written");
    expect(body.error.details.items.map((i) => i.index)).toEqual([1, 3, 4, 5]);
    expect(body.error.details.items[1]?.errors[0]).toEqual({ path: "feature_id", message: "feature 'unknown_feature' not found" });
    expect(body.error.details.items[2]?.errors[0]?.path).toBe("entity_id");
    expect(body.error.details.items[3]?.errors[0]?.path).toBe("timestamp");
    expect(await countValues("atomic_amount")).toBe(0);
  });

  it("rejects an empty batch, a non-array body and more than 10,000 items", async () => {
    expect((await batch([])).status).toBe(400);
    expect((await batch({ feature_id: "x", entity_id: "e", value: 1 })).status).toBe(400);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ feature_id: "x", entity_id: `e${i}`, value: i }));
    const res = await batch(tooMany);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/at most 10000 items/);
  });

  it("counts a value repeated inside one batch once and keeps the newest of out-of-order items", async () => {
    await registerFeature({ name: "dedup_in_batch" });
    const item = { feature_id: "dedup_in_batch", entity_id: "e1", value: 1, timestamp: "2024-01-01T00:00:00Z" };
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [item, item, { ...item, value: 9, timestamp: "2024-01-03T00:00:00Z" }, { ...item, value: 5, timestamp: "2024-01-02T00:00:00Z" }],
    });
    expect(await countValues("dedup_in_batch")).toBe(3);
    expect((await callJson("GET", "/api/v1/features/dedup_in_batch/values/e1", 200)).value).toBe(9);
  });

  // Batches resolve names against the per-isolate catalog and check it inside the write's own D1
  // batch. These change the registry behind the catalog's back (straight in D1, as another isolate
  // would), so the catalog is stale: the answer must still be what a fresh lookup gives.
  describe("with a registry changed since the catalog was loaded", () => {
    const copyFeature = (name: string, set: string) =>
      env.DB.prepare(
        `INSERT INTO features (name, description, entity_id, feature_group, value_type, ttl_seconds, tags, owner, source_type, source, created_at, updated_at)
          SELECT name, description, entity_id, 'stale_copy', value_type, ttl_seconds, tags, owner, source_type, source, created_at, updated_at FROM features WHERE name = ?1`,
      )
        .bind(name)
        .run()
        .then(() => env.DB.prepare(`UPDATE features SET ${set} WHERE id = (SELECT max(id) FROM features WHERE name = ?1)`).bind(name).run());

    it("checks values against a feature recreated with another type, and writes them to it", async () => {
      await registerFeature({ name: "stale_type", feature_group: "stale_g", value_type: "float" });
      await callJson("POST", "/api/v1/features/batch", 200, { body: [{ feature_id: "stale_type", entity_id: "e1", value: 1.5 }] });
      // Deleted and recreated elsewhere: same name and group, a new id, another type.
      await env.DB.prepare("UPDATE features SET name = 'stale_type_old' WHERE name = 'stale_type'").run();
      await copyFeature("stale_type_old", "name = 'stale_type', feature_group = 'stale_g', value_type = 'string'");
      await env.DB.prepare("DELETE FROM features WHERE name = 'stale_type_old'").run();

      const res = await batch([{ feature_id: "stale_type", entity_id: "e1", value: 2.5 }]);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; details: { items: { errors: { message: string }[] }[] } } };
      expect(body.error.code).toBe("INVALID_BATCH");
      expect(body.error.details.items[0]?.errors[0]?.message).toMatch(/value must be a string/);
      await callJson("POST", "/api/v1/features/batch", 200, { body: [{ feature_id: "stale_type", entity_id: "e1", value: "now text" }] });
      expect((await callJson("GET", "/api/v1/features/stale_type/values/e1", 200)).value).toBe("now text");
      expect(await countValues("stale_type")).toBe(1);
    });

    it("refuses a name another group took since as ambiguous, and writes nothing", async () => {
      await registerFeature({ name: "stale_shared", feature_group: "stale_g1" });
      await callJson("POST", "/api/v1/features/batch", 200, { body: [{ feature_id: "stale_shared", entity_id: "e1", value: 1 }] });
      await copyFeature("stale_shared", "feature_group = 'stale_g2'");

      const res = await batch([{ feature_id: "stale_shared", entity_id: "e2", value: 2 }]);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { details: { items: { errors: { code?: string }[] }[] } } };
      expect(body.error.details.items[0]?.errors[0]?.code).toBe("AMBIGUOUS_FEATURE");
      expect(await countValues("stale_shared")).toBe(1);
      await callJson("POST", "/api/v1/features/batch", 200, { body: [{ feature_id: "stale_g2:stale_shared", entity_id: "e2", value: 2 }] });
    });
  });
});
