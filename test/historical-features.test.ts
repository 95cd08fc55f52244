/** POST /api/v1/historical-features: point-in-time correct training sets. */
import fc from "fast-check";
import { parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";

const iso = (seconds: number) => new Date(Date.UTC(2024, 0, 1) + seconds * 1000).toISOString().replace(".000Z", "Z");
let seq = 0;
const unique = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${seq++}`;

interface Pushed {
  feature: string;
  entity: string;
  t: number;
  value: number;
}

/** The answer by brute force: the latest value at or before t, within ttl, the last delivery winning ties. */
function reference(history: Pushed[], feature: string, entity: string, t: number, ttl: number | null): number | null {
  let best: Pushed | null = null;
  for (const h of history) {
    if (h.feature !== feature || h.entity !== entity || h.t > t) continue;
    if (!best || h.t >= best.t) best = h;
  }
  if (!best || (ttl !== null && t - best.t > ttl)) return null;
  return best.value;
}

describe("POST /api/v1/historical-features", () => {
  it("matches a brute-force point-in-time join on random histories (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ f: fc.integer({ min: 0, max: 1 }), e: fc.integer({ min: 0, max: 2 }), t: fc.integer({ min: 0, max: 20 }), value: fc.integer({ min: -1000, max: 1000 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.array(fc.record({ e: fc.integer({ min: 0, max: 3 }), t: fc.integer({ min: -2, max: 24 }) }), { minLength: 1, maxLength: 15 }),
        fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }),
        async (pushes, entityRows, ttl) => {
          const group = unique("pit");
          const names = [unique("pit_a"), unique("pit_b")];
          await registerFeature({ name: names[0], feature_group: group, entity_id: "user" });
          await registerFeature({ name: names[1], feature_group: group, entity_id: "user", ...(ttl === null ? {} : { ttl }) });
          const history: Pushed[] = pushes.map((p) => ({ feature: names[p.f] as string, entity: `u${p.e}`, t: p.t, value: p.value / 4 }));
          await callJson("POST", "/api/v1/features/batch", 200, {
            body: history.map((h) => ({ feature_id: h.feature, entity_id: h.entity, value: h.value, timestamp: iso(h.t) })),
          });
          const body = await callJson("POST", "/api/v1/historical-features", 200, {
            body: { features: names, entity_rows: entityRows.map((r) => ({ entity_id: `u${r.e}`, timestamp: iso(r.t) })) },
          });
          expect(body.features).toEqual(names);
          expect(body.rows).toHaveLength(entityRows.length);
          entityRows.forEach((r, i) => {
            expect(body.rows[i]).toEqual({
              entity_id: `u${r.e}`,
              timestamp: iso(r.t),
              [names[0] as string]: reference(history, names[0] as string, `u${r.e}`, r.t, null),
              [names[1] as string]: reference(history, names[1] as string, `u${r.e}`, r.t, ttl),
            });
          });
        },
      ),
      { numRuns: 25 },
    );
  });

  it("respects ttl at its exact edge and never reads values from after the row", async () => {
    await registerFeature({ name: "edge_score", entity_id: "acct", feature_group: "edge_g", ttl: 60 });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "edge_score", entity_id: "a1", value: 1, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "edge_score", entity_id: "a1", value: 2, timestamp: "2024-01-01T00:05:00.000001Z" },
      ],
    });
    const rows = ["2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:01:00.000001Z", "2024-01-01T00:05:00Z", "2024-01-01T00:05:00.000001Z"];
    const body = await callJson("POST", "/api/v1/historical-features", 200, {
      body: { features: ["edge_score"], entity_rows: rows.map((timestamp) => ({ entity_id: "a1", timestamp })) },
    });
    expect(body.rows.map((r: { edge_score: number | null }) => r.edge_score)).toEqual([null, 1, 1, null, null, 2]);
  });

  it("answers CSV by Accept header and Parquet by format, with the same rows", async () => {
    await registerFeature({ name: "fmt_spend", entity_id: "cust", feature_group: "fmt_g" });
    await registerFeature({ name: "fmt_tier", entity_id: "cust", feature_group: "fmt_g", value_type: "string" });
    await registerFeature({ name: "fmt_count", entity_id: "cust", feature_group: "fmt_g", value_type: "int" });
    await registerFeature({ name: "fmt_embedding", entity_id: "cust", feature_group: "fmt_g", value_type: "float_list" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "fmt_spend", entity_id: "c1", value: 10.5, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "fmt_tier", entity_id: "c1", value: 'gold, "vip"', timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "fmt_count", entity_id: "c1", value: 3, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "fmt_embedding", entity_id: "c1", value: [0.5, 1.5], timestamp: "2024-01-01T00:00:00Z" },
      ],
    });
    const request = {
      features: ["fmt_spend", "fmt_tier", "fmt_count", "fmt_embedding"],
      entity_rows: [
        { entity_id: "c1", timestamp: "2024-02-01T00:00:00.123456Z" },
        { entity_id: "c2", timestamp: "2024-02-01T00:00:00Z" },
      ],
    };

    const csv = await call("POST", "/api/v1/historical-features", { body: request, headers: { accept: "text/csv" } });
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(await csv.text()).toBe(
      'entity_id,timestamp,fmt_spend,fmt_tier,fmt_count,fmt_embedding\r\nc1,2024-02-01T00:00:00.123456Z,10.5,"gold, ""vip""",3,"[0.5,1.5]"\r\nc2,2024-02-01T00:00:00Z,,,,\r\n',
    );

    const parquet = await call("POST", "/api/v1/historical-features", { body: { ...request, format: "parquet" } });
    expect(parquet.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    const rows = await parquetReadObjects({ file: await parquet.arrayBuffer() });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ entity_id: "c1", fmt_spend: 10.5, fmt_tier: 'gold, "vip"', fmt_count: 3n, fmt_embedding: [0.5, 1.5] });
    expect(rows[1]).toMatchObject({ entity_id: "c2", fmt_spend: null, fmt_tier: null, fmt_count: null });
    expect(rows[0]?.timestamp).toEqual(new Date("2024-02-01T00:00:00.123Z"));
  });

  it("joins 100,000 entity rows in one streamed response", async () => {
    await registerFeature({ name: "big_pit", entity_id: "visitor", feature_group: "big_pit_g" });
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: Array.from({ length: 1000 }, (_, i) => ({ feature_id: "big_pit", entity_id: `v${i}`, value: i, timestamp: "2024-01-01T00:00:00Z" })),
    });
    const entityRows = Array.from({ length: 100_000 }, (_, i) => ({ entity_id: `v${i % 2000}`, timestamp: i % 2 === 0 ? "2024-01-02T00:00:00Z" : "2023-12-31T00:00:00Z" }));
    const res = await call("POST", "/api/v1/historical-features", { body: { features: ["big_pit"], entity_rows: entityRows }, headers: { accept: "text/csv" } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines).toHaveLength(100_001);
    expect(lines[1]).toBe("v0,2024-01-02T00:00:00Z,0.0"); // a float keeps its fraction
    expect(lines[2]).toBe("v1,2023-12-31T00:00:00Z,"); // before the value existed
    expect(lines[1001]).toBe("v1000,2024-01-02T00:00:00Z,"); // no value for v1000..v1999
    expect(lines[2001]).toBe("v0,2024-01-02T00:00:00Z,0.0");
  });

  it("rejects bad requests with clear errors", async () => {
    await registerFeature({ name: "bad_req_f" }).catch(() => undefined);
    expect((await call("POST", "/api/v1/historical-features", { body: { features: ["bad_req_f"], entity_rows: [] } })).status).toBe(400);
    expect((await call("POST", "/api/v1/historical-features", { body: { features: ["bad_req_f"], entity_rows: [{ entity_id: "e", timestamp: "soon" }] } })).status).toBe(400);
    expect((await call("POST", "/api/v1/historical-features", { body: { features: ["nope"], entity_rows: [{ entity_id: "e", timestamp: "2024-01-01T00:00:00Z" }] } })).status).toBe(404);
  });
});
