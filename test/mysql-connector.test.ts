/**
 * The MySQL connector (mysql2 over Workers TCP sockets) against the real local MariaDB, over
 * HTTP: the guide's queries, incremental runs, read-only refusal, and failures (bad query, wrong
 * password, timeout, connection killed mid-run) that leave the old values served.
 */
import { describe, beforeAll, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";
import { createConnector, history, latest, materialize, mysqlConfig, orders, purchases, sumBy, withMysqlAdmin } from "./sql-helpers";

const MY = "mysql_src";

beforeAll(async () => {
  await createConnector(MY, "mysql", mysqlConfig());
});

describe("mysql connector", () => {
  it("refuses DELETE and UPDATE: the transaction is read-only", async () => {
    for (const [name, query] of [
      ["my_delete", "DELETE FROM orders"],
      ["my_update", "UPDATE orders SET order_value = 0"],
    ]) {
      await registerFeature({ name, connector: MY, query });
      const run = await materialize(name as string);
      expect(run.status).toBe("failed");
      expect(run.error).toMatch(/one SELECT .* was not run/);
    }
  });

  it("runs the guide's 2-column query by position", async () => {
    await registerFeature({
      name: "my_customer_lifetime_value",
      entity_id: "customer",
      feature_group: "my_customer",
      connector: MY,
      query: "SELECT customer_id, SUM(order_value) as lifetime_value FROM orders GROUP BY customer_id",
      update_frequency: "1h",
    });
    const run = await materialize("my_customer_lifetime_value");
    expect(run).toMatchObject({ status: "succeeded", rows_read: 20, rows_written: 20 });
    const expected = sumBy(orders, (o) => o.customer, (o) => o.cents);
    expect((await latest("my_customer_lifetime_value", 9)).value).toBe((expected.get(9) as number) / 100);
  });

  it("runs a CTE over the last 30 days with named columns, joins and window functions", async () => {
    await registerFeature({
      name: "my_purchase_frequency",
      entity_id: "customer",
      feature_group: "my_customer",
      connector: MY,
      query: `
        WITH customer_purchases AS (
            SELECT customer_id, COUNT(*) as purchase_count, COUNT(*) / 30.0 as purchase_frequency
            FROM orders
            WHERE created_at >= NOW() - INTERVAL 30 DAY
            GROUP BY customer_id
        )
        SELECT customer_id as entity_id, purchase_frequency as value, NOW() as timestamp FROM customer_purchases`,
      schedule: "0 */1 * * *",
    });
    const run = await materialize("my_purchase_frequency");
    expect(run.status).toBe("succeeded");
    const recent = sumBy(orders.filter((o) => o.daysAgo < 30), (o) => o.customer, () => 1);
    expect(run.rows_read).toBe(recent.size);
    expect((await latest("my_purchase_frequency", 2)).value as number).toBeCloseTo((recent.get(2) as number) / 30, 4);

    await registerFeature({
      name: "my_last_purchase",
      entity_id: "customer",
      feature_group: "my_customer",
      connector: MY,
      query: `SELECT p.customer_id, p.amount, p.purchased_at FROM (
                SELECT customer_id, amount, purchased_at, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY purchased_at DESC) AS rn FROM purchases
              ) p JOIN (SELECT DISTINCT customer_id FROM orders) o ON o.customer_id = p.customer_id WHERE p.rn = 1`,
    });
    expect(await materialize("my_last_purchase")).toMatchObject({ status: "succeeded", rows_read: 20 });
    const last = purchases.filter((p) => p.customer === 5).sort((a, b) => b.at - a.at)[0]!;
    const v = await latest("my_last_purchase", 5);
    expect(v.value).toBe(last.cents / 100);
    expect(v.timestamp).toBe(new Date(last.at).toISOString().replace(".000Z", "Z"));
  });

  it("pulls incrementally with :since, advancing the watermark after each commit", async () => {
    await withMysqlAdmin(async (c) => {
      await c.query("DROP TABLE IF EXISTS incr_events");
      await c.query("CREATE TABLE incr_events (customer_id INT, score DOUBLE, at DATETIME(6))");
      await c.query("INSERT INTO incr_events VALUES (1, 10, '2024-05-01 00:00:00.250000'), (2, 20, '2024-05-02 00:00:00')");
    });
    await registerFeature({
      name: "my_incremental",
      connector: MY,
      query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM incr_events WHERE at > :since ORDER BY at",
    });
    expect(await materialize("my_incremental")).toMatchObject({ status: "succeeded", rows_read: 2, watermark: "2024-05-02T00:00:00Z" });
    expect((await latest("my_incremental", 1)).timestamp).toBe("2024-05-01T00:00:00.250000Z");
    await withMysqlAdmin((c) => c.query("INSERT INTO incr_events VALUES (1, 11, '2024-05-03 00:00:00')"));
    expect(await materialize("my_incremental")).toMatchObject({ rows_read: 1, rows_written: 1, watermark: "2024-05-03T00:00:00Z" });
    expect(await materialize("my_incremental")).toMatchObject({ status: "succeeded", rows_read: 0 });
    expect((await history("my_incremental")).values).toHaveLength(3);
  });

  it("fails on a bad query, a timeout and a wrong password, keeping the old values", async () => {
    await registerFeature({ name: "my_breaks", connector: MY, query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id" });
    await materialize("my_breaks");
    const before = await latest("my_breaks", 4);

    await callJson("PATCH", "/api/v1/features/my_breaks", 200, { body: { query: "SELECT customer_id, SUM(amount) FROM no_such_table GROUP BY 1" } });
    const bad = await materialize("my_breaks");
    expect(bad.status).toBe("failed");
    expect(bad.error).toContain("no_such_table");

    await callJson("PATCH", "/api/v1/features/my_breaks", 200, { body: { timeout: "1s", query: "SELECT customer_id, SLEEP(3) FROM purchases LIMIT 1" } });
    const slow = await materialize("my_breaks");
    expect(slow.status).toBe("failed");
    expect(slow.error).toMatch(/^timed out/);

    await createConnector("my_wrong_pw", "mysql", mysqlConfig({ user: "fstore_reader", password: "not-the-password" }));
    await callJson("PATCH", "/api/v1/features/my_breaks", 200, { body: { connector: "my_wrong_pw", query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY 1" } });
    const denied = await materialize("my_breaks");
    expect(denied.status).toBe("failed");
    expect(denied.error).toMatch(/^authentication failed/);
    expect(denied.error).not.toContain("not-the-password");

    expect(await latest("my_breaks", 4)).toEqual(before);
  });

  it("a connection killed mid-run fails the run and writes nothing", async () => {
    await registerFeature({
      name: "my_killed",
      connector: MY,
      query: "SELECT /* fstore-kill-me */ a.id * 1000 + b.id, IF(a.id = 500 AND b.id = 20, SLEEP(5), a.id) FROM orders a JOIN orders b ON b.id <= 20 ORDER BY a.id, b.id",
    });
    const pending = call("POST", "/api/v1/features/my_killed/materialize?wait=true");
    // Kill the connector's connection from another session while the query is running.
    let killed = false;
    for (let i = 0; i < 50 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      killed = await withMysqlAdmin(async (c) => {
        const [rows] = await c.query("SELECT id FROM information_schema.processlist WHERE info LIKE '%fstore-kill-me%' AND info NOT LIKE '%processlist%'");
        const ids = (rows as { id: number }[]).map((r) => r.id);
        for (const id of ids) await c.query("KILL CONNECTION ?", [id]);
        return ids.length > 0;
      });
    }
    expect(killed).toBe(true);
    const run = await ((await pending).json() as Promise<{ status: string; error: string }>);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/lost|closed|interrupted|killed/i);
    expect((await history("my_killed")).values).toEqual([]);
  });

  it("streams a large result in bounded batches", async () => {
    await registerFeature({
      name: "my_many_rows",
      connector: MY,
      // 600 x 10 = 6,000 rows: more than one pull batch (5,000). Last in the file: refreshing
      // 6,000 KV vectors through the queue keeps the local runtime busy for a while.
      query: "SELECT a.id * 1000 + b.id, a.id + b.id FROM orders a JOIN orders b ON b.id <= 10",
    });
    const run = await materialize("my_many_rows");
    expect(run).toMatchObject({ status: "succeeded", rows_read: 6000, rows_written: 6000 });
    expect((await latest("my_many_rows", 600010)).value).toBe(610);
  });
});
