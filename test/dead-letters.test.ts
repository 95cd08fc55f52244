/**
 * A failing item never blocks the others: a refresh job holding a key KV refuses (an over-long
 * entity id stored before the limits existed) still refreshes every other vector; the refused key
 * alone goes on, retried with backoff, and is dead-lettered after its last attempt. Dead letters of
 * both queues land in D1 and are listed, replayed and deleted through the API.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { vectorKey } from "../src/storage/online-cache";
import { call, callJson, createKey, registerFeature } from "./helpers";

/** The value JSON a cached vector holds for a feature (vectors are stored in served shape: [value JSON, time]). */
const cachedValue = async (group: string, entity: string, featureId: number | undefined) =>
  ((await env.ONLINE.get(vectorKey(group, entity), "json")) as { f: Record<string, [string, string]> } | null)?.f[String(featureId)]?.[0];

async function deliver(queue: string, messages: { id: string; attempts?: number; body: unknown }[]) {
  const batch = createMessageBatch(queue, messages.map((m) => ({ id: m.id, timestamp: new Date(1_700_000_000_000), attempts: m.attempts ?? 1, body: m.body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe("a refresh job with one bad key", () => {
  it("refreshes the victim's cached vector, acks, and hands the bad key on alone", async () => {
    const { id } = await registerFeature({ name: "dl_score", feature_group: "dl_group" });
    const featureId = (await env.DB.prepare("SELECT id FROM features WHERE name = ?1").bind(id).first<{ id: number }>())?.id;
    await callJson("POST", "/api/v1/features/dl_score/values", 200, { body: { entity_id: "victim", value: 1, timestamp: "2024-01-01T00:00:00Z" } });
    // A read caches the vector in KV; then D1 moves on (as a large write's commit does before its queued refresh).
    await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["dl_score"], entity_ids: ["victim"] } });
    expect(await cachedValue("dl_group", "victim", featureId)).toBe("1.0");
    const longId = "x".repeat(600); // stored before the limits: its KV key would be over 512 bytes
    await env.DB.batch([
      env.DB.prepare("UPDATE feature_latest SET value = '2', ts = 1704067300000000 WHERE feature_id = ?1 AND entity_id = 'victim'").bind(featureId),
      env.DB.prepare("INSERT INTO feature_latest (feature_id, entity_id, ts, value) VALUES (?1, ?2, 1704067300000000, '3')").bind(featureId, longId),
      // Time passes: the victim's KV write is older than KV's one second per key.
      env.DB.prepare("UPDATE online_vectors SET written_at = 0 WHERE feature_group = 'dl_group' AND entity_id = 'victim'"),
      // As if KV had held its vector before the limits existed: a cached refresh tries to rewrite it.
      env.DB.prepare("INSERT INTO online_vectors (feature_group, entity_id, written_at) VALUES ('dl_group', ?1, 0)").bind(longId),
    ]);
    const keys = [...Array.from({ length: 250 }, (_, i) => ({ group: "dl_group", entityId: `other_${i}` })), { group: "dl_group", entityId: longId }, { group: "dl_group", entityId: "victim" }];
    const sendBatch = env.JOBS.sendBatch.bind(env.JOBS);
    const sent: unknown[] = [];
    env.JOBS.sendBatch = async (messages) => {
      sent.push(...[...messages].map((m) => m.body));
      return sendBatch(messages);
    };
    const bad = [{ group: "dl_group", entityId: longId }];
    let result;
    try {
      // Queued refreshes only rebuild the vectors KV holds (online_vectors); all three do here.
      result = await deliver("fstore-jobs", [{ id: "mixed", body: { type: "refresh-online", mode: "cached", keys } }]);
    } finally {
      env.JOBS.sendBatch = sendBatch;
    }
    expect(await cachedValue("dl_group", "victim", featureId)).toBe("2.0");
    expect(result.explicitAcks).toEqual(["mixed"]);
    // Only the refused key goes on, alone, counting the attempt.
    expect(sent).toEqual([{ type: "refresh-online", mode: "pending", attempt: 1, keys: bad }]);

    // Its last attempt, a second later, refused too: it becomes a dead letter, listed by the API.
    await env.DB.prepare("UPDATE online_vectors SET written_at = 0 WHERE feature_group = 'dl_group' AND entity_id = ?1").bind(longId).run();
    const last = await deliver("fstore-jobs", [{ id: "last", body: { type: "refresh-online", mode: "pending", attempt: 10, keys: bad } }]);
    expect(last.explicitAcks).toEqual(["last"]);
    const letters = await callJson("GET", "/api/v1/dead-letters?queue=fstore-jobs", 200);
    expect(letters.dead_letters.some((d: { body: { keys: unknown } }) => JSON.stringify(d.body.keys) === JSON.stringify(bad))).toBe(true);
  });
});

describe("dead letters of both queues", () => {
  it("are stored once, listed, replayed to their queue and deleted", async () => {
    const read = await createKey(["read"]);
    const jobBody = { type: "refresh-online", keys: [{ group: "dl_group", entityId: "victim" }] };
    const first = await deliver("fstore-jobs-dlq", [{ id: "dlq-job-1", attempts: 1, body: jobBody }]);
    expect(first.explicitAcks).toEqual(["dlq-job-1"]);
    await deliver("fstore-jobs-dlq", [{ id: "dlq-job-1", attempts: 2, body: jobBody }]); // redelivered: stored once
    await deliver("fstore-events-dlq", [{ id: "dlq-event-1", body: { topic: "clicks", events: [{ entity_id: "u1", value: 1 }] } }]);

    const all = await callJson("GET", "/api/v1/dead-letters", 200, { key: read });
    const ours = all.dead_letters.filter((d: { id: string }) => d.id.startsWith("dlq-"));
    expect(ours.map((d: { id: string; queue: string }) => [d.id, d.queue]).sort()).toEqual([
      ["dlq-event-1", "fstore-events"],
      ["dlq-job-1", "fstore-jobs"],
    ]);
    expect(ours.find((d: { id: string }) => d.id === "dlq-job-1")).toMatchObject({ body: jobBody, attempts: 2, replays: 0, replayed_at: null });
    const jobsOnly = await callJson("GET", "/api/v1/dead-letters?queue=fstore-jobs&status=pending", 200);
    expect(jobsOnly.dead_letters.every((d: { queue: string }) => d.queue === "fstore-jobs")).toBe(true);

    // Replay needs admin; it sends the body back to the queue it failed on.
    expect((await call("POST", "/api/v1/dead-letters/dlq-job-1/replay", { key: read })).status).toBe(403);
    const send = env.JOBS.send.bind(env.JOBS);
    const replayed: unknown[] = [];
    env.JOBS.send = async (body, options) => {
      replayed.push(body);
      return send(body, options);
    };
    try {
      const after = await callJson("POST", "/api/v1/dead-letters/dlq-job-1/replay", 200);
      expect(after).toMatchObject({ id: "dlq-job-1", replays: 1 });
      expect(after.replayed_at).not.toBeNull();
    } finally {
      env.JOBS.send = send;
    }
    expect(replayed).toEqual([jobBody]);
    expect((await callJson("GET", "/api/v1/dead-letters?status=replayed", 200)).dead_letters.map((d: { id: string }) => d.id)).toContain("dlq-job-1");

    expect((await call("DELETE", "/api/v1/dead-letters/dlq-event-1")).status).toBe(204);
    expect((await call("GET", "/api/v1/dead-letters/dlq-event-1")).status).toBe(404);
    expect((await call("POST", "/api/v1/dead-letters/no-such/replay")).status).toBe(404);
  });

  it("pages with next_cursor", async () => {
    await deliver(
      "fstore-jobs-dlq",
      Array.from({ length: 5 }, (_, i) => ({ id: `dlq-page-${i}`, body: { type: "materialize", run_id: `r${i}` } })),
    );
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { dead_letters: { id: string }[]; next_cursor: string | null } = await callJson("GET", `/api/v1/dead-letters?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, 200);
      ids.push(...page.dead_letters.map((d) => d.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(ids.filter((id) => id.startsWith("dlq-page-")).sort()).toEqual(["dlq-page-0", "dlq-page-1", "dlq-page-2", "dlq-page-3", "dlq-page-4"]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
