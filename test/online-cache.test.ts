/** KV online cache: refreshed from D1 after writes, D1 fallback on a miss, refill, queued refresh for large writes. */
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";

const vectorOf = (group: string, entity: string) => env.ONLINE.get(`v2:${group}:${entity}`, "json") as Promise<{ f: Record<string, { n: string; v: unknown; t: string }> } | null>;
const namesIn = (vector: Awaited<ReturnType<typeof vectorOf>>) => Object.values(vector?.f ?? {}).map((x) => [x.n, x.v]);

describe("online cache", () => {
  it("holds one vector per (group, entity) with every feature of the group, refreshed after each write", async () => {
    await registerFeature({ name: "cache_spend", feature_group: "cache_g" });
    await registerFeature({ name: "cache_visits", feature_group: "cache_g", value_type: "int" });
    await callJson("POST", "/api/v1/features/cache_spend/values", 200, { body: { entity_id: "c1", value: 12.5, timestamp: "2024-01-01T00:00:00Z" } });
    expect(namesIn(await vectorOf("cache_g", "c1"))).toEqual([["cache_spend", 12.5]]);

    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "cache_visits", entity_id: "c1", value: 3, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "cache_spend", entity_id: "c1", value: 1, timestamp: "2023-12-31T00:00:00Z" }, // older: must not win
      ],
    });
    expect(namesIn(await vectorOf("cache_g", "c1")).sort()).toEqual([
      ["cache_spend", 12.5],
      ["cache_visits", 3],
    ]);
    const res = await call("GET", "/api/v1/features/cache_visits/values/c1");
    expect(res.headers.get("x-fstore-cache")).toBe("hit");
  });

  it("falls back to D1 when KV misses, then refills KV", async () => {
    await registerFeature({ name: "fallback_score", feature_group: "fallback_g" });
    await callJson("POST", "/api/v1/features/fallback_score/values", 200, { body: { entity_id: "u1", value: 0.75, timestamp: "2024-01-01T00:00:00Z" } });
    await env.ONLINE.delete("v2:fallback_g:u1");

    const ctx = createExecutionContext();
    const req = new Request("http://fstore.test/api/v1/features/fallback_score/values/u1", { headers: { authorization: `Bearer ${env.FSTORE_ADMIN_KEY}` } });
    const res = await worker.fetch(req, env, ctx);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-fstore-cache")).toBe("miss");
    expect(await res.json()).toMatchObject({ value: 0.75 });
    await waitOnExecutionContext(ctx);

    expect(namesIn(await vectorOf("fallback_g", "u1"))).toEqual([["fallback_score", 0.75]]);
    const again = await call("GET", "/api/v1/features/fallback_score/values/u1");
    expect(again.headers.get("x-fstore-cache")).toBe("hit");
  });

  it("hands large writes' refresh to the jobs queue, whose consumer rebuilds the vectors KV holds and skips the rest", async () => {
    await registerFeature({ name: "queued_score", feature_group: "queued_g" });
    const items = Array.from({ length: 500 }, (_, i) => ({ feature_id: "queued_score", entity_id: `q${i}`, value: i, timestamp: "2024-01-01T00:00:00Z" }));
    await callJson("POST", "/api/v1/features/batch", 200, { body: items });

    // Drive the consumer directly with the message the write enqueued: q499 is cached (stale), q498 is not.
    const keys = items.map((i) => ({ group: "queued_g", entityId: i.entity_id }));
    await Promise.all(keys.map((k) => env.ONLINE.delete(`v2:${k.group}:${k.entityId}`)));
    await env.ONLINE.put("v2:queued_g:q499", JSON.stringify({ f: {} }));
    const batch = createMessageBatch("fstore-jobs", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { type: "refresh-online", keys } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect(namesIn(await vectorOf("queued_g", "q499"))).toEqual([["queued_score", 499]]);
    expect(await vectorOf("queued_g", "q498")).toBeNull();
    // The uncached vector is filled by its first read, from D1.
    expect((await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["queued_score"], entity_ids: ["q498"] } })).results[0].values).toEqual({
      queued_score: 498,
    });
  });

  it("acks and drops a malformed job instead of retrying it forever", async () => {
    const batch = createMessageBatch("fstore-jobs", [{ id: "bad", timestamp: new Date(), attempts: 1, body: { type: "no-such-job" } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["bad"]);
  });
});

describe("queued online-cache refresh", () => {
  it("merges the refresh jobs of one queue batch and acks them all", async () => {
    await registerFeature({ name: "merged_score", feature_group: "merged_g" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "merged_score", entity_id: "m1", value: 1, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "merged_score", entity_id: "m2", value: 2, timestamp: "2024-01-01T00:00:00Z" },
      ],
    });
    // Both vectors are cached but stale, so the merged refresh must rebuild them.
    await env.ONLINE.put("v2:merged_g:m1", JSON.stringify({ f: {} }));
    await env.ONLINE.put("v2:merged_g:m2", JSON.stringify({ f: {} }));
    const batch = createMessageBatch("fstore-jobs", [
      { id: "a", timestamp: new Date(), attempts: 1, body: { type: "refresh-online", keys: [{ group: "merged_g", entityId: "m1" }] } },
      { id: "b", timestamp: new Date(), attempts: 1, body: { type: "refresh-online", keys: [{ group: "merged_g", entityId: "m1" }, { group: "merged_g", entityId: "m2" }] } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["a", "b"]);
    expect(namesIn(await vectorOf("merged_g", "m1"))).toEqual([["merged_score", 1]]);
    expect(namesIn(await vectorOf("merged_g", "m2"))).toEqual([["merged_score", 2]]);
  });
});
