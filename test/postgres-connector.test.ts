/**
 * The Postgres connector against the real local PostgreSQL (through the pgproxy), over HTTP:
 * the guide's queries, result shapes, incremental runs, the result cache, read-only runs and
 * every failure case (bad query, wrong password, timeout, source gone mid-run) leaving the old
 * values served and nothing half-written.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";
import { createConnector, history, latest, materialize, orders, pgConfig, purchases, sumBy, withPgAdmin } from "./sql-helpers";

const PG = "pg_src";

beforeAll(async () => {
  await createConnector(PG, "postgres", pgConfig());
});

describe("postgres connector: the guide's features", () => {
  it("customer_lifetime_value: the 2-column query by position, run time as timestamp", async () => {
    await registerFeature({
      name: "pg_customer_lifetime_value",
      entity_id: "customer",
      feature_group: "pg_customer",
      connector: PG,
      query: `
        SELECT 
            customer_id,
            SUM(order_value) as lifetime_value
        FROM orders
        GROUP BY customer_id
    `,
      update_frequency: "1h",
    });
    const before = Date.now();
    const run = await materialize("pg_customer_lifetime_value");
    expect(run).toMatchObject({ status: "succeeded", trigger: "manual", rows_read: 20, rows_written: 20, rows_unchanged: 0, error: null });
    const expected = sumBy(orders, (o) => o.customer, (o) => o.cents);
    for (const customer of [1, 7, 20]) {
      const v = await latest("pg_customer_lifetime_value", customer);
      expect(v.value).toBe((expected.get(customer) as number) / 100);
      expect(Date.parse(v.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    }
  });

  it("customer_purchase_frequency: the guide's CTE with NOW() - INTERVAL '30 days' and named columns", async () => {
    await registerFeature({
      name: "pg_customer_purchase_frequency",
      description: "Frequência de compras do cliente nos últimos 30 dias",
      entity_id: "customer",
      feature_group: "pg_customer",
      connector: PG,
      query: `
        WITH customer_purchases AS (
            SELECT 
                customer_id,
                COUNT(*) as purchase_count,
                COUNT(*) / 30.0 as purchase_frequency
            FROM orders
            WHERE created_at >= NOW() - INTERVAL '30 days'
            GROUP BY customer_id
        )
        SELECT 
            customer_id as entity_id,
            purchase_frequency as value,
            NOW() as timestamp
        FROM customer_purchases
    `,
      schedule: "0 0 * * *",
    });
    const run = await materialize("pg_customer_purchase_frequency");
    expect(run.status).toBe("succeeded");
    const recent = sumBy(orders.filter((o) => o.daysAgo < 30), (o) => o.customer, () => 1);
    expect(run.rows_read).toBe(recent.size);
    for (const [customer, count] of recent) {
      expect((await latest("pg_customer_purchase_frequency", customer)).value as number).toBeCloseTo(count / 30, 12);
    }
  });

  it("customer_total_purchases: the 'Exemplo PostgreSQL' query, unnamed SUM column", async () => {
    await registerFeature({
      name: "customer_total_purchases",
      entity_id: "customer",
      feature_group: "pg_customer",
      connector: PG,
      query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id",
    });
    const run = await materialize("customer_total_purchases");
    expect(run).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 25 });
    const expected = sumBy(purchases, (p) => p.customer, (p) => p.cents);
    expect((await latest("customer_total_purchases", 3)).value).toBe((expected.get(3) as number) / 100);
  });

  it("joins and window functions, 3 columns by position with a timestamp column", async () => {
    await registerFeature({
      name: "pg_last_purchase_amount",
      entity_id: "customer",
      feature_group: "pg_customer",
      connector: PG,
      query: `
        SELECT p.customer_id, p.amount, p.purchased_at
          FROM (SELECT customer_id, amount, purchased_at,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY purchased_at DESC) AS rn
                  FROM purchases) p
          JOIN (SELECT DISTINCT customer_id FROM orders) o ON o.customer_id = p.customer_id
         WHERE p.rn = 1`,
    });
    const run = await materialize("pg_last_purchase_amount");
    // orders has customers 1..20, purchases 1..25: the join keeps 20.
    expect(run).toMatchObject({ status: "succeeded", rows_read: 20 });
    const last = purchases.filter((p) => p.customer === 5).sort((a, b) => b.at - a.at)[0]!;
    const v = await latest("pg_last_purchase_amount", 5);
    expect(v.value).toBe(last.cents / 100);
    expect(v.timestamp).toBe(new Date(last.at).toISOString().replace(".000Z", "Z"));
  });

  it("keeps timestamps to the microsecond and values of other types (int, string, bool, float_list, json)", async () => {
    const types = [
      ["int", "count(*)", 30],
      ["string", "min(status)", "paid"],
      ["bool", "bool_or(status = 'refunded')", true],
      ["float_list", "ARRAY[1.5, 2]::float8[]", [1.5, 2]],
      ["json", "json_build_object('n', count(*))", { n: 30 }],
    ] as const;
    for (const [type, expr, expected] of types) {
      await registerFeature({
        name: `pg_typed_${type}`,
        entity_id: "customer",
        feature_group: "pg_customer",
        value_type: type,
        connector: PG,
        query: `SELECT customer_id AS entity_id, ${expr} AS value, TIMESTAMPTZ '2024-03-01 10:00:00.123456+00' AS timestamp FROM orders WHERE customer_id = 1 GROUP BY customer_id`,
      });
      expect((await materialize(`pg_typed_${type}`)).status).toBe("succeeded");
      const v = await latest(`pg_typed_${type}`, 1);
      expect(v.value).toEqual(expected);
      expect(v.timestamp).toBe("2024-03-01T10:00:00.123456Z");
    }
  });
});

describe("postgres connector: shapes and types", () => {
  it("fails a run whose result has another shape, naming the columns found and expected", async () => {
    await registerFeature({ name: "pg_bad_shape", connector: PG, query: "SELECT id, customer_id, order_value, status FROM orders" });
    const run = await materialize("pg_bad_shape");
    expect(run.status).toBe("failed");
    expect(run.error).toContain("[id, customer_id, order_value, status]");
    expect(run.error).toContain("entity_id, value[, timestamp]");
  });

  it("fails a run whose values do not fit the feature's value_type, writing nothing", async () => {
    await registerFeature({ name: "pg_bad_type", value_type: "int", connector: PG, query: "SELECT customer_id, status FROM orders" });
    const run = await materialize("pg_bad_type");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/^row 1, column 'status' \(value\): value must be an integer/);
    expect((await history("pg_bad_type")).values).toEqual([]);
  });
});

describe("postgres connector: incremental runs and the result cache", () => {
  it("binds :since to the last committed watermark and advances it after the commit", async () => {
    await withPgAdmin((c) =>
      c.query(`DROP TABLE IF EXISTS incr_events; CREATE TABLE incr_events (customer_id int, score float8, at timestamptz);
               INSERT INTO incr_events VALUES (1, 10, '2024-05-01T00:00:00Z'), (2, 20, '2024-05-02T00:00:00Z')`),
    );
    await registerFeature({
      name: "pg_incremental",
      entity_id: "customer",
      feature_group: "pg_incr",
      connector: PG,
      query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM incr_events WHERE at > :since ORDER BY at",
      update_frequency: "5m",
    });
    const first = await materialize("pg_incremental");
    expect(first).toMatchObject({ status: "succeeded", rows_read: 2, watermark: "2024-05-02T00:00:00Z" });

    await withPgAdmin((c) => c.query("INSERT INTO incr_events VALUES (1, 11, '2024-05-03T00:00:00Z')"));
    const second = await materialize("pg_incremental");
    expect(second).toMatchObject({ status: "succeeded", rows_read: 1, rows_written: 1, watermark: "2024-05-03T00:00:00Z" });
    expect((await latest("pg_incremental", 1)).value).toBe(11);
    expect((await history("pg_incremental")).values).toHaveLength(3);

    const third = await materialize("pg_incremental");
    expect(third).toMatchObject({ status: "succeeded", rows_read: 0, watermark: "2024-05-03T00:00:00Z" });
  });

  it("incremental_column filters on the result's timestamp column; a failed run does not advance the watermark", async () => {
    await withPgAdmin((c) =>
      c.query(`DROP TABLE IF EXISTS incr_col; CREATE TABLE incr_col (customer_id int, score float8, at timestamptz);
               INSERT INTO incr_col VALUES (1, 1, '2024-06-01T00:00:00Z')`),
    );
    await registerFeature({
      name: "pg_incremental_col",
      connector: PG,
      incremental_column: "timestamp",
      query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM incr_col",
    });
    expect(await materialize("pg_incremental_col")).toMatchObject({ rows_read: 1, watermark: "2024-06-01T00:00:00Z" });
    // A row that breaks the run (text in a float column's query result) plus a good one: nothing lands.
    await withPgAdmin((c) => c.query("INSERT INTO incr_col VALUES (2, 'NaN', '2024-06-02T00:00:00Z'), (3, 3, '2024-06-03T00:00:00Z')"));
    const failed = await materialize("pg_incremental_col");
    expect(failed.status).toBe("failed");
    await withPgAdmin((c) => c.query("UPDATE incr_col SET score = 2 WHERE customer_id = 2"));
    const retried = await materialize("pg_incremental_col");
    expect(retried).toMatchObject({ status: "succeeded", rows_read: 2, watermark: "2024-06-03T00:00:00Z" });
  });

  it("does not write again a value already in history at the same timestamp", async () => {
    await registerFeature({ name: "pg_cached", connector: PG, query: "SELECT customer_id, SUM(amount), max(purchased_at) FROM purchases GROUP BY customer_id" });
    expect(await materialize("pg_cached")).toMatchObject({ rows_read: 25, rows_written: 25, rows_unchanged: 0 });
    const again = await materialize("pg_cached");
    expect(again).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 0, rows_unchanged: 25 });
    expect((await history("pg_cached")).values).toHaveLength(25);
  });
});

describe("postgres connector: read-only runs and failures", () => {
  const countOrders = () => withPgAdmin(async (c) => Number((await c.query("SELECT count(*) AS n FROM orders")).rows[0].n));

  it("refuses a DELETE hidden in a function: the transaction is read-only", async () => {
    await registerFeature({ name: "pg_sneaky_delete", connector: PG, query: "SELECT 1 AS entity_id, purge_orders() AS value" });
    const run = await materialize("pg_sneaky_delete");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/read-only/);
    expect(await countOrders()).toBe(600);
  });

  it("refuses a plain DELETE or UPDATE as the query", async () => {
    for (const [name, query] of [
      ["pg_delete", "DELETE FROM orders RETURNING customer_id, order_value"],
      ["pg_update", "UPDATE orders SET order_value = 0 RETURNING customer_id, order_value"],
      ["pg_cte_delete", "WITH d AS (DELETE FROM orders RETURNING customer_id, order_value) SELECT * FROM d"],
    ]) {
      await registerFeature({ name, connector: PG, query });
      const run = await materialize(name as string);
      expect(run.status).toBe("failed");
      expect(run.error).toMatch(/query failed|one SELECT/);
    }
    expect(await countOrders()).toBe(600);
  });

  it("a bad query fails the run with the server's message and keeps the old values served", async () => {
    await registerFeature({ name: "pg_breaks", connector: PG, query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id" });
    await materialize("pg_breaks");
    const before = await latest("pg_breaks", 4);
    await callJson("PATCH", "/api/v1/features/pg_breaks", 200, { body: { query: "SELECT customer_id, SUM(amount) FROM no_such_table GROUP BY 1" } });
    const run = await materialize("pg_breaks");
    expect(run).toMatchObject({ status: "failed", rows_written: 0 });
    expect(run.error).toContain('relation "no_such_table" does not exist');
    expect(await latest("pg_breaks", 4)).toEqual(before);
  });

  it("a timeout fails the run (statement_timeout)", async () => {
    await registerFeature({ name: "pg_slow", connector: PG, timeout: "1s", query: "SELECT customer_id, pg_sleep(3)::text IS NULL FROM orders LIMIT 1" });
    const started = Date.now();
    const run = await materialize("pg_slow");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/^timed out/);
    expect(Date.now() - started).toBeLessThan(2900);
  });

  it("a wrong password fails the run with an authentication error that does not echo the password", async () => {
    await createConnector("pg_wrong_pw", "postgres", pgConfig({ user: "fstore_reader", password: "not-the-password" }));
    await registerFeature({ name: "pg_wrong_pw_feature", connector: "pg_wrong_pw", query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY 1" });
    const run = await materialize("pg_wrong_pw_feature");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/^authentication failed/);
    expect(run.error).not.toContain("not-the-password");
  });

  it("the source going away mid-run fails it and writes none of the rows already read", async () => {
    // 9,000 rows read in batches of 5,000; the server ends the connection once row 7,000 is produced.
    await registerFeature({
      name: "pg_dies_midway",
      connector: PG,
      query: `SELECT i AS entity_id, i::float8 AS value
                FROM generate_series(1, 9000) AS i
               WHERE CASE WHEN i = 7000 THEN pg_terminate_backend(pg_backend_pid()) ELSE true END`,
    });
    const run = await materialize("pg_dies_midway");
    expect(run.status).toBe("failed");
    expect(run.rows_read).toBeGreaterThan(0);
    expect(run.error).toMatch(/lost|terminat/i);
    expect((await history("pg_dies_midway")).values).toEqual([]);
    const staged = await env.DB.prepare("SELECT count(*) AS n FROM run_values WHERE run_id = ?1").bind(run.id).first<{ n: number }>();
    expect(staged?.n).toBe(0);
  });

  it("lists a feature's runs newest first and shows one run", async () => {
    const { runs } = await callJson<{ runs: { id: string; status: string }[] }>("GET", "/api/v1/features/pg_breaks/runs", 200);
    expect(runs.map((r) => r.status)).toEqual(["failed", "succeeded"]);
    const one = await callJson("GET", `/api/v1/runs/${runs[0]!.id}`, 200);
    expect(one).toMatchObject({ feature_id: "pg_breaks", status: "failed", trigger: "manual" });
    expect(typeof one.duration_ms).toBe("number");
    expect((await call("GET", "/api/v1/runs/no-such-run")).status).toBe(404);
  });

  it("refuses a second run of a feature while one holds the lease (409)", async () => {
    await registerFeature({ name: "pg_long", connector: PG, query: "SELECT customer_id, (pg_sleep(1.5)::text IS NULL)::int FROM orders LIMIT 1", value_type: "int" });
    const first = call("POST", "/api/v1/features/pg_long/materialize?wait=true");
    await new Promise((r) => setTimeout(r, 300));
    const second = await call("POST", "/api/v1/features/pg_long/materialize?wait=true");
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe("RUN_IN_PROGRESS");
    expect((await first).status).toBe(200);
  });
});
