/**
 * The write path's limits (src/ingest/rules.ts) on every way one value can enter — REST push,
 * batch, Feast /push and /write-to-online-store, SQL runs — and reads that never fail on what D1
 * holds, including rows written before the limits existed.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";
import { createConnector, materialize, pgConfig } from "./sql-helpers";
import { getPage, signIn } from "./ui-helpers";

const deep = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
const rowCount = async (feature: string) =>
  (await env.DB.prepare("SELECT (SELECT count(*) FROM feature_values v JOIN features f ON f.id = v.feature_id WHERE f.name = ?1) + (SELECT count(*) FROM feature_latest l JOIN features f ON f.id = l.feature_id WHERE f.name = ?1) AS n")
    .bind(feature)
    .first<{ n: number }>())?.n ?? 0;
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; details?: unknown } }).error;

/** Raw JSON bodies: JSON.stringify cannot write 1e400, lone surrogates or 100,000 levels of nesting as a client would. */
const hostileBodies: [string, string, RegExp][] = [
  ["a json value nested 100,000 levels", `{"entity_id":"e1","value":${deep(100_000)}}`, /at most 32 levels deep/],
  ["a json value nested 33 levels", `{"entity_id":"e1","value":${deep(33)}}`, /at most 32 levels deep/],
  ["1e400 inside a json value", `{"entity_id":"e1","value":{"x":[1e400]}}`, /finite/],
  ["-1e400 as a json value", `{"entity_id":"e1","value":-1e400}`, /finite/],
  ["a lone surrogate in a json string", `{"entity_id":"e1","value":{"k":"\\ud800x"}}`, /lone UTF-16 surrogate/],
  ["a lone surrogate in a json key", `{"entity_id":"e1","value":{"\\udc00":1}}`, /lone UTF-16 surrogate/],
  ["a lone surrogate as entity id", `{"entity_id":"\\ud800x","value":1}`, /lone UTF-16 surrogate/],
  ["250 CJK characters (750 bytes) as entity id", `{"entity_id":"${"中".repeat(250)}","value":1}`, /at most 256 bytes/],
  ["257 ASCII characters as entity id", `{"entity_id":"${"a".repeat(257)}","value":1}`, /at most 256 bytes/],
  ["a control character in the entity id", `{"entity_id":"a\\u0000b","value":1}`, /control characters/],
  ["'..' as entity id", `{"entity_id":"..","value":1}`, /'\.'/],
  ["an empty entity id", `{"entity_id":"","value":1}`, /must not be empty/],
  ["a value over 512 KiB", `{"entity_id":"e1","value":"${"x".repeat(512 * 1024 + 1)}"}`, /at most 524288 bytes/],
];

describe("limits on pushed values: a 400 naming the limit, nothing written", () => {
  it.each(hostileBodies)("POST /features/{id}/values refuses %s", async (_what, raw, message) => {
    await registerFeature({ name: "lim_json", value_type: "json" }).catch(() => undefined);
    const res = await call("POST", "/api/v1/features/lim_json/values", { raw });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await errorOf(res))).toMatch(message);
    expect(await rowCount("lim_json")).toBe(0);
  });

  it.each(hostileBodies)("POST /features/batch refuses %s as one bad item", async (_what, raw, message) => {
    await registerFeature({ name: "lim_batch", value_type: "json" }).catch(() => undefined);
    const item = raw.replace(/^\{/, '{"feature_id":"lim_batch",');
    const res = await call("POST", "/api/v1/features/batch", { raw: `[{"feature_id":"lim_batch","entity_id":"ok","value":1},${item}]` });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("INVALID_BATCH");
    expect(JSON.stringify(error.details)).toMatch(message);
    expect(await rowCount("lim_batch")).toBe(0);
  });

  it("a 512 KiB value is the limit, not past it: written and read back", async () => {
    await registerFeature({ name: "lim_big", value_type: "string" });
    const value = "x".repeat(512 * 1024 - 2); // plus two quotes = 512 KiB of JSON
    await callJson("POST", "/api/v1/features/lim_big/values", 200, { body: { entity_id: "e1", value } });
    expect((await callJson("GET", "/api/v1/features/lim_big/values/e1", 200)).value).toBe(value);
  });

  it("256 bytes of UTF-8 is the entity-id limit: written, read back by path, online and in history", async () => {
    await registerFeature({ name: "lim_entity", feature_group: "lim_entity_group" });
    const id = `${"é".repeat(127)}ab`; // 254 + 2 bytes
    await callJson("POST", "/api/v1/features/lim_entity/values", 200, { body: { entity_id: id, value: 1.5 } });
    expect((await callJson("GET", `/api/v1/features/lim_entity/values/${encodeURIComponent(id)}`, 200)).value).toBe(1.5);
    const online = await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["lim_entity"], entity_ids: [id] } });
    expect(online.results[0].values.lim_entity).toBe(1.5);
    expect((await callJson("GET", "/api/v1/features/lim_entity/values", 200)).values[0].entity_id).toBe(id);
  });

  it.each([
    ["float", "Infinity from 1e400", `{"entity_id":"e1","value":1e400}`, /finite number/],
    ["float_list", "1e400 in the list", `{"entity_id":"e1","value":[1,1e400]}`, /finite numbers/],
    ["int", "an integer past 2^53", `{"entity_id":"e1","value":9007199254740993}`, /integer/],
    ["float", "the string NaN", `{"entity_id":"e1","value":"NaN"}`, /finite number/],
    ["string", "a lone surrogate", `{"entity_id":"e1","value":"\\udfff"}`, /lone UTF-16 surrogate/],
  ])("a %s feature refuses %s", async (type, _what, raw, message) => {
    const name = `lim_${type}_${Math.random().toString(36).slice(2, 8)}`;
    await registerFeature({ name, value_type: type });
    const res = await call("POST", `/api/v1/features/${name}/values`, { raw });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(message);
    expect(await rowCount(name)).toBe(0);
  });
});

describe("SQL runs go through the same limits", () => {
  it.each([
    ["a json value nested 40 levels", "json", "SELECT 'e1' AS entity_id, repeat('[', 40) || repeat(']', 40) AS value", /row 1, column 'value'.*32 levels/],
    ["a 300-byte entity id", "float", "SELECT repeat('é', 150) AS entity_id, 1.5 AS value", /row 1, column 'entity_id'.*256 bytes/],
    ["NaN", "float", "SELECT 'e1' AS entity_id, 'NaN'::float8 AS value", /row 1, column 'value'.*finite number/],
  ])("a run reading %s fails naming the row and the limit; nothing is written", async (_what, type, query, message) => {
    await createConnector("lim_pg", "postgres", pgConfig()).catch(() => undefined);
    const name = `lim_sql_${Math.random().toString(36).slice(2, 8)}`;
    await registerFeature({ name, value_type: type, connector: "lim_pg", query, update_frequency: "1d" });
    const run = await materialize(name);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(message);
    expect(await rowCount(name)).toBe(0);
  });
});

describe("Feast /push and /write-to-online-store check entity ids like every other write", () => {
  const feast = (path: string, body: unknown) => call("POST", path, { raw: JSON.stringify(body), headers: { "content-type": "text/plain" } });
  it.each([
    ["/push", "push_source_name"],
    ["/write-to-online-store", "feature_view_name"],
  ])("%s refuses an empty id, a 5,000-character id and a lone surrogate; nothing is written", async (path, field) => {
    await registerFeature({ name: "lim_feast", entity_id: "driver_id", feature_group: "lim_feast_group" }).catch(() => undefined);
    for (const bad of ["", "x".repeat(5000), "\ud800x", ".."]) {
      const res = await feast(path, { [field]: "lim_feast_group", df: { driver_id: ["ok", bad], lim_feast: [1, 2] } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await errorOf(res))).toMatch(/entity_id/);
    }
    // Even without a feature column: the entity ids are still checked.
    expect((await feast(path, { [field]: "lim_feast_group", df: { driver_id: [""] } })).status).toBe(400);
    expect(await rowCount("lim_feast")).toBe(0);
  });

  it("/get-online-features answers 400, not 500, for a 5,000-character or over-long multibyte id", async () => {
    await registerFeature({ name: "lim_feast_read", entity_id: "driver_id", feature_group: "lim_feast_read_group" }).catch(() => undefined);
    for (const bad of ["x".repeat(5000), "é".repeat(256)]) {
      const res = await feast("/get-online-features", { features: ["lim_feast_read"], entities: { driver_id: [bad] } });
      expect(res.status).toBe(400);
    }
  });
});

describe("reads refuse ids that could never be stored (400), and never fail on stored data", () => {
  it("GET .../values/ + 'é'×256 (512 bytes) is a 400 even when nothing was written", async () => {
    await registerFeature({ name: "lim_read" }).catch(() => undefined);
    const res = await call("GET", `/api/v1/features/lim_read/values/${encodeURIComponent("é".repeat(256))}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/256 bytes/);
    expect((await call("POST", "/api/v1/online-features", { body: { features: ["lim_read"], entity_ids: ["中".repeat(100)] } })).status).toBe(400);
  });

  it("rows written before the limits existed (deep JSON, not JSON, over-long ids) read as null, never a 500", async () => {
    const { id } = await registerFeature({ name: "lim_legacy", value_type: "json", feature_group: "lim_legacy_group" });
    const row = await env.DB.prepare("SELECT id FROM features WHERE name = ?1").bind(id).first<{ id: number }>();
    const insert = (entity: string, value: string, ts: number) =>
      env.DB.batch([
        env.DB.prepare("INSERT INTO feature_values (feature_id, entity_id, ts, value) VALUES (?1, ?2, ?3, ?4)").bind(row?.id, entity, ts, value),
        env.DB.prepare("INSERT INTO feature_latest (feature_id, entity_id, ts, value) VALUES (?1, ?2, ?3, ?4)").bind(row?.id, entity, ts, value),
      ]);
    await insert("deep", deep(100_000), 1_700_000_000_000_000);
    await insert("garbage", "{not json", 1_700_000_000_000_001);
    await insert("x".repeat(600), "1", 1_700_000_000_000_002);
    expect((await callJson("GET", "/api/v1/features/lim_legacy/values/deep", 200)).value).toBeNull();
    expect((await callJson("GET", "/api/v1/features/lim_legacy/values/garbage", 200)).value).toBeNull();
    const history = await callJson("GET", "/api/v1/features/lim_legacy/values?limit=10", 200);
    expect(history.values).toHaveLength(3);
    const online = await callJson("POST", "/api/v1/online-features", 200, { body: { feature_group: "lim_legacy_group", entity_ids: ["deep", "garbage"] } });
    expect(online.results.map((r: any) => r.values.lim_legacy)).toEqual([null, null]);
    const training = await callJson("POST", "/api/v1/historical-features", 200, {
      body: { features: ["lim_legacy"], entity_rows: [{ entity_id: "deep", timestamp: "2030-01-01T00:00:00Z" }] },
    });
    expect(training.rows[0].lim_legacy).toBeNull();
    // The dashboard's page of the feature lists them too (the over-long id read from D1 alone, not KV).
    const page = await getPage("/ui/features/lim_legacy", await signIn());
    expect(page.status).toBe(200);
    expect(page.html).toContain("x".repeat(600));
    // A new value for the same entity is written and served again.
    await callJson("POST", "/api/v1/features/lim_legacy/values", 200, { body: { entity_id: "deep", value: { ok: true }, timestamp: "2030-01-01T00:00:00Z" } });
    expect((await callJson("GET", "/api/v1/features/lim_legacy/values/deep", 200)).value).toEqual({ ok: true });
  });
});
