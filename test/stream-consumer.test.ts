/**
 * The `events` queue consumer in workerd (createMessageBatch + getQueueResult): exactly-once effect
 * of redelivered events, poison events rejected and dead-lettered without blocking their message,
 * late events counted (and dead-lettered when asked), transient failures retried with backoff, a hot
 * entity (D1 exact on every batch, KV written at most once per second per key), and the clock
 * (values change when events leave the window, with no new event).
 */
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";

interface Ev {
  key: string | null;
  value: unknown;
  ts?: number;
  id?: string;
}

let seq = 0;
/** Delivers messages of events on `topic` to the consumer, as Queues would, and returns what it acked and retried. */
async function deliver(topic: string, messages: Ev[][], bindings: Partial<Env> = {}, attempts = 1) {
  const batch = createMessageBatch(
    "fstore-events",
    messages.map((events) => ({ id: `m${++seq}`, timestamp: new Date(), attempts, body: { type: "events", topic, arrived: Date.now(), events } })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...bindings }, ctx);
  return { ids: batch.messages.map((m) => m.id), result: await getQueueResult(batch, ctx) };
}

const history = async (feature: string, entity: string) =>
  (await callJson("GET", `/api/v1/features/${feature}/values?entity_id=${entity}`, 200)).values.map((v: { timestamp: string; value: unknown }) => [v.timestamp, v.value]);
const stats = async (feature: string) => (await callJson("GET", `/api/v1/features/${feature}`, 200)).stream_stats;
const latest = async (feature: string, entity: string) => (await callJson("GET", `/api/v1/features/${feature}/values/${entity}`, 200)).value;
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

afterEach(() => {
  vi.useRealTimers();
});

describe("events consumer", () => {
  it("applies a redelivered event once: same topic and id, in another message or the same one", async () => {
    await registerFeature({ name: "once_sum", topic: "once_t", value_field: "n", window_size: "10m", slide: "1m", aggregation: "sum" });
    const t = Date.UTC(2026, 0, 1, 0, 0, 30);
    const events = [
      { key: "e", value: { n: 2 }, ts: t, id: "once/0/1" },
      { key: "e", value: { n: 3 }, ts: t + 1000, id: "once/0/2" },
    ];
    const first = await deliver("once_t", [events]);
    expect(first.result.explicitAcks).toEqual(first.ids);
    await deliver("once_t", [events, [events[1] as Ev, events[1] as Ev]]);
    expect(await history("once_sum", "e")).toContainEqual([iso(Date.UTC(2026, 0, 1, 0, 1)), 5]);
    expect(await stats("once_sum")).toMatchObject({ events: 2, duplicates: 4 });
    // Without an id an event is applied each time it is delivered (at-least-once), as documented.
    await deliver("once_t", [[{ key: "e", value: { n: 10 }, ts: t }], [{ key: "e", value: { n: 10 }, ts: t }]]);
    expect(await history("once_sum", "e")).toContainEqual([iso(Date.UTC(2026, 0, 1, 0, 1)), 25]);
  });

  it("puts window values in point-in-time training sets: the value of the last boundary at or before each row, never a later event", async () => {
    await registerFeature({ name: "pit_sum", entity_id: "user", topic: "pit_t", value_field: "n", window_size: "2m", slide: "1m", aggregation: "sum" });
    const b0 = Date.UTC(2026, 0, 6);
    await deliver("pit_t", [[
      { key: "u", value: { n: 1 }, ts: b0 + 10_000, id: "p1" },
      { key: "u", value: { n: 2 }, ts: b0 + 70_000, id: "p2" },
    ]]);
    const rows = [50_000, 60_000, 65_000, 119_000, 120_000, 185_000, 240_000].map((ms) => ({ entity_id: "u", timestamp: new Date(b0 + ms).toISOString() }));
    const body = await callJson("POST", "/api/v1/historical-features", 200, { body: { features: ["pit_sum"], entity_rows: rows } });
    // 00:00:50: no boundary yet. 00:01:00: the first event. 00:01:05: still the 00:01 window (the
    // 00:01:10 event is not seen before its boundary). 00:02:00: both. 00:03:05: only the second. 00:04: none.
    expect(body.rows.map((r: { pit_sum: number | null }) => r.pit_sum)).toEqual([null, 1, 1, 1, 3, 2, 0]);
  });

  it("rejects poison events (no entity, not a number) into dead letters and applies the rest of the message", async () => {
    await registerFeature({ name: "poison_sum", topic: "poison_t", value_field: "n", window_size: "5m", aggregation: "sum" });
    const t = Date.UTC(2026, 0, 2, 0, 0, 10);
    const { ids, result } = await deliver("poison_t", [
      [
        { key: "p", value: { n: 1 }, ts: t },
        { key: null, value: { n: 1 }, ts: t },
        { key: "p", value: { n: "lots" }, ts: t },
        { key: "p", value: { other: 1 }, ts: t },
        { key: "p", value: { n: "4" }, ts: t },
        // Hours ahead of the clock: would push the watermark so far that every later event is late.
        { key: "p", value: { n: 100 }, ts: Date.now() + 3 * 3_600_000 },
      ],
    ]);
    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
    expect(await stats("poison_sum")).toMatchObject({ events: 2, rejected: 4, last_event_time: new Date(t).toISOString() });
    expect(await history("poison_sum", "p")).toContainEqual([iso(Date.UTC(2026, 0, 2, 0, 1)), 5]);
    const { dead_letters: letters } = await callJson("GET", "/api/v1/dead-letters?queue=fstore-events", 200);
    const mine = letters.find((d: { body: { feature?: string } }) => d.body.feature === "poison_sum");
    expect(mine.body.events).toHaveLength(4);
    expect(mine.body.rejected.join(" | ")).toMatch(/no key.*\|.*value.*'lots'.*\|.*no 'n'.*\|.*ahead of the Worker's clock/);
  });

  it("counts events older than the watermark minus allowed_lateness as late, applies none of them, and dead-letters them when asked", async () => {
    await registerFeature({ name: "late_count", topic: "late_t", window_size: "10m", slide: "1m", aggregation: "count", value_type: "int", allowed_lateness: "1m", dead_letter_late: true });
    const t = Date.UTC(2026, 0, 3, 1, 0, 0);
    await deliver("late_t", [[{ key: "l", value: {}, ts: t, id: "l1" }]]);
    // 30 s behind the watermark: inside the lateness, lands in its own (earlier) tile. 5 min behind: late.
    await deliver("late_t", [[{ key: "l", value: {}, ts: t - 30_000, id: "l2" }, { key: "l", value: {}, ts: t - 300_000, id: "l3" }]]);
    expect(await stats("late_count")).toMatchObject({ events: 2, late_events: 1, last_event_time: new Date(t).toISOString() });
    // Both counted events are in the tile (00:59:00, 01:00:00]; the late one (00:55:00) is nowhere.
    const rows = await history("late_count", "l");
    expect(rows.at(-1)).toEqual([iso(t), 2]);
    expect(Math.max(...rows.map((r: [string, number]) => r[1]))).toBe(2);
    const { dead_letters: letters } = await callJson("GET", "/api/v1/dead-letters?queue=fstore-events", 200);
    const late = letters.find((d: { body: { feature?: string; late?: boolean } }) => d.body.feature === "late_count" && d.body.late);
    expect(late.body.events.map((e: Ev) => e.id)).toEqual(["l3"]);
  });

  it("starts a feature's windows again when a change of definition changes what its tiles hold", async () => {
    await registerFeature({ name: "reset_sum", topic: "reset_t", value_field: "n", window_size: "10m", slide: "1m", aggregation: "sum" });
    await deliver("reset_t", [[{ key: "r", value: { n: 7 }, ts: Date.UTC(2026, 0, 5) }]]);
    const tiles = async () => (await env.DB.prepare("SELECT count(*) AS n FROM stream_tiles t JOIN features f ON f.id = t.feature_id WHERE f.name = 'reset_sum'").first<{ n: number }>())?.n;
    expect(await tiles()).toBe(1);
    await callJson("PATCH", "/api/v1/features/reset_sum", 200, { body: { aggregation: "max" } }); // same tiles serve max
    expect(await tiles()).toBe(1);
    await callJson("PATCH", "/api/v1/features/reset_sum", 200, { body: { slide: "2m" } });
    expect(await tiles()).toBe(0);
  });

  it("acks and drops events of a topic no feature reads any more (deleted after the events were accepted)", async () => {
    await registerFeature({ name: "gone_count", topic: "gone_t", window_size: "1m", aggregation: "count", value_type: "int" });
    await callJson("DELETE", "/api/v1/features/gone_count", 204);
    const { ids, result } = await deliver("gone_t", [[{ key: "g", value: 1, id: "g1" }]]);
    expect(result.explicitAcks).toEqual(ids);
    expect(result.retryMessages).toEqual([]);
  });

  it("retries a message with backoff when D1 fails, and dead-letters a malformed one", async () => {
    await registerFeature({ name: "flaky_count", topic: "flaky_t", window_size: "1m", aggregation: "count", value_type: "int" });
    const broken = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => Promise.reject(new Error("D1 is having a moment"));
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const { ids, result } = await deliver("flaky_t", [[{ key: "f", value: 1, ts: Date.UTC(2026, 0, 4), id: "f1" }]], { DB: broken }, 3);
    expect(result.explicitAcks).toEqual([]);
    // Retried (with backoff: 40 s on a third attempt — the test plugin does not report delays), never acked.
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(ids);
    const bad = createMessageBatch("fstore-events", [{ id: "garbage", timestamp: new Date(), attempts: 1, body: { type: "events", topic: 5 } }]);
    const ctx = createExecutionContext();
    await worker.queue(bad, env, ctx);
    expect((await getQueueResult(bad, ctx)).explicitAcks).toEqual(["garbage"]);
  });

  it("applies the other messages of a batch exactly once when one of them cannot be committed, and retries only that one", async () => {
    await registerFeature({ name: "split_sum", topic: "split_t", value_field: "n", window_size: "10m", slide: "1m", aggregation: "sum" });
    // A D1 whose transactions fail when they carry the event id 'poisoned': the batch's one
    // transaction fails, then the message holding that id fails on its own, and the others commit.
    const poisoned = new WeakSet<D1PreparedStatement>();
    const statement = (real: D1PreparedStatement): D1PreparedStatement =>
      new Proxy(real, {
        get(target, prop) {
          if (prop === "bind") {
            return (...args: unknown[]) => {
              const bound = target.bind(...args);
              if (args.some((a) => typeof a === "string" && a.includes('"poisoned"'))) poisoned.add(bound);
              return bound;
            };
          }
          const v = Reflect.get(target, prop);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    let batches = 0;
    const picky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare") return (sql: string) => statement(target.prepare(sql));
        if (prop === "batch") {
          return (statements: D1PreparedStatement[]) => {
            batches++;
            return statements.some((st) => poisoned.has(st)) ? Promise.reject(new Error("D1_ERROR: poisoned")) : target.batch(statements);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const t = Date.UTC(2026, 0, 4, 0, 0, 30);
    const a = [{ key: "s", value: { n: 1 }, ts: t, id: "a" }, { key: "s", value: { n: 2 }, ts: t, id: "b" }];
    const bad = [{ key: "s", value: { n: 100 }, ts: t, id: "poisoned" }];
    const c = [{ key: "s", value: { n: 4 }, ts: t, id: "c" }, { key: "s", value: { n: 1000 }, ts: t, id: "a" }];
    const { ids, result } = await deliver("split_t", [a, bad, c], { DB: picky });
    expect(batches).toBeGreaterThan(2);
    expect(result.explicitAcks.sort()).toEqual([ids[0], ids[2]].sort());
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([ids[1]]);
    // 1 + 2 + 4: the redelivered id 'a' in the third message is a duplicate, applied once.
    expect(await history("split_sum", "s")).toContainEqual([iso(Date.UTC(2026, 0, 4, 0, 1)), 7]);
    expect(await stats("split_sum")).toMatchObject({ events: 3, duplicates: 1 });
    // The whole batch again on a healthy D1: only the retried message counts.
    const again = await deliver("split_t", [a, bad, c]);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(await history("split_sum", "s")).toContainEqual([iso(Date.UTC(2026, 0, 4, 0, 1)), 107]);
    expect(await stats("split_sum")).toMatchObject({ events: 4, duplicates: 5 });
  });

  it("applies two consumers racing on one entity exactly: the one that commits second fails its guard and plans again from what the first wrote", async () => {
    await registerFeature({ name: "race_sum", topic: "race_t", value_field: "n", window_size: "10m", slide: "1m", aggregation: "sum" });
    const t = Date.UTC(2026, 0, 6, 0, 0, 30);
    const boundary = iso(Date.UTC(2026, 0, 6, 0, 1));
    /** Delivers `first`; once its read is answered, a second consumer applies `second` in full, then the first goes on. */
    const race = async (first: Ev[], second: Ev[]) => {
      let batches = 0;
      const racing = new Proxy(env.DB, {
        get(target, prop) {
          if (prop === "batch") {
            return async (statements: D1PreparedStatement[]) => {
              const n = ++batches;
              const results = await target.batch(statements);
              if (n === 1) expect((await deliver("race_t", [second])).result.explicitAcks).toHaveLength(1);
              return results;
            };
          }
          const v = Reflect.get(target, prop);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const { ids, result } = await deliver("race_t", [first], { DB: racing });
      expect(result.explicitAcks).toEqual(ids);
      expect(batches).toBeGreaterThanOrEqual(4); // read, a transaction a guard failed, read again, commit
    };
    const tiles = async (entity: string) =>
      env.DB.prepare("SELECT sum(t.count) AS n, sum(t.sum) AS s FROM stream_tiles t JOIN features f ON f.id = t.feature_id WHERE f.name = 'race_sum' AND t.entity_id = ?1").bind(entity).first();
    // This isolate's stream features include race_sum before the race (else the first read only finds them out of date).
    await deliver("race_t", [[{ key: "warm", value: { n: 0 }, ts: t, id: "w" }]]);
    // Different ids, same tile: the tiles read changed (a value computed from them would miss the other's 10).
    await race([{ key: "r", value: { n: 1 }, ts: t, id: "a1" }, { key: "r", value: { n: 2 }, ts: t, id: "a2" }], [{ key: "r", value: { n: 10 }, ts: t, id: "b1" }]);
    expect(await history("race_sum", "r")).toContainEqual([boundary, 13]);
    expect(await tiles("r")).toEqual({ n: 3, s: 13 });
    // The same id in both: the second consumer applied it first, so the first's copy is the duplicate.
    await race([{ key: "q", value: { n: 1 }, ts: t, id: "q1" }], [{ key: "q", value: { n: 1000 }, ts: t, id: "q1" }]);
    expect(await history("race_sum", "q")).toContainEqual([boundary, 1000]);
    expect(await tiles("q")).toEqual({ n: 1, s: 1000 });
    expect(await stats("race_sum")).toMatchObject({ events: 5, duplicates: 1 });
  });

  it("uses a definition changed by another isolate from the next batch on (the stream features' fingerprint)", async () => {
    await registerFeature({ name: "iso_sum", topic: "iso_t", value_field: "a", window_size: "10m", slide: "1m", aggregation: "sum" });
    const t = Date.UTC(2026, 0, 7, 0, 0, 30);
    await deliver("iso_t", [[{ key: "i", value: { a: 1, b: 100 }, ts: t, id: "i1" }]]);
    const first = iso(Date.UTC(2026, 0, 7, 0, 1));
    expect(await history("iso_sum", "i")).toContainEqual([first, 1]);
    // What another isolate's PATCH writes, without this isolate hearing of it.
    await env.DB.prepare("UPDATE features SET source = json_set(source, '$.value_field', 'b'), updated_at = updated_at + 1 WHERE name = 'iso_sum'").run();
    await deliver("iso_t", [[{ key: "i", value: { a: 1, b: 100 }, ts: t, id: "i2" }]]);
    expect(await history("iso_sum", "i")).toContainEqual([first, 101]);
  });

  it("keeps D1 exact on every batch for a hot entity (1,000 events in a few seconds) and writes its KV vector at most once per second", async () => {
    await registerFeature({ name: "hot_count", feature_group: "hot_g", topic: "hot_t", window_size: "1h", aggregation: "count", value_type: "int" });
    const puts: number[] = [];
    const kv = new Proxy(env.ONLINE, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (prop === "put" && args[0] === "v3:hot_g:hot") puts.push(Date.now());
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const started = Date.now();
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 50 }, (_, i) => ({ key: "hot", value: { i }, ts: Date.now(), id: `hot/${b}/${i}` }));
      const { result } = await deliver("hot_t", [events.slice(0, 25), events.slice(25)], { ONLINE: kv });
      expect(result.retryMessages).toEqual([]);
      // D1 (what reads fall back to and check young vectors against) is exact after every batch.
      const row = await env.DB.prepare("SELECT value FROM feature_latest l JOIN features f ON f.id = l.feature_id WHERE f.name = 'hot_count' AND l.entity_id = 'hot' ORDER BY ts DESC LIMIT 1").first<{ value: string }>();
      expect(Number(row?.value)).toBe((b + 1) * 50);
      expect(await latest("hot_count", "hot")).toBe((b + 1) * 50);
    }
    const elapsed = Date.now() - started;
    expect(puts.length).toBeGreaterThan(0);
    for (let i = 1; i < puts.length; i++) expect((puts[i] as number) - (puts[i - 1] as number)).toBeGreaterThanOrEqual(1000);
    expect(puts.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    // KV catches up (the coalesced refresh) with the final value.
    await expect
      .poll(async () => Object.values(((await env.ONLINE.get("v3:hot_g:hot", "json")) as { f: Record<string, [string, string]> } | null)?.f ?? {})[0]?.[0], { timeout: 20_000, interval: 250 })
      .toBe("1000");
  }, 120_000); // local D1 on a busy 2-core machine: a hang guard, not a performance bound

  it("changes the value when events leave the window though no new event arrives (the clock, via the cron)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.UTC(2031, 0, 1, 0, 0, 30);
    vi.setSystemTime(t0);
    await registerFeature({ name: "clock_count", topic: "clock_t", window_size: "2m", slide: "1m", aggregation: "count", value_type: "int" });
    await registerFeature({ name: "clock_last", topic: "clock_t", value_field: "page", window_size: "1m", value_type: "string" });
    await deliver("clock_t", [[{ key: "c", value: { page: "home" }, ts: t0 - 10_000 }]]);
    expect(await latest("clock_count", "c")).toBe(1);
    expect(await latest("clock_last", "c")).toBe("home");
    // 00:01:00 → 00:02:59: still in the window; the cron changes nothing.
    vi.setSystemTime(Date.UTC(2031, 0, 1, 0, 2, 50));
    const tick = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    await tick();
    expect(await latest("clock_count", "c")).toBe(1);
    // The window passes 00:03:00: the event has left it; the next cron writes 0 with no new event.
    vi.setSystemTime(Date.UTC(2031, 0, 1, 0, 3, 20));
    await tick();
    expect(await latest("clock_count", "c")).toBe(0);
    expect(await history("clock_count", "c")).toEqual([
      ["2031-01-01T00:03:00Z", 0],
      ["2031-01-01T00:01:00Z", 1],
    ]);
    // A windowed `last` reads as expired once its event is older than the window (ttl = window).
    const res = await call("GET", "/api/v1/features/clock_last/values/c");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("VALUE_EXPIRED");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM stream_clock c JOIN features f ON f.id = c.feature_id WHERE f.name = 'clock_count'").first<{ n: number }>()).toEqual({ n: 0 });
  });

  it("counts the events applied in the last whole minute (the dashboard's events/s), not older ones", async () => {
    await registerFeature({ name: "rate_last", topic: "rate_t", value_field: "n" });
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.UTC(2032, 0, 1, 0, 0, 10);
    vi.setSystemTime(t0);
    await deliver("rate_t", [[1, 2, 3].map((n) => ({ key: "e", value: { n }, ts: t0, id: `r${n}` }))]);
    expect((await stats("rate_last")).events_last_minute).toBe(0); // the minute is not over
    vi.setSystemTime(t0 + 60_000);
    expect((await stats("rate_last")).events_last_minute).toBe(3);
    await deliver("rate_t", [[4, 5].map((n) => ({ key: "e", value: { n }, ts: t0 + 60_000, id: `r${n}` }))]);
    expect((await stats("rate_last")).events_last_minute).toBe(3);
    vi.setSystemTime(t0 + 120_000);
    expect((await stats("rate_last")).events_last_minute).toBe(2);
    vi.setSystemTime(t0 + 240_000);
    expect((await stats("rate_last")).events_last_minute).toBe(0);
    expect((await stats("rate_last")).events).toBe(5);
  });
});
