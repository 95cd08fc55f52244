/**
 * POST /api/v1/feast/import: a Feast project (feature_store.yaml's project, entities, feature views)
 * registered as FStore features in one batch — the driver_hourly_stats example of Feast's quickstart
 * plus a customer view that shares the `conv_rate` name.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callJson, createKey } from "./helpers";

/** Feast's quickstart (feature_repo/example_repo.py) as a description, with a customer view sharing conv_rate. */
const projectYaml = (project: string, convType = "Float32") => `
project: ${project}
entities:
  - name: driver
    join_keys: [driver_id]
    value_type: INT64
    description: driver id
  - name: customer
    join_key: customer_id
feature_views:
  - name: ${project}_driver_hourly_stats
    entities: [driver]
    ttl: 1d
    schema:
      - name: driver_id
        dtype: Int64
      - name: conv_rate
        dtype: ${convType}
      - name: acc_rate
        dtype: Float32
      - name: avg_daily_trips
        dtype: Int64
        description: Average daily trips
    online: true
    tags:
      team: driver_performance
    owner: test2@gmail.com
  - name: ${project}_customer_stats
    entities: [customer]
    ttl: 86400
    features:
      - name: conv_rate
        dtype: Float64
      - name: embedding
        dtype: Array(Float32)
      - name: segment
        dtype: String
      - name: is_vip
        dtype: Bool
`;

const importYaml = (body: string, opts: { key?: string | null; query?: string; type?: string } = {}) =>
  call("POST", `/api/v1/feast/import${opts.query ?? ""}`, { raw: body, key: opts.key === undefined ? ADMIN_KEY : opts.key, headers: { "content-type": opts.type ?? "application/yaml" } });

describe("POST /api/v1/feast/import", () => {
  it("registers a Feast project from YAML (views → groups keyed by join key, shared conv_rate), then re-imports idempotently", async () => {
    const res = await importYaml(projectYaml("imp1"));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      project: "imp1",
      created: 7,
      updated: 0,
      unchanged: 0,
      features: [
        "imp1_driver_hourly_stats:conv_rate",
        "imp1_driver_hourly_stats:acc_rate",
        "imp1_driver_hourly_stats:avg_daily_trips",
        "imp1_customer_stats:conv_rate",
        "imp1_customer_stats:embedding",
        "imp1_customer_stats:segment",
        "imp1_customer_stats:is_vip",
      ],
    });
    const driver = await callJson("GET", "/api/v1/feature-groups/imp1_driver_hourly_stats", 200);
    expect(driver.entity).toBe("driver_id");
    expect(driver.features.map((f: { name: string; value_type: string; ttl: number }) => [f.name, f.value_type, f.ttl])).toEqual([
      ["acc_rate", "float", 86400],
      ["avg_daily_trips", "int", 86400],
      ["conv_rate", "float", 86400],
    ]);
    const trips = await callJson("GET", "/api/v1/features/imp1_driver_hourly_stats:avg_daily_trips", 200);
    expect(trips).toMatchObject({ owner: "test2@gmail.com", description: "Average daily trips", tags: { team: "driver_performance", feast_project: "imp1" }, source_type: "push" });
    const customer = await callJson("GET", "/api/v1/feature-groups/imp1_customer_stats", 200);
    expect(customer.entity).toBe("customer_id");
    expect(customer.features.map((f: { name: string; value_type: string }) => [f.name, f.value_type])).toEqual([
      ["conv_rate", "float"],
      ["embedding", "float_list"],
      ["is_vip", "bool"],
      ["segment", "string"],
    ]);

    // Same description again: nothing written, 200.
    const again = await importYaml(projectYaml("imp1"));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ created: 0, updated: 0, unchanged: 7 });

    // The imported views serve Feast requests that mix join keys.
    await call("POST", "/push", {
      raw: JSON.stringify({ push_source_name: "imp1_driver_hourly_stats", df: { driver_id: [1001], conv_rate: [0.5], acc_rate: [0.25], avg_daily_trips: [10], event_timestamp: [new Date().toISOString()] } }),
      headers: { "content-type": "text/plain" },
    });
    const online = await call("POST", "/get-online-features", {
      raw: JSON.stringify({ features: ["imp1_driver_hourly_stats:avg_daily_trips", "imp1_customer_stats:segment"], entities: { driver_id: [1001], customer_id: ["c1"] } }),
      headers: { "content-type": "text/plain" },
    });
    expect(online.status).toBe(200);
    const body = (await online.json()) as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
    expect(body.metadata.feature_names).toEqual(["driver_id", "customer_id", "avg_daily_trips", "segment"]);
    expect(body.results[2]).toMatchObject({ values: [10], statuses: ["PRESENT"] });
    expect(body.results[3]).toMatchObject({ values: [null], statuses: ["NOT_FOUND"] });
  });

  it("takes the same project as JSON", async () => {
    const project = {
      project: "impj",
      entities: [{ name: "driver", join_keys: ["driver_id"] }],
      feature_views: [{ name: "impj_stats", entities: ["driver"], schema: [{ name: "conv_rate", dtype: "Float32" }, { name: "history", dtype: "Array(Int64)" }] }],
    };
    const res = await call("POST", "/api/v1/feast/import", { body: project });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ created: 2, unchanged: 0 });
    expect((await callJson("GET", "/api/v1/features/impj_stats:history", 200)).value_type).toBe("json");
    expect((await callJson("POST", "/api/v1/feast/import", 200, { body: project })).unchanged).toBe(2);
  });

  it("refuses a changed type with 409 (nothing written) unless update=true", async () => {
    expect((await importYaml(projectYaml("imp2"))).status).toBe(201);
    const changed = await importYaml(projectYaml("imp2", "Int64").replace("acc_rate\n        dtype: Float32", "acc_rate\n        dtype: Float32\n      - name: brand_new\n        dtype: String"));
    expect(changed.status).toBe(409);
    const error = ((await changed.json()) as { error: { code: string; details: { conflicts: { feature: string; problem: string }[] } } }).error;
    expect(error.code).toBe("CONFLICT");
    expect(error.details.conflicts).toEqual([{ feature: "imp2_driver_hourly_stats:conv_rate", problem: expect.stringContaining("value_type float → int") }]);
    // All or nothing: the new feature of the same import was not created.
    expect((await call("GET", "/api/v1/features/imp2_driver_hourly_stats:brand_new")).status).toBe(404);

    const updated = await importYaml(projectYaml("imp2", "Int64"), { query: "?update=true" });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ created: 0, updated: 1, unchanged: 6 });
    expect((await callJson("GET", "/api/v1/features/imp2_driver_hourly_stats:conv_rate", 200)).value_type).toBe("int");

    // Once it has values, its type stays.
    await callJson("POST", "/api/v1/features/imp2_driver_hourly_stats:conv_rate/values", 200, { body: { entity_id: "1", value: 3 } });
    const retype = await importYaml(projectYaml("imp2", "Float64"), { query: "?update=true" });
    expect(retype.status).toBe(409);
    expect(JSON.stringify(await retype.json())).toContain("has values");
  });

  it("names every bad field path in one 400 and writes nothing of an import with one bad view", async () => {
    const bad = `
project: imp3
entities:
  - name: driver
    join_keys: [driver_id]
feature_views:
  - name: imp3_good_view
    entities: [driver]
    schema:
      - name: fine
        dtype: Float32
  - name: imp3_bad_view
    entities: [merchant]
    schema:
      - name: amount
        dtype: Decimal
      - name: "9lives"
        dtype: Float32
`;
    const res = await importYaml(bad);
    expect(res.status).toBe(400);
    const issues = ((await res.json()) as { error: { details: { issues: { path: string }[] } } }).error.details.issues.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(["feature_views.1.schema.0.dtype", "feature_views.1.schema.1.name"]));
    // The unknown entity is reported once the fields are well-formed.
    const unknownEntity = await importYaml(bad.replace("dtype: Decimal", "dtype: Float64").replace('"9lives"', "lives"));
    expect(unknownEntity.status).toBe(400);
    expect(((await unknownEntity.json()) as { error: { details: { issues: { path: string }[] } } }).error.details.issues).toEqual([
      { path: "feature_views.1.entities.0", message: expect.stringContaining("merchant") },
    ]);
    expect((await call("GET", "/api/v1/features/imp3_good_view:fine")).status).toBe(404);
    expect((await call("GET", "/api/v1/feature-groups/imp3_good_view")).status).toBe(404);

    expect((await importYaml("project: [unclosed")).status).toBe(400);
    expect((await importYaml("{}", { type: "text/csv" })).status).toBe(415);
    const composite = await call("POST", "/api/v1/feast/import", {
      body: { project: "imp3", entities: [{ name: "pair", join_keys: ["a", "b"] }], feature_views: [{ name: "imp3_v", entities: ["pair"], schema: [{ name: "x", dtype: "Float32" }] }] },
    });
    expect(composite.status).toBe(400);
  });

  it("refuses a view whose group holds another entity type, or a SQL feature of the same name (409, nothing written)", async () => {
    await callJson("POST", "/api/v1/features", 201, { body: { name: "other", entity_id: "merchant_id", feature_group: "imp5_driver_hourly_stats" } });
    const entity = await importYaml(projectYaml("imp5"));
    expect(entity.status).toBe(409);
    expect(JSON.stringify(await entity.json())).toContain("holds features of entity 'merchant_id', not 'driver_id'");
    expect((await call("GET", "/api/v1/feature-groups/imp5_customer_stats")).status).toBe(404);

    await callJson("POST", "/api/v1/features", 201, { body: { name: "segment", entity_id: "customer_id", feature_group: "imp6_customer_stats", query: "SELECT 1, 2" } });
    const sql = await importYaml(projectYaml("imp6"), { query: "?update=true" });
    expect(sql.status).toBe(409);
    expect(JSON.stringify(await sql.json())).toContain("exists as a sql feature");
    expect((await importYaml(projectYaml("imp6"), { query: "?update=yes" })).status).toBe(400);
  });

  it("needs the write scope (push features only): read keys get 403, write keys may import", async () => {
    const read = await createKey(["read"]);
    expect((await importYaml(projectYaml("imp4"), { key: read })).status).toBe(403);
    const write = await createKey(["write"]);
    expect((await importYaml(projectYaml("imp4"), { key: write, type: "text/yaml" })).status).toBe(201);
    expect((await importYaml(projectYaml("imp4"), { key: null })).status).toBe(401);
  });
});
