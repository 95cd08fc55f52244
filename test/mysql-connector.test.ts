/**
 * What only the MySQL connector does (mysql2 over Workers TCP sockets), against the real local
 * MariaDB: TIMESTAMP columns read as UTC whatever the session's zone, DECIMAL and BIGINT kept
 * exactly, and the connection killed mid-run. Everything every SQL source does is in the contract
 * suite (test/sql-sources.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, registerFeature } from "./helpers";
import { createConnector, history, latest, materialize, mysqlConfig, withMysqlAdmin } from "./sql-helpers";

const MY = "mysql_only";

beforeAll(async () => {
  await createConnector(MY, "mysql", mysqlConfig());
});

describe("mysql connector", () => {
  it("reads TIMESTAMP columns as UTC whatever zone wrote them, DECIMAL and BIGINT exactly", async () => {
    await withMysqlAdmin(async (c) => {
      await c.query("DROP TABLE IF EXISTS my_types");
      await c.query("CREATE TABLE my_types (id INT, at TIMESTAMP(6), amount DECIMAL(20, 6), big BIGINT)");
      // Written in +05:00: MariaDB stores the instant, 10:00:00.123456 UTC.
      await c.query("SET time_zone = '+05:00'");
      await c.query("INSERT INTO my_types VALUES (1, '2024-03-01 15:00:00.123456', 12345678901234.5, 9007199254740991)");
    });
    await registerFeature({ name: "my_decimal", connector: MY, query: "SELECT id, amount, at FROM my_types" });
    expect(await materialize("my_decimal")).toMatchObject({ status: "succeeded", rows_written: 1 });
    expect(await latest("my_decimal", 1)).toMatchObject({ value: 12345678901234.5, timestamp: "2024-03-01T10:00:00.123456Z" });
    await registerFeature({ name: "my_bigint", value_type: "int", connector: MY, query: "SELECT id, big, at FROM my_types" });
    expect(await materialize("my_bigint")).toMatchObject({ status: "succeeded", rows_written: 1 });
    expect((await latest("my_bigint", 1)).value).toBe(9007199254740991);
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
});
