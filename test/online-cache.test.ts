/**
 * The KV online cache against Cloudflare's production limits, which local workerd does not
 * enforce: one write per second per key (claims in D1; a storm on one entity is coalesced),
 * 1,000 KV operations per invocation (counted with a wrapper around the real local KV), and the
 * free plan's 1,000 writes a day (write-through off: KV filled by reads only, with an expiry).
 */
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";

interface StoredVector {
  w: number;
  f: Record<string, [string, string]>;
}
const vectorOf = async (group: string, entity: string) => (await env.ONLINE.get(`v3:${group}:${entity}`, "json")) as StoredVector | null;
const cellsOf = async (group: string, entity: string) => Object.values((await vectorOf(group, entity))?.f ?? {}).sort();

/** KV writes a response's Server-Timing reports (`kv;...;desc="N ops, ..., W writes (B)"`). */
function kvWrites(res: Response): number {
  const m = /kv;[^,]*desc="[^"]*?(\d+) writes/.exec(res.headers.get("server-timing") ?? "");
  return m ? Number(m[1]) : 0;
}

/** The real local KV, with every call counted (a bulk read of many keys is one call, as in production). */
function countingKv() {
  const counts = { ops: 0, puts: new Map<string, number>() };
  const kv = new Proxy(env.ONLINE, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts.ops++;
        if (prop === "put") counts.puts.set(args[0] as string, (counts.puts.get(args[0] as string) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, counts };
}

/** Calls the Worker with `bindings` over the test env, and waits for its background work. */
async function fetchWith(bindings: Partial<Env>, method: string, path: string, body?: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://fstore.test${path}`, {
      method,
      headers: { authorization: `Bearer ${env.FSTORE_ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, ...bindings },
    ctx,
  );
  await res.arrayBuffer().then((b) => Object.defineProperty(res, "bodyBytes", { value: b }));
  await waitOnExecutionContext(ctx);
  return res;
}
const bodyOf = (res: Response) => JSON.parse(new TextDecoder().decode((res as Response & { bodyBytes: ArrayBuffer }).bodyBytes));

const poll = { timeout: 20_000, interval: 200 }; // waits for the queue; a hang guard, not a performance bound

afterEach(() => {
  vi.useRealTimers();
});

describe("online cache", () => {
  it("holds one vector per (group, entity) in the shape it is served in, written through by a write", async () => {
    await registerFeature({ name: "cache_spend", feature_group: "cache_g" });
    await registerFeature({ name: "cache_visits", feature_group: "cache_g", value_type: "int" });
    await registerFeature({ name: "cache_tags", feature_group: "cache_g", value_type: "float_list" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "cache_spend", entity_id: "c1", value: 12, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "cache_spend", entity_id: "c1", value: 1, timestamp: "2023-12-31T00:00:00Z" }, // older: must not win
        { feature_id: "cache_visits", entity_id: "c1", value: 3, timestamp: "2024-01-01T00:00:00.5Z" },
        { feature_id: "cache_tags", entity_id: "c1", value: [1, 0.5], timestamp: "2024-01-01T00:00:00Z" },
      ],
    });
    // Value JSON exactly as served (floats keep a fraction) and the RFC 3339 time, per feature id.
    expect(await cellsOf("cache_g", "c1")).toEqual([
      ["12.0", "2024-01-01T00:00:00Z"],
      ["3", "2024-01-01T00:00:00.500000Z"],
      ["[1.0,0.5]", "2024-01-01T00:00:00Z"],
    ]);
    const res = await call("GET", "/api/v1/features/cache_spend/values/c1");
    expect(await res.text()).toBe('{"feature_id":"cache_spend","entity_id":"c1","value":12.0,"timestamp":"2024-01-01T00:00:00Z"}');
  });

  it("fills a vector from D1 when a read misses, and serves it from KV next time", async () => {
    await registerFeature({ name: "fill_score", feature_group: "fill_g" });
    // More than 200 entities: a bulk load writes no vector KV does not already hold.
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: Array.from({ length: 201 }, (_, i) => ({ feature_id: "fill_score", entity_id: `f${i}`, value: i / 2, timestamp: "2024-01-01T00:00:00Z" })),
    });
    expect(await vectorOf("fill_g", "f3")).toBeNull();
    const miss = await fetchWith({}, "GET", "/api/v1/features/fill_score/values/f3");
    expect(miss.headers.get("x-fstore-cache")).toBe("miss");
    expect(bodyOf(miss)).toMatchObject({ value: 1.5 });
    expect(await cellsOf("fill_g", "f3")).toEqual([["1.5", "2024-01-01T00:00:00Z"]]);
    // A vector written in the last 5 seconds is checked against D1 (a write may be waiting for
    // KV's second per key); past that, KV alone answers.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 6000);
    expect((await call("GET", "/api/v1/features/fill_score/values/f3")).headers.get("x-fstore-cache")).toBe("hit");
  });

  it("after a large write rebuilds only the vectors KV holds, and a write within KV's second per key lands from the queue", async () => {
    await registerFeature({ name: "bulk_score", feature_group: "bulk_g" });
    const load = (value: number) =>
      callJson("POST", "/api/v1/features/batch", 200, {
        body: Array.from({ length: 500 }, (_, i) => ({ feature_id: "bulk_score", entity_id: `q${i}`, value: value + i, timestamp: `2024-01-0${value}T00:00:00Z` })),
      });
    await load(1);
    await fetchWith({}, "POST", "/api/v1/online-features", { features: ["bulk_score"], entity_ids: ["q499"] }); // fills q499
    expect(await cellsOf("bulk_g", "q499")).toEqual([["500.0", "2024-01-01T00:00:00Z"]]);
    const second = await call("POST", "/api/v1/features/batch", {
      body: Array.from({ length: 500 }, (_, i) => ({ feature_id: "bulk_score", entity_id: `q${i}`, value: 2 + i, timestamp: "2024-01-02T00:00:00Z" })),
    });
    expect(second.status).toBe(200);
    // q499 was filled less than a second ago: its refresh is queued for after that second.
    await expect.poll(() => cellsOf("bulk_g", "q499"), poll).toEqual([["501.0", "2024-01-02T00:00:00Z"]]);
    expect(await vectorOf("bulk_g", "q498")).toBeNull(); // never read: never written
    expect((await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["bulk_score"], entity_ids: ["q498"] } })).results[0].values.bulk_score).toBe(500);
  });

  it("coalesces a push storm on one entity into one KV write per second; every push succeeds and KV catches up", async () => {
    await registerFeature({ name: "storm_score", feature_group: "storm_g", value_type: "int" });
    // The clock stands still during the storm, so all of it falls within one second.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2031-01-01T00:00:00Z"));
    const pushes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call("POST", "/api/v1/features/storm_score/values", { body: { entity_id: "hot", value: i, timestamp: `2024-01-01T00:00:${String(i).padStart(2, "0")}Z` } }),
      ),
    );
    expect(pushes.map((r) => r.status)).toEqual(pushes.map(() => 200));
    expect(pushes.reduce((n, r) => n + kvWrites(r), 0)).toBe(1);
    // D1 is current at once (history reads D1).
    expect((await callJson("GET", "/api/v1/features/storm_score/values?entity_id=hot&limit=1", 200)).values[0].value).toBe(39);
    // The queued refresh cannot write before the second has passed ...
    await new Promise((r) => setTimeout(r, 2500));
    expect((await cellsOf("storm_g", "hot"))[0]?.[0]).not.toBe("39");
    // ... and writes the latest value once it has.
    vi.setSystemTime(new Date("2031-01-01T00:00:01.001Z"));
    await expect.poll(async () => (await cellsOf("storm_g", "hot"))[0], poll).toEqual(["39", "2024-01-01T00:00:39Z"]);
  });

  it("never fails a write when KV refuses the refresh: it is retried from the queue", async () => {
    await registerFeature({ name: "refused_score", feature_group: "refused_g" });
    // Production KV answers 429 to a second write within a second; local KV never refuses, so it is simulated here.
    const refusing = new Proxy(env.ONLINE, {
      get(target, prop) {
        if (prop === "put") return () => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests"));
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await fetchWith({ ONLINE: refusing }, "POST", "/api/v1/features/refused_score/values", { entity_id: "r1", value: 4.25, timestamp: "2024-01-01T00:00:00Z" });
    expect(res.status).toBe(200);
    expect(await vectorOf("refused_g", "r1")).toBeNull();
    await expect.poll(() => cellsOf("refused_g", "r1"), poll).toEqual([["4.25", "2024-01-01T00:00:00Z"]]);
  });
});

describe("KV operations per invocation (at most 1,000)", () => {
  it("a read of 20,000 vectors that all miss stays under the limit, fills included", async () => {
    const names: string[] = [];
    for (let g = 0; g < 20; g++) {
      names.push(`wide_miss_${g}`);
      await registerFeature({ name: `wide_miss_${g}`, entity_id: "wm_entity", feature_group: `wm_g${g}` });
    }
    const { kv, counts } = countingKv();
    const res = await fetchWith({ ONLINE: kv }, "POST", "/api/v1/online-features", { features: names, entity_ids: Array.from({ length: 1000 }, (_, i) => `wm${i}`) });
    expect(res.status).toBe(200);
    expect(bodyOf(res).results).toHaveLength(1000);
    expect(counts.ops).toBeGreaterThanOrEqual(200); // 200 bulk reads ...
    expect(counts.ops).toBeLessThanOrEqual(1000); // ... and the fills, background work included
  });

  it("a write touching 200 vectors writes each once; a write touching 10,000 writes only the vectors KV holds", async () => {
    await registerFeature({ name: "ops_score", feature_group: "ops_g" });
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ feature_id: "ops_score", entity_id: `o${i}`, value: i, timestamp: "2024-01-01T00:00:00Z" }));
    const small = countingKv();
    expect((await fetchWith({ ONLINE: small.kv }, "POST", "/api/v1/features/batch", items(200))).status).toBe(200);
    expect(small.counts.ops).toBe(200);
    expect([...small.counts.puts.values()].every((n) => n === 1)).toBe(true);
    const large = countingKv();
    expect((await fetchWith({ ONLINE: large.kv }, "POST", "/api/v1/features/batch", items(10_000))).status).toBe(200);
    // Only o0..o199 are cached: at most those are written (inline, or by the queue if their second has not passed).
    expect(large.counts.ops).toBeLessThanOrEqual(200);
    expect([...large.counts.puts.keys()].every((key) => Number(key.slice("v3:ops_g:o".length)) < 200)).toBe(true);
  });

  it("a queue batch of ten 200-vector refreshes writes what one invocation may and queues the rest", async () => {
    await registerFeature({ name: "qb_score", feature_group: "qb_g" });
    const ids = Array.from({ length: 2000 }, (_, i) => `qb${i}`);
    for (let i = 0; i < ids.length; i += 1000) {
      await callJson("POST", "/api/v1/features/batch", 200, { body: ids.slice(i, i + 1000).map((id) => ({ feature_id: "qb_score", entity_id: id, value: 1, timestamp: "2024-01-01T00:00:00Z" })) });
    }
    // As if readers had cached all 2,000 vectors more than a second ago.
    await env.DB.prepare("INSERT INTO online_vectors (feature_group, entity_id, written_at, pending) SELECT 'qb_g', value, 0, 0 FROM json_each(?1)").bind(JSON.stringify(ids)).run();
    const messages = Array.from({ length: 10 }, (_, m) => ({
      id: `qb-${m}`,
      timestamp: new Date(),
      attempts: 1,
      body: { type: "refresh-online", mode: "cached", keys: ids.slice(m * 200, (m + 1) * 200).map((entityId) => ({ group: "qb_g", entityId })) },
    }));
    const batch = createMessageBatch("fstore-jobs", messages);
    const { kv, counts } = countingKv();
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ONLINE: kv }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
    expect(counts.ops).toBeLessThanOrEqual(1000);
    expect(counts.ops).toBeGreaterThan(900);
    // The rest went back to the queue and are written by later invocations.
    await expect.poll(async () => (await env.DB.prepare("SELECT count(*) AS n FROM online_vectors WHERE feature_group = 'qb_g' AND written_at > 0").first<{ n: number }>())?.n, { timeout: 60_000, interval: 500 }).toBe(2000);
  }, 120_000); // local KV writes are slow on a busy 2-core machine: a hang guard, not a performance bound

  it("merges the refresh jobs of one queue batch so each vector is written once", async () => {
    await registerFeature({ name: "merged_score", feature_group: "merged_g" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: Array.from({ length: 201 }, (_, i) => ({ feature_id: "merged_score", entity_id: `m${i}`, value: i, timestamp: "2024-01-01T00:00:00Z" })),
    });
    await env.DB.prepare("INSERT INTO online_vectors (feature_group, entity_id, written_at, pending) VALUES ('merged_g', 'm1', 0, 0), ('merged_g', 'm2', 0, 0)").run();
    const batch = createMessageBatch("fstore-jobs", [
      { id: "a", timestamp: new Date(), attempts: 1, body: { type: "refresh-online", keys: [{ group: "merged_g", entityId: "m1" }] } },
      { id: "b", timestamp: new Date(), attempts: 1, body: { type: "refresh-online", keys: [{ group: "merged_g", entityId: "m1" }, { group: "merged_g", entityId: "m2" }] } },
    ]);
    const { kv, counts } = countingKv();
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ONLINE: kv }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["a", "b"]);
    expect([...counts.puts]).toEqual([
      ["v3:merged_g:m1", 1],
      ["v3:merged_g:m2", 1],
    ]);
    expect(await cellsOf("merged_g", "m2")).toEqual([["2.0", "2024-01-01T00:00:00Z"]]);
  });

  it("acks and drops a malformed job instead of retrying it forever", async () => {
    const batch = createMessageBatch("fstore-jobs", [{ id: "bad", timestamp: new Date(), attempts: 1, body: { type: "no-such-job" } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["bad"]);
  });
});

describe("online_vectors", () => {
  it("the cron tick forgets vectors KV has dropped and keeps the others", async () => {
    const now = Date.now();
    await env.DB.prepare(
      "INSERT INTO online_vectors (feature_group, entity_id, written_at, pending, expires_at) VALUES ('prune_g', 'gone', ?1, 0, ?2), ('prune_g', 'kept', ?1, 0, NULL), ('prune_g', 'later', ?1, 0, ?3)",
    )
      .bind(now - 400_000, now - 100_000, now + 100_000)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const { results } = await env.DB.prepare("SELECT entity_id FROM online_vectors WHERE feature_group = 'prune_g' ORDER BY entity_id").all<{ entity_id: string }>();
    expect(results.map((r) => r.entity_id)).toEqual(["kept", "later"]);
  });
});

describe("write-through off (FSTORE_KV_WRITE_THROUGH = \"false\", for the free plan's 1,000 KV writes a day)", () => {
  it("writes make no KV write; reads fill KV with an expiry", async () => {
    await registerFeature({ name: "rt_score", feature_group: "rt_g" });
    const readThrough = { FSTORE_KV_WRITE_THROUGH: "false", FSTORE_KV_FILL_TTL: "120" } as unknown as Partial<Env>;
    const write = await fetchWith(readThrough, "POST", "/api/v1/features/rt_score/values", { entity_id: "e1", value: 1.5, timestamp: "2024-01-01T00:00:00Z" });
    expect(write.status).toBe(200);
    expect(kvWrites(write)).toBe(0);
    expect(await vectorOf("rt_g", "e1")).toBeNull();
    const read = await fetchWith(readThrough, "POST", "/api/v1/online-features", { features: ["rt_score"], entity_ids: ["e1"] });
    expect(bodyOf(read).results[0].values.rt_score).toBe(1.5);
    const { keys } = await env.ONLINE.list({ prefix: "v3:rt_g:e1" });
    expect(keys).toHaveLength(1);
    const expiresIn = (keys[0]?.expiration ?? 0) - Date.now() / 1000;
    expect(expiresIn).toBeGreaterThan(60);
    expect(expiresIn).toBeLessThanOrEqual(121);
  });

  it("refuses to serve with a clear 503 when the settings are invalid", async () => {
    const res = await fetchWith({ FSTORE_KV_WRITE_THROUGH: "false", FSTORE_KV_FILL_TTL: "10" } as unknown as Partial<Env>, "POST", "/api/v1/online-features", {
      features: ["rt_score"],
      entity_ids: ["nobody-here"],
    });
    expect(res.status).toBe(503);
    expect(bodyOf(res).error.message).toContain("FSTORE_KV_FILL_TTL");
  });
});
