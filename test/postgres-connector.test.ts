/**
 * What only the Postgres connector does, against the real local PostgreSQL through the pgproxy
 * (the WebSocket path the Neon driver takes): Postgres's own types (timestamp without time zone,
 * date, jsonb, real[], numeric), and the backend killed mid-run. Everything every SQL source does
 * is in the contract suite (test/sql-sources.test.ts).
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { registerFeature } from "./helpers";
import { createConnector, history, latest, materialize, pgConfig } from "./sql-helpers";

const PG = "pg_only";

beforeAll(async () => {
  await createConnector(PG, "postgres", pgConfig());
});

describe("postgres connector", () => {
  it("reads Postgres types: timestamp without time zone and date as UTC, jsonb, real[], numeric", async () => {
    const features = [
      ["pg_ts_naive", "float", "12345678.125::numeric(20, 6)", "TIMESTAMP '2024-03-01 10:00:00.000001'", 12345678.125, "2024-03-01T10:00:00.000001Z"],
      ["pg_date", "json", "jsonb_build_object('a', jsonb_build_array(1, 'x'))", "DATE '2024-02-29'", { a: [1, "x"] }, "2024-02-29T00:00:00Z"],
      ["pg_real_array", "float_list", "ARRAY[0.5, 0.25]::real[]", "TIMESTAMPTZ '2024-03-01 12:00:00+02'", [0.5, 0.25], "2024-03-01T10:00:00Z"],
    ] as const;
    for (const [name, type, value, timestamp, expected, iso] of features) {
      await registerFeature({ name, value_type: type, connector: PG, query: `SELECT 'e1' AS entity_id, ${value} AS value, ${timestamp} AS timestamp` });
      expect(await materialize(name)).toMatchObject({ status: "succeeded", rows_written: 1 });
      expect(await latest(name, "e1")).toMatchObject({ value: expected, timestamp: iso });
    }
  });

  it("the backend killed mid-run fails the run and writes none of the rows already read", async () => {
    // 9,000 rows read in batches of 5,000; the server ends the connection once row 7,000 is produced.
    await registerFeature({
      name: "pg_dies_midway",
      connector: PG,
      query: `SELECT i AS entity_id, i::float8 AS value
                FROM generate_series(1, 9000) AS i
               WHERE CASE WHEN i = 7000 THEN pg_terminate_backend(pg_backend_pid()) ELSE true END`,
    });
    const run = await materialize("pg_dies_midway");
    expect(run).toMatchObject({ status: "failed", rows_written: 0 });
    expect(run.rows_read).toBeGreaterThan(0);
    expect(run.error).toMatch(/lost|terminat/i);
    expect((await history("pg_dies_midway")).values).toEqual([]);
    const staged = await env.DB.prepare("SELECT count(*) AS n FROM run_values WHERE run_id = ?1").bind(run.id).first<{ n: number }>();
    expect(staged?.n).toBe(0);
  });
});
