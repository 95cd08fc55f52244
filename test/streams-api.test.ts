/**
 * The streams REST contract (docs/streaming.md): POST /api/v1/streams/{topic}/events (202 once
 * enqueued, 400 naming each bad event with nothing enqueued, 404 for a topic no feature reads,
 * scopes, limits), GET /api/v1/streams (no secrets), stream feature definitions (clear 400s) and
 * the kafka / pulsar connectors (secrets hidden, a real TCP connection test).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, callJson, createKey, registerFeature } from "./helpers";

const post = (topic: string, body: unknown, key?: string) => call("POST", `/api/v1/streams/${encodeURIComponent(topic)}/events`, { body, key });

describe("stream feature definitions", () => {
  it("accepts both shapes of the guide: top-level fields and stream_config", async () => {
    const a = await registerFeature({ name: "def_session", topic: "def_user_events", value_field: "session_data", window_size: "5m", value_type: "json" });
    expect(a).toMatchObject({ source_type: "stream", topic: "def_user_events", window_size: "5m", ttl: 300 });
    const b = await registerFeature({ name: "def_last_action", value_type: "string", stream_config: { topic: "def_customer_events", value_field: "action" } });
    expect(b).toMatchObject({ source_type: "stream", stream_config: { topic: "def_customer_events", value_field: "action" }, ttl: null });
    const c = await registerFeature({ name: "def_sum", topic: "def_t", value_field: "amount", window_size: "10m", aggregation: "sum", slide: "1m", allowed_lateness: "30s", dead_letter_late: true });
    expect(c).toMatchObject({ aggregation: "sum", slide: "1m" });
    expect((await callJson("GET", "/api/v1/features/def_sum", 200)).stream_stats).toEqual({ events: 0, late_events: 0, duplicates: 0, rejected: 0, last_event_time: null, last_applied_at: null, events_last_minute: 0 });
  });

  it("gives a stream feature without value_type the type of what it computes: json for last, int for count, float otherwise", async () => {
    expect(await registerFeature({ name: "def_vt_last", stream_config: { topic: "def_vt_t", value_field: "action" } })).toMatchObject({ value_type: "json" });
    expect(await registerFeature({ name: "def_vt_count", topic: "def_vt_t", window_size: "5m", aggregation: "count" })).toMatchObject({ value_type: "int" });
    expect(await registerFeature({ name: "def_vt_sum", topic: "def_vt_t", value_field: "n", window_size: "5m", aggregation: "sum" })).toMatchObject({ value_type: "float" });
    expect(await registerFeature({ name: "def_vt_set", topic: "def_vt_t", value_field: "action", value_type: "string" })).toMatchObject({ value_type: "string" });
    expect(await registerFeature({ name: "def_vt_push", entity_id: "customer" })).toMatchObject({ value_type: "float" });
  });

  it("keeps a windowed last's ttl on its window when the window changes, and a ttl the user set as set", async () => {
    await registerFeature({ name: "def_ttl_follow", topic: "def_ttl_t", value_field: "v", window_size: "5m", value_type: "string" });
    expect(await callJson("PATCH", "/api/v1/features/def_ttl_follow", 200, { body: { window_size: "10m" } })).toMatchObject({ ttl: 600 });
    await registerFeature({ name: "def_ttl_own", topic: "def_ttl_t", value_field: "v", window_size: "5m", value_type: "string", ttl: "1h" });
    expect(await callJson("PATCH", "/api/v1/features/def_ttl_own", 200, { body: { window_size: "10m" } })).toMatchObject({ ttl: 3600 });
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ["an unknown aggregation", { topic: "t", value_field: "v", window_size: "5m", aggregation: "median" }, "aggregation", /unknown aggregation 'median'/],
    ["a bad duration", { topic: "t", value_field: "v", window_size: "5 minutes" }, "window_size", /duration/],
    ["a slide that does not divide the window", { topic: "t", value_field: "v", window_size: "5m", slide: "7s" }, "slide", /divide/],
    ["sum on a string feature", { topic: "t", value_field: "v", window_size: "5m", aggregation: "sum", value_type: "string" }, "value_type", /float or int/],
    ["avg on an int feature", { topic: "t", value_field: "v", window_size: "5m", aggregation: "avg", value_type: "int" }, "value_type", /float/],
    ["a tumbling window without window_size", { topic: "t", value_field: "v", window: "tumbling" }, "window_size", /needs a window_size/],
    ["sum without a window", { topic: "t", value_field: "v", aggregation: "sum" }, "window_size", /needs a window_size/],
    ["sum without a value_field", { topic: "t", window_size: "5m", aggregation: "sum" }, "value_field", /value_field/],
    ["an unknown window kind", { topic: "t", value_field: "v", window_size: "5m", window: "session" }, "window", /sliding or tumbling/],
    ["a slide on a tumbling window", { topic: "t", value_field: "v", window_size: "5m", window: "tumbling", slide: "1m" }, "slide", /sliding/],
  ];
  for (const [what, def, path, message] of bad) {
    it(`refuses ${what} with a 400 naming the field`, async () => {
      const res = await call("POST", "/api/v1/features", { body: { name: `def_bad_${path}`, ...def } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string; details: { path: string; message: string }[] } };
      expect(body.error.details[0]?.path).toBe(path);
      expect(body.error.message).toMatch(message);
    });
  }

  it("names a stream_config field by its nested path", async () => {
    const res = await call("POST", "/api/v1/features", { body: { name: "def_bad_nested", stream_config: { topic: "t", value_field: "v", aggregation: "median", window_size: "1m" } } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe("stream_config.aggregation");
  });
});

describe("POST /api/v1/streams/{topic}/events", () => {
  it("answers 202 with the count once the events are enqueued", async () => {
    await registerFeature({ name: "ev_clicks", topic: "ev_clicks_topic", value_field: "n", window_size: "1m", aggregation: "count", value_type: "int" });
    const res = await post("ev_clicks_topic", [
      { key: "u1", value: { n: 1 }, timestamp: Date.now(), id: "e1" },
      { key: "u2", value: { n: 2 }, timestamp: new Date().toISOString() },
      { key: null, value: "plain text" },
    ]);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3 });
  });

  it("takes a URL-encoded Pulsar topic", async () => {
    const topic = "persistent://public/default/ev_pulsar";
    await registerFeature({ name: "ev_pulsar_last", value_type: "json", stream_config: { topic } });
    const res = await post(topic, [{ key: "k", value: { a: 1 }, id: "pulsar/persistent://public/default/ev_pulsar/1:2:-1" }]);
    expect(res.status).toBe(202);
  });

  it("answers 404 NOT_FOUND naming a topic no stream feature reads", async () => {
    const res = await post("ev_nobody_reads_this", [{ key: "k", value: 1 }]);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).toContain("ev_nobody_reads_this");
  });

  it("refuses a batch with bad events with a 400 naming each bad index, and enqueues nothing", async () => {
    await registerFeature({ name: "ev_bad", topic: "ev_bad_topic", value_field: "n", window_size: "1m", aggregation: "sum" });
    const res = await post("ev_bad_topic", [
      { key: "ok", value: { n: 1 }, id: "fine" },
      { key: 5, value: { n: 1 } },
      { key: "ok", value: { n: 1 }, timestamp: "yesterday" },
      { key: "ok" },
      { key: "ok", value: 1, id: "x".repeat(257) },
      "not an object",
      { key: "ok", value: "y".repeat(130 * 1024) },
    ]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; details: { items: { index: number; errors: { path: string }[] }[] } } };
    expect(body.error.code).toBe("INVALID_BATCH");
    expect(body.error.message).toMatch(/6 of 7 events are invalid; nothing was enqueued/);
    expect(body.error.details.items.map((i) => [i.index, i.errors[0]?.path])).toEqual([
      [1, "key"],
      [2, "timestamp"],
      [3, "value"],
      [4, "id"],
      [5, ""],
      [6, ""],
    ]);
  });

  it("refuses more than 5,000 events and a body that is not an array", async () => {
    await registerFeature({ name: "ev_many", topic: "ev_many_topic" });
    const many = Array.from({ length: 5001 }, (_, i) => ({ key: `k${i}`, value: i }));
    expect((await post("ev_many_topic", many)).status).toBe(400);
    expect((await post("ev_many_topic", { key: "k", value: 1 })).status).toBe(400);
    const ok = Array.from({ length: 5000 }, (_, i) => ({ key: `k${i % 50}`, value: i, id: `many/${i}` }));
    const res = await post("ev_many_topic", ok);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 5000 });
  });

  it("enqueues within Queues' limits: each message at most 128 KB, each sendBatch at most 100 messages and 256 KB", async () => {
    await registerFeature({ name: "ev_big", topic: "ev_big_topic", value_type: "string", value_field: "s" });
    const sends: { messages: number; bytes: number; largest: number; events: number }[] = [];
    const encoder = new TextEncoder();
    const events = new Proxy(env.EVENTS, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (prop !== "sendBatch") return typeof v === "function" ? v.bind(target) : v;
        return (batch: MessageSendRequest<{ events: unknown[] }>[], options?: QueueSendBatchOptions) => {
          const sizes = batch.map((m) => encoder.encode(JSON.stringify(m.body)).byteLength);
          sends.push({ messages: batch.length, bytes: sizes.reduce((a, b) => a + b, 0), largest: Math.max(...sizes), events: batch.reduce((n, m) => n + m.body.events.length, 0) });
          return target.sendBatch(batch, options);
        };
      },
    });
    const body = [
      ...Array.from({ length: 3000 }, (_, i) => ({ key: `k${i}`, value: { s: "x".repeat(900) }, id: `big/${i}` })),
      { key: "huge", value: { s: "y".repeat(110 * 1024) }, id: "big/huge" },
    ];
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://fstore.test/api/v1/streams/ev_big_topic/events", { method: "POST", headers: { authorization: `Bearer ${env.FSTORE_ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
      { ...env, EVENTS: events },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(202);
    expect(sends.length).toBeGreaterThan(1);
    for (const s of sends) {
      expect(s.messages).toBeLessThanOrEqual(100);
      expect(s.bytes).toBeLessThanOrEqual(256 * 1024);
      expect(s.largest).toBeLessThanOrEqual(128 * 1024);
    }
    expect(sends.reduce((n, s) => n + s.events, 0)).toBe(3001);
  });

  it("needs the write scope", async () => {
    await registerFeature({ name: "ev_scoped", topic: "ev_scoped_topic" });
    const read = await createKey(["read"]);
    expect((await post("ev_scoped_topic", [{ key: "k", value: 1 }], read)).status).toBe(403);
    const write = await createKey(["write"]);
    expect((await post("ev_scoped_topic", [{ key: "k", value: 1 }], write)).status).toBe(202);
    expect((await call("POST", "/api/v1/streams/ev_scoped_topic/events", { body: [], key: null })).status).toBe(401);
  });
});

describe("GET /api/v1/streams", () => {
  it("lists one entry per (connector, topic) with its features and never a secret", async () => {
    await callJson("POST", "/api/v1/connectors", 201, {
      body: {
        name: "ls_kafka",
        type: "kafka",
        config: { bootstrap_servers: "127.0.0.1:9092", group_id: "g", security_protocol: "SASL_SSL", sasl_mechanism: "scram-sha-256", sasl_username: "u", sasl_password: "s3cret-pass" },
      },
    });
    await registerFeature({ name: "ls_a", topic: "ls_topic", connector: "ls_kafka" });
    await registerFeature({ name: "ls_b", topic: "ls_topic", connector: "ls_kafka", value_field: "x", window_size: "1m", aggregation: "max" });
    await registerFeature({ name: "ls_http", topic: "ls_topic" });
    const res = await call("GET", "/api/v1/streams", { key: await createKey(["read"]) });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("s3cret-pass");
    const { streams } = JSON.parse(text) as { streams: { topic: string; connector: { name: string } | null; features: string[] }[] };
    const mine = streams.filter((s) => s.topic === "ls_topic");
    expect(mine).toEqual([
      {
        topic: "ls_topic",
        connector: null,
        features: ["ls_http"],
        stats: { events: 0, late_events: 0, duplicates: 0, rejected: 0, last_event_time: null, last_applied_at: null, events_last_minute: 0 },
      },
      {
        topic: "ls_topic",
        connector: {
          name: "ls_kafka",
          type: "kafka",
          config: { bootstrap_servers: "127.0.0.1:9092", group_id: "g", auto_offset_reset: "latest", security_protocol: "SASL_SSL", sasl_mechanism: "scram-sha-256", sasl_username: "u", connect_timeout: 10 },
          secret_fields: ["sasl_password"],
        },
        features: ["ls_a", "ls_b"],
        stats: { events: 0, late_events: 0, duplicates: 0, rejected: 0, last_event_time: null, last_applied_at: null, events_last_minute: 0 },
      },
    ]);
  });

  it("binds an existing stream feature to a connector with PATCH {connector} (admin), and refuses a SQL connector", async () => {
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "bind_pulsar", type: "pulsar", config: { service_url: "pulsar://127.0.0.1:6650", subscription_name: "s" } } });
    await registerFeature({ name: "bind_me", topic: "bind_topic" });
    expect((await call("PATCH", "/api/v1/features/bind_me", { body: { connector: "bind_pulsar" }, key: await createKey(["write"]) })).status).toBe(403);
    await callJson("PATCH", "/api/v1/features/bind_me", 200, { body: { connector: "bind_pulsar" } });
    const { streams } = await callJson<{ streams: { topic: string; connector: { name: string } | null }[] }>("GET", "/api/v1/streams", 200);
    expect(streams.find((s) => s.topic === "bind_topic")?.connector?.name).toBe("bind_pulsar");
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "bind_pg", type: "postgres", config: { host: "127.0.0.1", database: "d", user: "u", password: "p" } } });
    const res = await call("PATCH", "/api/v1/features/bind_me", { body: { connector: "bind_pg" } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("needs a kafka or pulsar connector");
  });
});

describe("kafka and pulsar connectors", () => {
  const listening = Number(env.TEST_BLACKHOLE_PORT); // a local port that accepts TCP connections

  it("kafka: keeps sasl_password secret and tests TCP reachability of every bootstrap server", async () => {
    const created = await callJson("POST", "/api/v1/connectors", 201, {
      body: { name: "k_ok", type: "kafka", config: { bootstrap_servers: `127.0.0.1:${listening},localhost:${listening}`, group_id: "feature_store_group", security_protocol: "SASL_PLAINTEXT", sasl_mechanism: "plain", sasl_username: "u", sasl_password: "hidden-pw" } },
    });
    expect(JSON.stringify(created)).not.toContain("hidden-pw");
    expect(created.secret_fields).toEqual(["sasl_password"]);
    const result = await callJson("POST", "/api/v1/connectors/k_ok/test", 200);
    expect(result).toMatchObject({ ok: true });
    expect(result.message).toContain(`127.0.0.1:${listening}, localhost:${listening}`);
    expect(result.message).toContain("no Kafka request was made");
  });

  it("kafka: a refused port fails the test as 'refused'; a bad config is a 400", async () => {
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "k_refused", type: "kafka", config: { bootstrap_servers: `127.0.0.1:${listening},127.0.0.1:1`, group_id: "g" } } });
    expect(await callJson("POST", "/api/v1/connectors/k_refused/test", 200)).toMatchObject({ ok: false, kind: "refused" });
    const bad = await call("POST", "/api/v1/connectors", { body: { name: "k_bad", type: "kafka", config: { bootstrap_servers: "localhost", group_id: "g" } } });
    expect(bad.status).toBe(400);
    const sasl = await call("POST", "/api/v1/connectors", { body: { name: "k_bad2", type: "kafka", config: { bootstrap_servers: "localhost:9092", group_id: "g", security_protocol: "SASL_SSL" } } });
    expect(sasl.status).toBe(400);
    expect(await sasl.text()).toContain("sasl_mechanism");
  });

  it("kafka: the egress policy applies (metadata addresses are refused)", async () => {
    const res = await call("POST", "/api/v1/connectors", { body: { name: "k_meta", type: "kafka", config: { bootstrap_servers: "169.254.169.254:9092", group_id: "g" } } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("egress");
  });

  it("pulsar: keeps the token secret; tests the broker's TCP port, and the web service when set", async () => {
    const created = await callJson("POST", "/api/v1/connectors", 201, {
      body: { name: "p_ok", type: "pulsar", config: { service_url: `pulsar://127.0.0.1:${listening}`, subscription_name: "feature_store_sub", token: "tok-secret" } },
    });
    expect(JSON.stringify(created)).not.toContain("tok-secret");
    expect(created.config).toMatchObject({ tenant: "public", namespace: "default", subscription_type: "Shared" });
    const ok = await callJson("POST", "/api/v1/connectors/p_ok/test", 200);
    expect(ok).toMatchObject({ ok: true });
    expect(ok.message).toContain(`TCP connection opened to the broker (127.0.0.1:${listening})`);
    await callJson("POST", "/api/v1/connectors", 201, {
      body: { name: "p_web", type: "pulsar", config: { service_url: `pulsar://127.0.0.1:${listening}`, subscription_name: "s", web_service_url: "http://127.0.0.1:1", token: "tok-secret" } },
    });
    const web = await callJson("POST", "/api/v1/connectors/p_web/test", 200);
    expect(web.ok).toBe(false);
    expect(JSON.stringify(web)).not.toContain("tok-secret");
    // A web service that answers: the namespace's topics are listed with the token.
    await callJson("POST", "/api/v1/connectors", 201, {
      body: { name: "p_admin", type: "pulsar", config: { service_url: `pulsar://127.0.0.1:${listening}`, subscription_name: "s", web_service_url: env.TEST_REDIRECT_RECORDER, token: "admin-tok", namespace: "feat" } },
    });
    const admin = await callJson("POST", "/api/v1/connectors/p_admin/test", 200);
    expect(admin).toMatchObject({ ok: true });
    expect(admin.message).toContain("listed the topics of public/feat with the token");
    const seen = (await (await fetch(`${env.TEST_REDIRECT_RECORDER}/seen`)).json()) as { url: string; headers: Record<string, string> }[];
    expect(seen.filter((r) => r.url === "/admin/v2/persistent/public/feat").map((r) => r.headers.authorization)).toEqual(["Bearer admin-tok"]);
    // A web service that redirects elsewhere: not followed (the token stays), a failed test.
    await callJson("POST", "/api/v1/connectors", 201, {
      body: { name: "p_redirect", type: "pulsar", config: { service_url: `pulsar://127.0.0.1:${listening}`, subscription_name: "s", web_service_url: env.TEST_HOSTILE_STORE, token: "redirect-tok", namespace: "moved" } },
    });
    expect(await callJson("POST", "/api/v1/connectors/p_redirect/test", 200)).toMatchObject({ ok: false, message: expect.stringContaining("HTTP 307") });
    const after = (await (await fetch(`${env.TEST_REDIRECT_RECORDER}/seen`)).json()) as { url: string }[];
    expect(after.some((r) => r.url.includes("/moved"))).toBe(false);
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "p_refused", type: "pulsar", config: { service_url: "pulsar://127.0.0.1:1", subscription_name: "s" } } });
    expect(await callJson("POST", "/api/v1/connectors/p_refused/test", 200)).toMatchObject({ ok: false, kind: "refused" });
  });
});
