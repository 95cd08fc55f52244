/**
 * Seeds the source databases the connector tests read: a dedicated database `fstore_src` in the
 * local PostgreSQL (through the pgproxy, with the same Neon driver the Worker uses) and in the
 * local MariaDB (mysql2). Rows are generated deterministically; `test/sql-fixtures.ts` holds the
 * same formulas so tests can compute expected values.
 */
import { Client, neonConfig } from "@neondatabase/serverless";
import mysql from "mysql2/promise";
import ws from "ws";

/**
 * FSTORE_TEST_DB picks another name, so two checkouts can run their tests at the same time
 * against the same servers without seeding over each other.
 */
export const SQL_TEST_DATABASE = process.env.FSTORE_TEST_DB ?? "fstore_src";
if (!/^[a-z][a-z0-9_]{0,62}$/.test(SQL_TEST_DATABASE)) throw new Error(`FSTORE_TEST_DB must be a plain lowercase database name, got '${SQL_TEST_DATABASE}'`);
export const PG = { host: "127.0.0.1", port: 5432, user: "postgres" };
export const MY = { host: "127.0.0.1", port: 3306, user: "root", password: "" };

function pgClient(pgProxy: string, database: string) {
  neonConfig.webSocketConstructor = ws;
  const client = new Client({ ...PG, database, password: "" });
  client.neonConfig.wsProxy = pgProxy;
  client.neonConfig.useSecureWebSocket = false;
  client.neonConfig.pipelineConnect = false;
  return client;
}

async function withPg<T>(pgProxy: string, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = pgClient(pgProxy, database);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable on 127.0.0.1:5432 (database ${database}): ${(err as Error).message}. ` +
        "Run 'bash scripts/services.sh' to install and start it; the connector tests need a real server.",
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function seedPostgres(pgProxy: string): Promise<void> {
  await withPg(pgProxy, "test", async (c) => {
    const { rows } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [SQL_TEST_DATABASE]);
    if (rows.length === 0) await c.query(`CREATE DATABASE ${SQL_TEST_DATABASE}`);
  });
  await withPg(pgProxy, SQL_TEST_DATABASE, async (c) => {
    // One multi-statement query runs as one transaction: a concurrent reader waits for the swap
    // and then sees the new tables, never a missing or half-filled one.
    await c.query(`
      DROP TABLE IF EXISTS orders, purchases CASCADE;
      CREATE TABLE orders (
        id integer PRIMARY KEY,
        customer_id integer NOT NULL,
        order_value numeric(10, 2) NOT NULL,
        status text NOT NULL,
        created_at timestamptz NOT NULL
      );
      -- i = 1..600: customer (i % 20) + 1; value ((i * 37) % 500) / 4 + 5;
      -- created (i % 60) days and 12 hours before seeding, so (i % 60) < 30 is inside the last 30 days.
      INSERT INTO orders
        SELECT i, (i % 20) + 1, ((i * 37) % 500) / 4.0 + 5, CASE WHEN i % 7 = 0 THEN 'refunded' ELSE 'paid' END,
               NOW() - make_interval(days => i % 60, hours => 12)
          FROM generate_series(1, 600) AS i;
      CREATE TABLE purchases (
        id integer PRIMARY KEY,
        customer_id integer NOT NULL,
        amount numeric(10, 2) NOT NULL,
        purchased_at timestamptz NOT NULL
      );
      -- i = 1..300: customer (i % 25) + 1; amount ((i * 13) % 1000) / 10; one purchase an hour from 2024-01-01.
      INSERT INTO purchases
        SELECT i, (i % 25) + 1, ((i * 13) % 1000) / 10.0, TIMESTAMPTZ '2024-01-01 00:00:00+00' + make_interval(hours => i)
          FROM generate_series(1, 300) AS i;
      GRANT SELECT ON ALL TABLES IN SCHEMA public TO fstore_reader;
      CREATE OR REPLACE FUNCTION purge_orders() RETURNS integer LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM orders; RETURN 0; END $$;
    `);
  });
}

export async function seedMysql(): Promise<void> {
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ ...MY, multipleStatements: true });
  } catch (err) {
    throw new Error(
      `MariaDB/MySQL is not reachable on 127.0.0.1:3306 as root: ${(err as Error).message}. ` +
        "Run 'bash scripts/services.sh' to install and start it; the connector tests need a real server.",
    );
  }
  try {
    await conn.query(`
      CREATE DATABASE IF NOT EXISTS ${SQL_TEST_DATABASE};
      USE ${SQL_TEST_DATABASE};
      -- Built under new names and swapped in with one atomic RENAME, so a test run reading these
      -- tables while another run seeds never finds them missing or half-filled.
      DROP TABLE IF EXISTS orders_new, purchases_new, orders_old, purchases_old;
      CREATE TABLE orders_new (
        id INT PRIMARY KEY,
        customer_id INT NOT NULL,
        order_value DECIMAL(10, 2) NOT NULL,
        status VARCHAR(16) NOT NULL,
        created_at DATETIME(6) NOT NULL
      );
      CREATE TABLE purchases_new (
        id INT PRIMARY KEY,
        customer_id INT NOT NULL,
        amount DECIMAL(10, 2) NOT NULL,
        purchased_at DATETIME(6) NOT NULL
      );
      CREATE USER IF NOT EXISTS 'fstore_reader'@'%' IDENTIFIED BY 'fstore-reader-pw';
      CREATE USER IF NOT EXISTS 'fstore_reader'@'localhost' IDENTIFIED BY 'fstore-reader-pw';
      GRANT SELECT ON ${SQL_TEST_DATABASE}.* TO 'fstore_reader'@'%';
      GRANT SELECT ON ${SQL_TEST_DATABASE}.* TO 'fstore_reader'@'localhost';
      INSERT INTO orders_new
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 600)
        SELECT i, (i % 20) + 1, ((i * 37) % 500) / 4.0 + 5, IF(i % 7 = 0, 'refunded', 'paid'),
               UTC_TIMESTAMP(6) - INTERVAL (i % 60) DAY - INTERVAL 12 HOUR
          FROM seq;
      INSERT INTO purchases_new
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 300)
        SELECT i, (i % 25) + 1, ((i * 13) % 1000) / 10.0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL i HOUR
          FROM seq;
      CREATE TABLE IF NOT EXISTS orders LIKE orders_new;
      CREATE TABLE IF NOT EXISTS purchases LIKE purchases_new;
      RENAME TABLE orders TO orders_old, orders_new TO orders, purchases TO purchases_old, purchases_new TO purchases;
      DROP TABLE orders_old, purchases_old;
    `);
  } finally {
    await conn.end();
  }
}
