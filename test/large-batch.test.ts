/**
 * A 10,000-value batch: chunked into a few D1 statements, one transaction, and its online-cache
 * refresh handed to the jobs queue. In its own file because the queued refresh of 10,000 KV
 * vectors keeps the local runtime busy for a while after the request returns.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { callJson, registerFeature } from "./helpers";

describe("POST /api/v1/features/batch with 10,000 items", () => {
  it("accepts 10,000 items in one request and serves every one", async () => {
    await registerFeature({ name: "big_batch_score", feature_group: "big" });
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

  it("rebuilds every touched KV vector through the jobs queue", async () => {
    // The refresh runs in the queue consumer after the response; wait for it (bounded).
    const cached = async () => {
      const [first, last] = await Promise.all([env.ONLINE.get("v1:big:user_0", "json"), env.ONLINE.get("v1:big:user_9999", "json")]);
      return first !== null && last !== null;
    };
    for (let i = 0; i < 900 && !(await cached()); i++) await new Promise((r) => setTimeout(r, 100));
    const vector = (await env.ONLINE.get("v1:big:user_9999", "json")) as { f: Record<string, { n: string; v: unknown }> } | null;
    expect(Object.values(vector?.f ?? {})).toEqual([expect.objectContaining({ n: "big_batch_score", v: 999.9 })]);
  }, 120_000); // local KV writes are slow on a busy 2-core machine: a hang guard, not a performance bound
});
