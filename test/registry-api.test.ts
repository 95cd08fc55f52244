/** Feature registry: POST/GET/PATCH/DELETE /api/v1/features. */
import { describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";

describe("feature registry", () => {
  it("registers the guide's custom Postgres feature definition and returns it", async () => {
    const created = await registerFeature({
      name: "customer_purchase_frequency",
      description: "Frequência de compras do cliente nos últimos 30 dias",
      entity_id: "customer",
      feature_group: "customer_metrics",
      query: "SELECT customer_id AS entity_id, purchase_frequency AS value, NOW() AS timestamp FROM customer_purchases",
      schedule: "0 0 * * *",
      tags: { team: "growth" },
      owner: "ml@example.com",
      ttl: "7d",
    });
    expect(created).toMatchObject({
      id: "customer_purchase_frequency",
      name: "customer_purchase_frequency",
      entity_id: "customer",
      feature_group: "customer_metrics",
      value_type: "float",
      ttl: 604800,
      tags: { team: "growth" },
      owner: "ml@example.com",
      source_type: "sql",
      schedule: "0 0 * * *",
    });
    expect(await callJson("GET", "/api/v1/features/customer_purchase_frequency", 200)).toEqual(created);
  });

  it("defaults entity, group and value type for the guide's minimal push feature", async () => {
    const created = await registerFeature({ name: "product_stock_level" });
    expect(created).toMatchObject({ entity_id: "entity", feature_group: "entity", value_type: "float", ttl: null, source_type: "push" });
    const product = await registerFeature({ name: "product_price", entity_id: "product" });
    expect(product).toMatchObject({ entity_id: "product", feature_group: "product" });
  });

  it("keeps one entity type per feature group (409 otherwise)", async () => {
    await registerFeature({ name: "driver_rate", entity_id: "driver_id", feature_group: "driver_stats" });
    const res = await call("POST", "/api/v1/features", { body: { name: "rider_rate", entity_id: "rider_id", feature_group: "driver_stats" } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("driver_id");
  });

  it("answers 409 for a duplicate name", async () => {
    await registerFeature({ name: "dup_feature" });
    const res = await call("POST", "/api/v1/features", { body: { name: "dup_feature" } });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "CONFLICT" } });
  });

  it.each([
    ["a path trick", "../etc/passwd"],
    ["a slash", "a/b"],
    ["a dot", "a.b"],
    ["a leading digit", "1feature"],
    ["the reserved word batch", "batch"],
    ["an overlong name", `f${"x".repeat(128)}`],
    ["an empty name", ""],
  ])("rejects %s as a name", async (_label, name) => {
    const res = await call("POST", "/api/v1/features", { body: { name } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
  });

  it.each([
    ["an unknown field", { name: "f_unknown", colour: "blue" }],
    ["an unknown value_type", { name: "f_vt", value_type: "decimal" }],
    ["a bad cron schedule", { name: "f_cron", schedule: "every day" }],
    ["a bad update_frequency", { name: "f_freq", update_frequency: "hourly" }],
    ["a negative ttl", { name: "f_ttl", ttl: -5 }],
  ])("rejects %s", async (_label, body) => {
    expect((await call("POST", "/api/v1/features", { body })).status).toBe(400);
  });

  it("lists with filters and cursor pagination", async () => {
    for (const [name, group, entity] of [
      ["list_a", "g_list", "customer"],
      ["list_b", "g_list_products", "list_product"],
      ["list_c", "g_list", "customer"],
      ["list_d", "g_other", "customer"],
    ]) {
      await registerFeature({ name, feature_group: group, entity_id: entity });
    }
    await registerFeature({ name: "list_s3", feature_group: "g_list", entity_id: "customer", path: "features/*.parquet", format: "parquet", update_frequency: "1d" });

    const group = await callJson("GET", "/api/v1/features?feature_group=g_list", 200);
    expect(group.features.map((f: { name: string }) => f.name)).toEqual(["list_a", "list_c", "list_s3"]);

    const products = await callJson("GET", "/api/v1/features?entity=list_product", 200);
    expect(products.features.map((f: { name: string }) => f.name)).toEqual(["list_b"]);

    const files = await callJson("GET", "/api/v1/features?source_type=file", 200);
    expect(files.features.map((f: { name: string }) => f.name)).toEqual(["list_s3"]);

    const page1 = await callJson("GET", "/api/v1/features?feature_group=g_list&limit=2", 200);
    expect(page1.features.map((f: { name: string }) => f.name)).toEqual(["list_a", "list_c"]);
    expect(page1.next_cursor).toBe("list_c");
    const page2 = await callJson("GET", `/api/v1/features?feature_group=g_list&limit=2&cursor=${page1.next_cursor}`, 200);
    expect(page2.features.map((f: { name: string }) => f.name)).toEqual(["list_s3"]);
    expect(page2.next_cursor).toBeNull();

    expect((await call("GET", "/api/v1/features?limit=0")).status).toBe(400);
  });

  it("patches editable fields and refuses immutable ones", async () => {
    await registerFeature({ name: "patchable", description: "old" });
    const patched = await callJson("PATCH", "/api/v1/features/patchable", 200, { body: { description: "new", ttl: 60, tags: { a: "b" } } });
    expect(patched).toMatchObject({ description: "new", ttl: 60, tags: { a: "b" }, value_type: "float" });
    expect((await call("PATCH", "/api/v1/features/patchable", { body: { value_type: "int" } })).status).toBe(400);
    expect((await call("PATCH", "/api/v1/features/patchable", { body: { name: "renamed" } })).status).toBe(400);
    expect((await call("PATCH", "/api/v1/features/missing_one", { body: { description: "x" } })).status).toBe(404);
  });

  it("deletes a feature with its values; a new feature of the same name starts empty", async () => {
    await registerFeature({ name: "short_lived" });
    await callJson("POST", "/api/v1/features/short_lived/values", 200, { body: { entity_id: "e1", value: 1 } });
    expect((await call("DELETE", "/api/v1/features/short_lived")).status).toBe(204);
    expect((await call("GET", "/api/v1/features/short_lived")).status).toBe(404);
    expect((await call("DELETE", "/api/v1/features/short_lived")).status).toBe(404);

    await registerFeature({ name: "short_lived" });
    const res = await call("GET", "/api/v1/features/short_lived/values/e1");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "VALUE_NOT_FOUND" } });
  });
});

describe("feature sources are checked at registration", () => {
  const post = (body: unknown) => call("POST", "/api/v1/features", { body });

  it("refuses (400) a feature naming a connector that does not exist, and stores nothing", async () => {
    const res = await post({ name: "src_no_connector", connector: "no_such_connector", query: "SELECT 1, 2" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(body.error.message).toContain("connector 'no_such_connector' does not exist");
    expect((await call("GET", "/api/v1/features/src_no_connector")).status).toBe(404);
  });

  it("refuses a connector of the wrong kind: a query on an object store, a path on a database", async () => {
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "src_s3", type: "s3", config: { bucket: "b", aws_access_key_id: "k", aws_secret_access_key: "s" } } });
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "src_pg", type: "postgres", config: { host: "db.example", database: "d", user: "u" } } });
    const sqlOnS3 = await post({ name: "src_sql_on_s3", connector: "src_s3", query: "SELECT 1, 2" });
    expect(sqlOnS3.status).toBe(400);
    expect(((await sqlOnS3.json()) as any).error.message).toContain("connector 'src_s3' is a s3 connector; a sql feature needs a postgres or mysql connector");
    const fileOnPg = await post({ name: "src_file_on_pg", connector: "src_pg", path: "data/*.parquet" });
    expect(fileOnPg.status).toBe(400);
    expect(((await fileOnPg.json()) as any).error.message).toContain("a file feature needs an s3 or adls connector");
    const pushWithConnector = await post({ name: "src_push_with_connector", connector: "src_pg" });
    expect(pushWithConnector.status).toBe(400);
  });

  it("checks a PATCH the same way and leaves the feature as it was", async () => {
    await registerFeature({ name: "src_patched", query: "SELECT customer_id, 1 FROM t" });
    const res = await call("PATCH", "/api/v1/features/src_patched", { body: { connector: "no_such_connector" } });
    expect(res.status).toBe(400);
    expect((await callJson("GET", "/api/v1/features/src_patched", 200)).connector).toBeUndefined();
    const ok = await callJson("PATCH", "/api/v1/features/src_patched", 200, { body: { connector: "src_pg" } });
    expect(ok.connector).toBe("src_pg");
  });

  it("refuses a file feature whose format cannot be told from its path, unless 'format' says it", async () => {
    const res = await post({ name: "src_no_format", path: "exports/daily/*" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("set 'format'");
    expect((await callJson("POST", "/api/v1/features", 201, { body: { name: "src_with_format", path: "exports/daily/*", format: "csv" } })).format).toBe("csv");
    expect((await callJson("POST", "/api/v1/features", 201, { body: { name: "src_by_extension", batch_config: { path: "tx/*.jsonl" } } })).source_type).toBe("file");
  });
});
