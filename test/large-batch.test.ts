/**
 * A 10,000-value batch: chunked into a few D1 statements, one transaction, and its online-cache
 * refresh limited to the vectors readers have cached (D1 knows which). In its own file because the
 * queued work keeps the local runtime busy for a while after the request returns.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { callJson, registerFeature } from "./helpers";

describe("POST /api/v1/features/batch with 10,000 items", () => {
  it("accepts 10,000 items in one request and serves every one", async () => {
    await registerFeature({ name: "big_batch_score", feature_group: "big" });
    // A reader has looked up user_0 before the batch: KV remembers it as empty until a write.
    await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["big_batch_score"], entity_ids: ["user_0"] } });
    for (let i = 0; i < 100 && (await env.ONLINE.get("v3:big:user_0")) === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await env.ONLINE.get("v3:big:user_0", "json")).toEqual({ w: expect.any(Number), f: {} });
    const items = Array.from({ length: 10_000 }, (_, i) => ({
      feature_id: "big_batch_score",
      entity_id: `user_${i}`,
      value: i / 10,
      timestamp: "2024-06-01T00:00:00.123456",
    }));
    expect(await callJson("POST", "/api/v1/features/batch", 200, { body: items })).toEqual({ written: 10_000 });
    expect((await env.DB.prepare("SELECT count(*) AS n FROM feature_values v JOIN features f ON f.id = v.feature_id WHERE f.name = 'big_batch_score'").first<{ n: number }>())?.n).toBe(10_000);
    const latest = await env.DB.prepare("SELECT count(*) AS n FROM feature_latest l JOIN features f ON f.id = l.feature_id WHERE f.name = 'big_batch_score'").first<{ n: number }>();
    expect(latest?.n).toBe(10_000);
    expect((await callJson("GET", "/api/v1/features/big_batch_score/values/user_9999", 200)).value).toBe(999.9);
  });

  it("rebuilds the vectors readers had cached, and writes no others", async () => {
    // user_0 was filled less than a second before the batch, so its refresh waits in the jobs
    // queue for KV's second per key to pass; wait for it (bounded).
    const vector = async () => Object.values(((await env.ONLINE.get("v3:big:user_0", "json")) as { f: object } | null)?.f ?? {});
    for (let i = 0; i < 900 && (await vector()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await vector()).toEqual([["0.0", "2024-06-01T00:00:00.123456Z"]]);
    // Nobody read user_5000: no KV write for it, and its first read comes from D1.
    expect(await env.ONLINE.get("v3:big:user_5000")).toBeNull();
    const res = await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["big_batch_score"], entity_ids: ["user_5000"] } });
    expect(res.results[0].values.big_batch_score).toBe(500);
  }, 120_000); // local KV writes are slow on a busy 2-core machine: a hang guard, not a performance bound
});
