/**
 * What the dashboard pages show, checked against the API: the features table and its filters,
 * a feature's chart, hourly counts and latest statuses, the online lookup (same answer as the
 * API), runs with per-file results, connectors without their secrets, keys shown once. Hostile
 * text is escaped wherever it appears, and bad input gets a clear error and changes nothing.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../src/index";
import { ADMIN_KEY, call, callJson, registerFeature } from "./helpers";
import { CORRUPT_BAD } from "./lake-fixtures";
import { s3Config } from "./lake-helpers";
import { createConnector, pgConfig } from "./sql-helpers";
import { getPage, postForm, signIn, submit, uiCall, unescapeHtml } from "./ui-helpers";

const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
let cookie: string;

async function push(feature: string, entity_id: string, value: unknown, timestamp: string) {
  await callJson("POST", `/api/v1/features/${feature}/values`, 200, { body: { entity_id, value, timestamp } });
}

/** The text of the element with `id` (a <pre> or <code>), unescaped. */
function textOf(html: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(pre|code)>`).exec(html);
  expect(match, `element #${id}`).not.toBeNull();
  return unescapeHtml((match as RegExpExecArray)[1] as string);
}

function expectNoRawHostile(html: string) {
  expect(html).not.toContain("<script>alert");
  expect(html).not.toContain("<img src=x");
  expect(html).not.toContain("<svg onload");
}

beforeAll(async () => {
  cookie = await signIn();
  await registerFeature({ name: "page_amount", entity_id: "customer", feature_group: "page_customers", description: HOSTILE, tags: { "<b>team</b>": HOSTILE }, ttl: 3600 });
  await registerFeature({ name: "page_label", entity_id: "customer", feature_group: "page_customers", value_type: "string" });
  await registerFeature({ name: "page_embedding", entity_id: "item", feature_group: "page_items", value_type: "float_list" });
  await registerFeature({ name: "page_percent_done", entity_id: "item", feature_group: "page_items", description: "share 100% done" });
  await registerFeature({ name: "page_x_y", entity_id: "item", feature_group: "page_items" });
  await registerFeature({ name: "pageAxBy", entity_id: "item", feature_group: "page_items" });
});

describe("features table", () => {
  it("lists, filters and counts features, and escapes what they hold", async () => {
    const all = await getPage("/ui/features?group=page_items", cookie);
    expect(all.status).toBe(200);
    expect(all.html).toContain("4 matching");
    for (const name of ["page_embedding", "page_percent_done", "page_x_y", "pageAxBy"]) expect(all.html).toContain(`/ui/features/${name}`);
    expect(all.html).not.toContain("/ui/features/page_amount");

    const typed = await getPage("/ui/features?type=float_list&source=push", cookie);
    expect(typed.html).toContain("/ui/features/page_embedding");
    expect(typed.html).toContain("1 matching");

    const mine = await getPage("/ui/features?group=page_customers", cookie);
    expect(mine.html).toContain("/ui/features/page_amount");
    expectNoRawHostile(mine.html);
    expect(mine.html).toContain("&lt;script&gt;");
  });

  it("searches names and descriptions, with % and _ as plain characters", async () => {
    const percent = await getPage(`/ui/features?q=${encodeURIComponent("100%")}`, cookie);
    expect(percent.html).toContain("/ui/features/page_percent_done");
    expect(percent.html).toContain("1 matching");
    // `_` must not match any character: pageAxBy is not page_x_y.
    const underscore = await getPage(`/ui/features?q=${encodeURIComponent("e_x_")}`, cookie);
    expect(underscore.html).toContain("/ui/features/page_x_y");
    expect(underscore.html).not.toContain("/ui/features/pageAxBy");
  });

  it("escapes a hostile search and answers bad filters with a clear 400", async () => {
    const hostile = await getPage(`/ui/features?q=${encodeURIComponent(`"><svg onload=alert(1)>' OR 1=1 --`)}`, cookie);
    expect(hostile.status).toBe(200);
    expectNoRawHostile(hostile.html);
    expect(hostile.html).toContain("0 matching");
    expect(hostile.html).toContain("&quot;&gt;&lt;svg onload=alert(1)&gt;");

    for (const odd of ["\u0000", "😀 ünïcödé", "\\", "'", "%_%", " "]) {
      const page = await getPage(`/ui/features?q=${encodeURIComponent(odd)}`, cookie);
      expect(page.status, JSON.stringify(odd)).toBe(200);
    }
    for (const [query, message] of [
      ["source=bogus", "source"],
      ["type=decimal", "type"],
      ["limit=100000", "at most 200 per page"],
      [`q=${"x".repeat(201)}`, "search text is at most 200 characters"],
      [`group=${encodeURIComponent("a b")}`, "group"],
    ] as const) {
      const page = await getPage(`/ui/features?${query}`, cookie);
      expect(page.status, query).toBe(400);
      expect(page.html).toContain(message);
      expect(page.html).not.toContain("matching</span>");
    }
  });
});

describe("a feature's page", () => {
  it("charts an entity's values, counts values per hour and escapes hostile entity ids", async () => {
    await push("page_amount", "c1", 10, "2024-03-01T10:05:00Z");
    await push("page_amount", "c1", 12.5, "2024-03-01T10:35:00Z");
    await push("page_amount", "c1", 11, "2024-03-01T12:15:00Z");
    await push("page_amount", "<svg onload=alert(1)>", 99, "2024-03-01T09:00:00Z");
    const page = await getPage("/ui/features/page_amount?entity=c1", cookie);
    expect(page.status).toBe(200);
    const chart = /<svg class="chart"[^>]*aria-label="page_amount for c1[^"]*"[\s\S]*?<\/svg>/.exec(page.html)?.[0] ?? "";
    expect(chart.match(/<circle/g)).toHaveLength(3);
    expect(chart).toContain("2024-03-01T10:35:00Z: 12.5");
    // 09:00 (1 value), 10:00 (2), 12:00 (1); 11:00 has none.
    const bars = [...page.html.matchAll(/<rect class="bar"[^>]*><title>([^<]+)<\/title>/g)].map((m) => m[1]);
    expect(bars).toEqual(["03-01 09:00 UTC: 1 values", "03-01 10:00 UTC: 2 values", "03-01 12:00 UTC: 1 values"]);
    expectNoRawHostile(page.html);
    expect(page.html).toContain("&lt;svg onload=alert(1)&gt;");
  });

  it("shows latest values with the statuses online serving gives them", async () => {
    const recent = new Date(Date.now() - 60_000).toISOString();
    await push("page_amount", "fresh", 5, recent);
    await push("page_amount", "nothing", null, recent);
    // c1's latest value (2024) is older than the feature's one-hour ttl.
    const page = await getPage("/ui/features/page_amount", cookie);
    const row = (entity: string) => new RegExp(`>${entity}</a></td><td[^>]*>([^<]*)</td><td><span class="badge (\\w+)"`).exec(page.html)?.slice(1);
    expect(row("fresh")).toEqual(["5", "PRESENT"]);
    expect(row("nothing")).toEqual(["null", "NULL_VALUE"]);
    expect(row("c1")).toEqual(["null", "OUTSIDE_MAX_AGE"]);
    // With no entity asked for, the chart shows the entity with the newest value.
    expect(page.html).toMatch(/Values over time.* for entity <span class="mono">(fresh|nothing)<\/span>/);
  });

  it("lists non-numeric values instead of charting them, and 404s an unknown feature", async () => {
    await push("page_label", "c1", "gold </td><script>x</script>", "2024-03-01T10:00:00Z");
    const page = await getPage("/ui/features/page_label?entity=c1", cookie);
    expect(page.html).toContain("Values of type string are listed, not charted.");
    expect(page.html).toContain("&quot;gold &lt;/td&gt;&lt;script&gt;x&lt;/script&gt;&quot;");
    expectNoRawHostile(page.html);
    // A value too large to load for a page is named by its size.
    await registerFeature({ name: "page_blob", entity_id: "customer", feature_group: "page_blobs", value_type: "json" });
    await push("page_blob", "c1", { notes: "x".repeat(20_000) }, "2024-03-01T10:00:00Z");
    await push("page_blob", "c1", { notes: "short" }, "2024-03-01T11:00:00Z");
    const blob = await getPage("/ui/features/page_blob?entity=c1", cookie);
    expect(blob.html).toContain("(20 KiB value, not shown)");
    expect(blob.html).toContain("{&quot;notes&quot;:&quot;short&quot;}");
    const tooLong = await getPage(`/ui/features/page_label?entity=${"e".repeat(300)}`, cookie);
    expect(tooLong.status).toBe(400);
    expect(tooLong.html).toContain("entity: entity_id must be at most 256 bytes of UTF-8");
    expect(tooLong.html).toContain("Definition");
    const missing = await getPage("/ui/features/no_such_feature", cookie);
    expect(missing.status).toBe(404);
    expect(missing.html).toContain("feature &#39;no_such_feature&#39; not found");
  });
});

describe("online lookup", () => {
  it("answers exactly what POST /api/v1/online-features answers, with curl and SDK calls to copy", async () => {
    await push("page_label", "c2", "silver", "2024-03-02T00:00:00Z");
    const entities = ["c1", "c2", "nobody", "o'brien"];
    const page = await submit("/ui/online", "/ui/online", cookie, { features: "page_amount, page_customers:page_label", entities: entities.join("\n") });
    expect(page.status).toBe(200);
    const api = await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["page_amount", "page_customers:page_label"], entity_ids: entities } });
    expect(JSON.parse(textOf(page.html, "online-json"))).toEqual(api);
    const curl = textOf(page.html, "online-curl");
    expect(curl).toContain(`${"http://fstore.test"}/api/v1/online-features`);
    expect(curl).toContain('-H "Authorization: Bearer $FSTORE_KEY"');
    expect(curl).toContain(`"o'\\''brien"`);
    expect(curl).not.toContain(ADMIN_KEY);
    expect(textOf(page.html, "online-sdk")).toContain(`store.getOnlineFeatures({\n  "features": [\n    "page_amount",`);
  });

  it("shows a large answer in part: 100 rows of the table, and no raw response past 20,000 values", async () => {
    for (let i = 0; i < 21; i++) await registerFeature({ name: `page_wide_${i}`, entity_id: "thing", feature_group: "page_wide" });
    const entities = Array.from({ length: 1000 }, (_, i) => `t${i}`).join("\n");
    const wide = await submit("/ui/online", "/ui/online", cookie, { group: "page_wide", entities });
    expect(wide.status).toBe(200);
    expect(wide.html).toContain("The first 100 of 1,000 entities are shown");
    expect(wide.html.match(/<td class="mono">t\d+<\/td>/g)).toHaveLength(100);
    expect(wide.html).not.toContain('id="online-json"');
    expect(wide.html).toContain("The response has 21,000 values, too many to repeat here");
    const narrow = await submit("/ui/online", "/ui/online", cookie, { features: "page_wide_0", entities });
    expect(JSON.parse(textOf(narrow.html, "online-json")).results).toHaveLength(1000);
  });

  it("looks up a whole group, and explains unknown features and too many entities", async () => {
    const group = await submit("/ui/online", "/ui/online", cookie, { group: "page_customers", entities: "c2" });
    expect(JSON.parse(textOf(group.html, "online-json")).features).toEqual(["page_amount", "page_label"]);
    const unknown = await submit("/ui/online", "/ui/online", cookie, { features: "page_amount\nnope_feature", entities: "c1" });
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain("unknown feature: nope_feature");
    const many = await submit("/ui/online", "/ui/online", cookie, { features: "page_amount", entities: Array.from({ length: 1001 }, (_, i) => `e${i}`).join("\n") });
    expect(many.status).toBe(400);
    expect(many.html).toContain("entity_ids");
    const both = await getPage("/ui/online?features=page_amount&group=page_customers&entities=c1", cookie);
    expect(both.status).toBe(400);
    expect(both.html).toContain("give exactly one of &#39;features&#39; or &#39;feature_group&#39;");
  });
});

describe("runs", () => {
  it("lists a SQL run with its numbers and shows its page", async () => {
    await createConnector("page_pg", "postgres", pgConfig());
    await registerFeature({ name: "page_orders", entity_id: "customer", connector: "page_pg", query: "SELECT customer_id AS entity_id, order_value AS value, created_at AS timestamp FROM orders WHERE id <= 40" });
    const run = await callJson<{ id: string; rows_read: number; status: string }>("POST", "/api/v1/features/page_orders/materialize?wait=true", 200);
    expect(run).toMatchObject({ status: "succeeded", rows_read: 40 });
    const list = await getPage("/ui/runs?feature=page_orders", cookie);
    expect(list.status).toBe(200);
    expect(list.html).toContain(`/ui/runs/${run.id}`);
    expect(list.html).toMatch(/<span data-field="status" class="badge succeeded">succeeded<\/span>/);
    const detail = await getPage(`/ui/runs/${run.id}`, cookie);
    expect(detail.html).toMatch(/Rows read<\/dt><dd data-field="rowsRead">40<\/dd>/);
    const live = await callJsonUi(`/ui/runs/live?ids=${run.id}`);
    expect(live).toEqual({ runs: [expect.objectContaining({ id: run.id, status: "succeeded", rowsRead: 40, fraction: 1 })] });
  });

  it("shows a failed run's error, escaped, and a data-lake run's per-file results", async () => {
    await registerFeature({ name: "page_broken", entity_id: "customer", connector: "page_pg", query: "SELECT '<b>x</b>' AS entity_id FROM no_such_table" });
    const failed = await callJson<{ id: string; status: string }>("POST", "/api/v1/features/page_broken/materialize?wait=true", 200);
    expect(failed.status).toBe("failed");
    const failedPage = await getPage(`/ui/runs/${failed.id}`, cookie);
    expect(failedPage.html).toContain("no_such_table");
    expect(failedPage.html).toContain('<span data-field="status" class="badge failed">failed</span>');

    await createConnector("page_s3", "s3", s3Config());
    await registerFeature({ name: "page_corrupt", entity_id: "thing", connector: "page_s3", path: "corrupt/*.parquet" });
    const lake = await callJson<{ id: string }>("POST", "/api/v1/features/page_corrupt/materialize?wait=true", 200);
    const page = await getPage(`/ui/runs/${lake.id}`, cookie);
    expect(page.html).toContain("Files matched</dt><dd>3</dd>");
    const files = [...page.html.matchAll(/<td class="mono wrap">([^<]+)<\/td><td class="num">[^<]+<\/td><td><span class="badge \w+">(\w+)<\/span>/g)].map((m) => [m[1], m[2]]);
    expect(files).toEqual([
      ["corrupt/a.parquet", "ingested"],
      [CORRUPT_BAD, "failed"],
      ["corrupt/c.parquet", "ingested"],
    ]);
  });

  it("answers an unknown run with 404 and bad filters with 400", async () => {
    expect((await getPage("/ui/runs/00000000-0000-4000-8000-000000000000", cookie)).status).toBe(404);
    expect((await getPage("/ui/runs?status=exploded", cookie)).status).toBe(400);
    expect((await getPage("/ui/runs?after=1;DROP", cookie)).status).toBe(400);
    expect((await uiCall("GET", "/ui/runs/live?ids=x", { headers: { cookie } })).status).toBe(400);
  });
});

async function callJsonUi(path: string) {
  const res = await uiCall("GET", path, { headers: { cookie } });
  expect(res.status).toBe(200);
  return res.json();
}

describe("connectors", () => {
  it("shows each connector and the features using it, never its secrets", async () => {
    // The reader role's real password (scripts/services.sh), so the connection test succeeds.
    const secret = "fstore-reader-pw";
    await createConnector("page_secret_pg", "postgres", pgConfig({ user: "fstore_reader", password: secret }));
    await registerFeature({ name: "page_uses_secret", entity_id: "customer", connector: "page_secret_pg", query: "SELECT 1, 2" });
    const page = await getPage("/ui/connectors", cookie);
    expect(page.html).toContain('id="connector-page_secret_pg"');
    expect(page.html).toContain('href="/ui/features/page_uses_secret"');
    expect(page.html).toContain("password (encrypted at rest, never shown)");
    expect(page.html).not.toContain(secret);
    const tested = await submit("/ui/connectors", "/ui/connectors/page_secret_pg/test", cookie, {});
    expect(tested.html).toContain("Connection test of page_secret_pg: OK");
    expect(tested.html).not.toContain(secret);
    const wrong = await callJson("POST", "/api/v1/connectors", 201, { body: { name: "page_wrong_pw", type: "postgres", config: pgConfig({ user: "fstore_reader", password: "wrong-pw-123" }) } });
    expect(wrong).toBeTruthy();
    const refused = await submit("/ui/connectors", "/ui/connectors/page_wrong_pw/test", cookie, {});
    expect(refused.html).toContain("Connection test of page_wrong_pw: failed (auth)");
    expect(refused.html).not.toContain("wrong-pw-123");
    expect((await getPage("/ui/features/page_uses_secret", cookie)).html).not.toContain(secret);
    expect((await submit("/ui/connectors", "/ui/connectors/no_such_connector/test", cookie, {})).status).toBe(404);
  });
});

describe("keys", () => {
  it("shows a new key once; the key works with the API; bad input creates nothing", async () => {
    const created = await submit("/ui/keys", "/ui/keys", cookie, { name: "ci <bot>", scope: ["read", "write"] });
    expect(created.status).toBe(200);
    const key = textOf(created.html, "new-key");
    expect(key).toMatch(/^fsk_/);
    expect(created.html).toContain("ci &lt;bot&gt;");
    expect((await call("POST", "/api/v1/features/page_amount/values", { key, body: { entity_id: "k1", value: 1 } })).status).toBe(200);
    expect((await call("GET", "/api/v1/keys", { key })).status).toBe(403);
    expect((await getPage("/ui/keys", cookie)).html).not.toContain(key);

    const count = async () => (await callJson<{ keys: unknown[] }>("GET", "/api/v1/keys", 200)).keys.length;
    const before = await count();
    for (const [fields, message] of [
      [{ name: "no scopes" }, "pick at least one scope"],
      [{ name: "root", scope: "root" }, "scopes are read, write and admin"],
      [{ name: "   ", scope: "read" }, "give the key a name"],
      [{ name: "x".repeat(129), scope: "read" }, "at most 128 characters"],
      [{ name: "bell\u0007", scope: "read" }, "control characters"],
    ] as const) {
      const res = await submit("/ui/keys", "/ui/keys", cookie, fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.html).toContain(message);
      expect(res.html).not.toContain('id="new-key"');
    }
    expect(await count()).toBe(before);
  });

  it("revokes a key: it stops working at once", async () => {
    const { id, key } = await callJson<{ id: string; key: string }>("POST", "/api/v1/keys", 201, { body: { name: "to-revoke", scopes: ["read"] } });
    expect((await call("GET", "/api/v1/features", { key })).status).toBe(200);
    const res = await submit("/ui/keys", `/ui/keys/${id}/revoke`, cookie, {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/ui/keys?revoked=${id}`);
    expect((await call("GET", "/api/v1/features", { key })).status).toBe(401);
    const list = await getPage(`/ui/keys?revoked=${id}`, cookie);
    expect(list.html).toContain(`Key ${id} revoked`);
    expect(list.html).toMatch(new RegExp(`id="key-${id}"[\\s\\S]*?badge revoked`));
    expect((await submit("/ui/keys", "/ui/keys/no-such-key/revoke", cookie, {})).status).toBe(404);
  });
});

describe("streams", () => {
  it("lists each stream feature with what it reads and its counters, from the events the consumer applied", async () => {
    await registerFeature({ name: "page_clicks_5m", entity_id: "user", topic: "ui_user_events", value_field: "clicks", window_size: "5m", aggregation: "sum" });
    const now = Date.now();
    const events = [1, 2, 3].map((n) => ({ key: "u1", value: { clicks: n }, timestamp: now - 1000, id: `ui-${n}` }));
    const batch = createMessageBatch("fstore-events", [{ id: "ui-m1", timestamp: new Date(), attempts: 1, body: { type: "events", topic: "ui_user_events", arrived: now, events } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await getQueueResult(batch, ctx);
    const page = await getPage("/ui/streams", cookie);
    expect(page.status).toBe(200);
    const row = page.html.slice(page.html.indexOf("page_clicks_5m"));
    expect(row).toContain("ui_user_events");
    expect(row).toContain("HTTP only");
    expect(row).toContain("sum over 5m (sliding, every 1m)");
    expect(row).toMatch(/<td class="num">3<\/td>/);
  });

  it("says so when no stream feature is registered", async () => {
    await env.DB.prepare("DELETE FROM features WHERE source_type = 'stream'").run();
    const page = await getPage("/ui/streams", cookie);
    expect(page.html).toContain("No stream features are registered.");
  });
});

describe("POST bodies", () => {
  it("rejects a dashboard form post that is not form-encoded without touching anything", async () => {
    const before = (await callJson<{ keys: unknown[] }>("GET", "/api/v1/keys", 200)).keys.length;
    const res = await postForm("/ui/keys", cookie, {}, { headers: { "content-type": "application/json" } });
    expect(res.status).toBe(403);
    expect((await callJson<{ keys: unknown[] }>("GET", "/api/v1/keys", 200)).keys.length).toBe(before);
  });
});
