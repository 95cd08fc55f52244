/**
 * The SQL-source contract (test/contract/sql-source.ts) against both SQL connectors' real servers:
 * PostgreSQL through the pgproxy (WebSocket transport) and directly over TCP, and MariaDB. Each target is its connector config, an admin
 * executor and the SQL fragments that differ; the tests themselves are the same.
 */
import { expect } from "vitest";
import { sqlSourceContract, type SqlTarget } from "./contract/sql-source";
import { DB, mysqlAdminConnection, mysqlConfig, pgAdminClient, pgConfig, withMysqlAdmin, withPgAdmin } from "./sql-helpers";

const notRun = /was not run/;
const readOnly = /^the query tried to write, which a read-only run refuses/;

const postgres: SqlTarget = {
  name: "PostgreSQL",
  prefix: "pg",
  type: "postgres",
  config: pgConfig,
  passwordUser: "fstore_reader",
  async exec(...statements) {
    await withPgAdmin(async (c) => {
      for (const s of statements) await c.query(s);
    });
  },
  rows: (sql) => withPgAdmin(async (c) => (await c.query(sql)).rows as Record<string, unknown>[]),
  async lockTable(table) {
    const c = await pgAdminClient();
    await c.query("BEGIN");
    await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    return async () => {
      await c.query("COMMIT");
      await c.end();
    };
  },
  schema: "public",
  earliest: "0001-01-01 00:00:00.000001",
  sql: {
    last30Days: "NOW() - INTERVAL '30 days'",
    hoursAgo: (h) => `NOW() - INTERVAL '${h} hours'`,
    sleep: (s) => `(pg_sleep(${s})::text IS NULL)::int`,
    timestampType: "timestamptz",
    timestamp: (text) => `TIMESTAMPTZ '${text}+00'`,
    anyOf: (condition) => `bool_or(${condition})`,
    floatList: "ARRAY[1.5, 2]::float8[]",
    jsonCount: "json_build_object('n', count(*))",
  },
  attackSetup: [
    "CREATE OR REPLACE FUNCTION purge_victim() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN DELETE FROM victim; RETURN 0; END $$",
    "DROP SEQUENCE IF EXISTS attack_seq",
    "CREATE SEQUENCE attack_seq",
  ],
  attacks: [
    {
      name: "a data-modifying CTE",
      query: "WITH d AS (DELETE FROM victim RETURNING id) SELECT id AS entity_id, 1 AS value FROM d",
      error: /DECLARE CURSOR must not contain data-modifying statements in WITH/,
    },
    { name: "COPY ... FROM", query: "COPY victim FROM STDIN", error: notRun },
    { name: "COPY ... TO PROGRAM", query: "COPY victim TO PROGRAM 'cat > /dev/null'", error: notRun },
    { name: "a plpgsql function that deletes, refused by the read-only transaction", query: "SELECT 1 AS entity_id, purge_victim() AS value", error: readOnly },
    {
      name: "switching the transaction to read-write before the function runs",
      query: "SELECT 1 AS entity_id, purge_victim() AS value FROM (SELECT set_config('transaction_read_only', 'off', true)) AS s",
      error: /read-write mode must be set before|read-only/,
    },
    { name: "SELECT ... INTO a new table", query: "SELECT * INTO attack_made FROM victim", error: /INTO|syntax/ },
    { name: "EXPLAIN ANALYZE of a DELETE", query: "EXPLAIN ANALYZE DELETE FROM victim", error: notRun },
    { name: "a DO block", query: "DO $$ BEGIN DELETE FROM victim; END $$", error: notRun },
    { name: "CALL", query: "CALL purge_victim()", error: notRun },
    { name: "PREPARE of a DELETE", query: "PREPARE p AS DELETE FROM victim", error: notRun },
    { name: "TABLE then a DELETE", query: "TABLE victim; DELETE FROM victim", error: /multiple commands/ },
    { name: "a dollar-quoted semicolon then a DELETE", query: "SELECT $$;$$ AS entity_id, 1 AS value; DELETE FROM victim", error: /multiple commands/ },
    {
      // Postgres lets a read-only transaction create large objects.
      name: "a large object created from a SELECT",
      query: "SELECT 'c1' AS entity_id, lo_from_bytea(0, 'x'::bytea)::int AS value",
      error: readOnly,
      leftNoTrace: async () => {
        const [objects] = await postgres.rows("SELECT count(*) AS n FROM pg_largeobject_metadata");
        expect(Number(objects?.n)).toBe(0);
      },
    },
    {
      name: "nextval() of a sequence",
      query: "SELECT 'c1' AS entity_id, nextval('attack_seq') AS value",
      error: readOnly,
      leftNoTrace: async () => {
        const [seq] = await postgres.rows("SELECT is_called FROM attack_seq");
        expect(seq?.is_called).toBe(false);
      },
    },
  ],
};

/** Where an INTO OUTFILE attack would write on the MariaDB server's machine. */
const outfile = (tag: string) => `/tmp/fstore-attack-${DB}-${tag}`;
const noOutfile = (tag: string) => async () => {
  const [row] = await mariadb.rows(`SELECT LOAD_FILE('${outfile(tag)}') IS NULL AS gone`);
  expect(Number(row?.gone)).toBe(1);
};

const mariadb: SqlTarget = {
  name: "MariaDB",
  prefix: "my",
  type: "mysql",
  config: mysqlConfig,
  passwordUser: "fstore_reader",
  async exec(...statements) {
    await withMysqlAdmin(async (c) => {
      for (const s of statements) await c.query(s);
    });
  },
  rows: (sql) => withMysqlAdmin(async (c) => (await c.query(sql))[0] as Record<string, unknown>[]),
  async lockTable(table) {
    const c = await mysqlAdminConnection();
    await c.query(`LOCK TABLES ${table} WRITE`);
    return async () => {
      await c.query("UNLOCK TABLES");
      await c.end();
    };
  },
  schema: DB,
  earliest: "0001-01-01 00:00:00.000001",
  sql: {
    last30Days: "NOW() - INTERVAL 30 DAY",
    hoursAgo: (h) => `UTC_TIMESTAMP(6) - INTERVAL ${h} HOUR`,
    sleep: (s) => `SLEEP(${s})`,
    timestampType: "DATETIME(6)",
    timestamp: (text) => `TIMESTAMP '${text}'`,
    anyOf: (condition) => `MAX(${condition})`,
    floatList: "JSON_ARRAY(1.5, 2)",
    jsonCount: "JSON_OBJECT('n', COUNT(*))",
  },
  attackSetup: [
    "CREATE OR REPLACE PROCEDURE purge_victim() DELETE FROM victim",
    "CREATE OR REPLACE FUNCTION purge_victim_fn() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM victim; RETURN 0; END",
    "CREATE OR REPLACE SEQUENCE attack_seq",
    // A non-transactional table: a READ ONLY transaction must refuse the write, since nothing could undo it.
    "CREATE OR REPLACE TABLE victim_myisam (id INT) ENGINE = MyISAM",
    "INSERT INTO victim_myisam VALUES (1), (2), (3)",
    "CREATE OR REPLACE FUNCTION purge_myisam_fn() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM victim_myisam; RETURN 0; END",
  ],
  attacks: [
    { name: "an executable comment /*!50000 DROP TABLE victim */", query: "/*!50000 DROP TABLE victim */", error: /executable comment/ },
    {
      name: "an executable comment turning the query into DELETE ... RETURNING",
      query: "/*!50000 DELETE FROM victim WHERE */ (SELECT 1) RETURNING id AS entity_id, id AS value",
      error: /executable comment/,
    },
    {
      name: "a MariaDB executable comment /*M! ... */ turning the query into DELETE ... RETURNING",
      query: "/*M!100000 DELETE FROM victim WHERE */ (SELECT 1) RETURNING id AS entity_id, id AS value",
      error: /executable comment/,
    },
    {
      name: "a MariaDB executable comment /*M! ... */ turning the query into INSERT ... RETURNING",
      query: "/*M!100000 INSERT INTO victim */ SELECT 99, 'mallory' RETURNING id AS entity_id, id AS value",
      error: /executable comment/,
    },
    { name: "a # comment before a DELETE", query: "# nightly\nDELETE FROM victim", error: notRun },
    {
      name: "SELECT ... INTO OUTFILE",
      query: `SELECT 'c1' AS entity_id, 1 AS value INTO OUTFILE '${outfile("outfile")}'`,
      error: /returns no result set/,
      leftNoTrace: noOutfile("outfile"),
    },
    {
      name: "INTO OUTFILE hidden in an executable comment after the SELECT",
      query: `SELECT 'c1' AS entity_id, 1 AS value /*!50000 INTO OUTFILE '${outfile("hidden")}' */`,
      error: /returns no result set/,
      leftNoTrace: noOutfile("hidden"),
    },
    {
      name: "SELECT ... INTO DUMPFILE",
      query: `SELECT 'c1' INTO DUMPFILE '${outfile("dump")}'`,
      error: /returns no result set/,
      leftNoTrace: noOutfile("dump"),
    },
    { name: "a stored function that deletes, refused by the read-only transaction", query: "SELECT 'c1' AS entity_id, purge_victim_fn() AS value", error: readOnly },
    {
      name: "a stored function that deletes from a non-transactional (MyISAM) table",
      query: "SELECT 'c1' AS entity_id, purge_myisam_fn() AS value",
      error: readOnly,
      leftNoTrace: async () => {
        const [rows] = await mariadb.rows("SELECT count(*) AS n FROM victim_myisam");
        expect(Number(rows?.n)).toBe(3);
      },
    },
    {
      name: "NEXTVAL() of a sequence",
      query: "SELECT 'c1' AS entity_id, NEXTVAL(attack_seq) AS value",
      error: readOnly,
      leftNoTrace: async () => {
        const [seq] = await mariadb.rows("SELECT next_not_cached_value FROM attack_seq");
        expect(Number(seq?.next_not_cached_value)).toBe(1);
      },
    },
    { name: "CALL of a procedure that deletes", query: "CALL purge_victim()", error: notRun },
    { name: "DO", query: "DO purge_victim_fn()", error: notRun },
    { name: "LOCK TABLES", query: "LOCK TABLES victim WRITE", error: notRun },
    { name: "OPTIMIZE TABLE", query: "OPTIMIZE TABLE victim", error: notRun },
    { name: "ANALYZE TABLE", query: "ANALYZE TABLE victim", error: notRun },
    { name: "ANALYZE of a DELETE (which MariaDB executes)", query: "ANALYZE DELETE FROM victim", error: notRun },
    { name: "REPLACE", query: "REPLACE INTO victim VALUES (1, 'mallory')", error: notRun },
    { name: "RENAME TABLE", query: "RENAME TABLE victim TO attack_made", error: notRun },
    { name: "HANDLER", query: "HANDLER victim OPEN", error: notRun },
    { name: "LOAD DATA", query: "LOAD DATA INFILE '/etc/hostname' REPLACE INTO TABLE victim", error: notRun },
    { name: "SET STATEMENT ... FOR DELETE", query: "SET STATEMENT max_statement_time = 0 FOR DELETE FROM victim", error: notRun },
  ],
};

sqlSourceContract(postgres);
// The guide's config exactly as written: node-postgres over a TCP socket, no proxy.
sqlSourceContract({ ...postgres, name: "PostgreSQL over TCP", prefix: "pgtcp", config: (over = {}) => ({ ...pgConfig(over), ws_proxy: undefined, transport: "tcp" }) });
sqlSourceContract(mariadb);
