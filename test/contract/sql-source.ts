/**
 * The SQL-source contract (in the style of Feast's universal tests): every SQL connector passes
 * the same tests against its real server, over HTTP against the Worker. A target supplies only its
 * connector type and config, an admin executor for source tables, and the few SQL fragments that
 * really differ between databases; same rows in → same values out.
 *
 * Covered: the guide's queries; every value type; timestamps exact to the microsecond from the
 * earliest date the database keeps to 9999-12-31; results of the wrong shape or type failing the
 * run and writing nothing; incremental runs (`:since`, `incremental_column`) whose watermark moves
 * only on success; the result cache and a value confirmed at a newer time; runs of more than one
 * invocation's rows (queued and inline, with and without a timestamp column); failures keeping the
 * old values served; one run at a time (409); and the security wall: no feature query changes the
 * source database, whatever it hides.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { call, callJson, registerFeature, waitForRun } from "../helpers";
import { createConnector, history, latest, materialize, orders, purchases, sumBy, type Run } from "../sql-helpers";

/** SQL text that differs between databases. */
export interface Dialect {
  /** The guide's "created in the last 30 days" condition's right-hand side, as users write it for this database. */
  last30Days: string;
  /** Now minus `hours`, in UTC, for admin statements filling a timestamp column. */
  hoursAgo(hours: number): string;
  /** An expression that sleeps `seconds`. */
  sleep(seconds: number): string;
  /** A column type holding a UTC date-time to the microsecond. */
  timestampType: string;
  /** A literal of that type for `text` ('YYYY-MM-DD hh:mm:ss.ffffff', UTC). */
  timestamp(text: string): string;
  /** Aggregates over `orders` for the value-type tests: true when any row matches `condition`. */
  anyOf(condition: string): string;
  /** The list [1.5, 2] as the database spells an array of floats. */
  floatList: string;
  /** A JSON object {"n": count(*)}. */
  jsonCount: string;
}

/** One attempt to change the source through a feature query. */
export interface Attack {
  name: string;
  query: string;
  /** Extra feature fields (incremental_column, timeout). */
  extra?: Record<string, unknown>;
  /** What the run's error must say. */
  error: RegExp;
  /** A further check that the attack left no trace (a file, a sequence). */
  leftNoTrace?: () => Promise<void>;
}

export interface SqlTarget {
  /** How test titles name the target. */
  name: string;
  /** Prefix of this target's connectors and features. */
  prefix: string;
  /** Connector type. */
  type: string;
  config(over?: Record<string, unknown>): Record<string, unknown>;
  /** A user with a password whose authentication the server checks (see test/setup/sql-seed.ts). */
  passwordUser: string;
  /** Runs each statement as an admin who may write. */
  exec(...statements: string[]): Promise<void>;
  /** The rows of an admin query. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Holds a lock that makes every reader of `table` wait until the returned function is called. */
  lockTable(table: string): Promise<() => Promise<void>>;
  /** The schema (information_schema.tables.table_schema) tables are created in. */
  schema: string;
  /** The earliest date-time the database's timestamp type keeps ('YYYY-MM-DD hh:mm:ss.ffffff'). */
  earliest: string;
  sql: Dialect;
  /** Admin statements creating what the target's own attacks use (functions, procedures). */
  attackSetup: string[];
  /** Attacks only this database knows. */
  attacks: Attack[];
}

/** Rows inserted with one multi-row INSERT per 1,000 (the same SQL in every dialect). */
async function insertRows(t: SqlTarget, table: string, rows: string[][]) {
  for (let i = 0; i < rows.length; i += 1000) {
    await t.exec(`INSERT INTO ${table} VALUES ${rows.slice(i, i + 1000).map((r) => `(${r.join(", ")})`).join(", ")}`);
  }
}

const online = (feature: string, entity: string) =>
  callJson<{ results: { statuses: Record<string, string>; values: Record<string, unknown> }[] }>("POST", "/api/v1/online-features", 200, {
    body: { features: [feature], entity_ids: [entity] },
  });

/** The rows of a result above one invocation's budget (the tests set FSTORE_RUN_ROWS_PER_INVOCATION=5000). */
const MANY = 6500;
const manyRow = (i: number) => ({ entity: `e${i}`, value: i * 0.25, at: `2024-02-01 00:00:${String(i % 60).padStart(2, "0")}.${String(i).padStart(6, "0")}` });
/** 'YYYY-MM-DD hh:mm:ss.ffffff' as the API prints it: RFC 3339, six fraction digits unless they are all zero. */
const isoOf = (sqlText: string) => `${sqlText.replace(" ", "T").replace(/\.0+$/, "")}Z`;

/** The victim's rows: every attack must leave exactly these. */
const VICTIM = [
  [1, "alice"],
  [2, "bob"],
  [3, "carol"],
] as const;

/** Attacks every SQL database must refuse, each leaving the `victim` table as it was. */
function commonAttacks(t: SqlTarget): Attack[] {
  const notRun = /was not run/;
  // A second statement never gets past the parser (Postgres: one command per prepared statement; MySQL: prepare).
  const oneStatement = /cannot insert multiple commands into a prepared statement|syntax/i;
  const row = "SELECT 'c1' AS entity_id, 1 AS value";
  return [
    { name: "a second statement after COMMIT deletes", query: `${row}; COMMIT; DELETE FROM victim`, error: oneStatement },
    { name: "a second statement drops the table", query: `${row}; DROP TABLE victim`, error: oneStatement },
    { name: "a second statement after a trailing semicolon", query: `${row};\nDELETE FROM victim;`, error: oneStatement },
    { name: "a semicolon hidden behind a comment", query: `${row} /* ; */ ; DELETE FROM victim`, error: oneStatement },
    { name: "a parenthesised SELECT then a DELETE", query: `(${row}); DELETE FROM victim`, error: oneStatement },
    { name: "VALUES then a DELETE", query: "VALUES ('c1', 1); DELETE FROM victim", error: oneStatement },
    { name: "DROP TABLE", query: "DROP TABLE victim", error: notRun },
    { name: "TRUNCATE TABLE", query: "TRUNCATE TABLE victim", error: notRun },
    { name: "DELETE", query: "DELETE FROM victim", error: notRun },
    { name: "DELETE ... RETURNING rows", query: "DELETE FROM victim RETURNING id AS entity_id, id AS value", error: notRun },
    { name: "UPDATE", query: "UPDATE victim SET note = 'pwned'", error: notRun },
    { name: "INSERT", query: "INSERT INTO victim VALUES (99, 'mallory')", error: notRun },
    { name: "CREATE TABLE", query: "CREATE TABLE attack_made (id INT)", error: notRun },
    { name: "CREATE TABLE ... AS SELECT", query: "CREATE TABLE attack_made AS SELECT * FROM victim", error: notRun },
    { name: "ALTER TABLE", query: "ALTER TABLE victim ADD COLUMN pwned INT", error: notRun },
    { name: "a block comment before a DELETE", query: "/* nightly */ DELETE FROM victim", error: notRun },
    { name: "a line comment before a DELETE", query: "-- nightly\nDELETE FROM victim", error: notRun },
    { name: "a comment that hides SELECT in a nested comment", query: "/* /* */ SELECT */ DELETE FROM victim", error: /was not run|syntax|returns no result set/i },
    { name: "mixed case and whitespace", query: " \n\t dElEtE\n\tFROM   victim  \n", error: notRun },
    { name: "parentheses around a DELETE", query: "((DELETE FROM victim))", error: notRun },
    { name: "a CTE in front of a DELETE", query: "WITH d AS (SELECT 1) DELETE FROM victim", error: /syntax|returns no result set|DECLARE CURSOR/i },
    { name: "GRANT", query: "GRANT ALL ON victim TO PUBLIC", error: notRun },
    {
      name: "incremental_column wrapping a DELETE",
      query: "DELETE FROM victim",
      extra: { incremental_column: "timestamp" },
      error: /syntax/i,
    },
    {
      name: "incremental_column wrapper closed early, a DELETE after it and the rest commented out",
      query: `${row}, ${t.sql.timestamp("2024-01-01 00:00:00")} AS ts) q; DELETE FROM victim; --`,
      extra: { incremental_column: "ts" },
      error: oneStatement,
    },
    {
      // If the SELECT ran, the 1s timeout would end the run as "timed out": it fails on the parse instead.
      name: "a sleeping SELECT before a DELETE fails before anything runs",
      query: `SELECT ${t.sql.sleep(5)} AS entity_id, 1 AS value; DELETE FROM victim`,
      extra: { timeout: "1s" },
      error: oneStatement,
    },
  ];
}

export function sqlSourceContract(t: SqlTarget) {
  const p = t.prefix;
  const connector = `${p}_src`;
  const feature = (name: string, def: Record<string, unknown>) => registerFeature({ name: `${p}_${name}`, connector, ...def });
  const run = (name: string) => materialize(`${p}_${name}`);
  const value = (name: string, entity: string | number) => latest(`${p}_${name}`, entity);
  const historyOf = async (name: string) => (await history(`${p}_${name}`)).values;
  const ts = t.sql.timestamp;

  describe(`SQL source contract: ${t.name}`, () => {
    beforeAll(async () => {
      await createConnector(connector, t.type, t.config());
    });

    describe("the guide's queries", () => {
      it("customer_lifetime_value: 2 columns read by position, the run's time as timestamp", async () => {
        await feature("customer_lifetime_value", {
          entity_id: "customer",
          feature_group: `${p}_customer`,
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
        expect(await run("customer_lifetime_value")).toMatchObject({ status: "succeeded", trigger: "manual", rows_read: 20, rows_written: 20, rows_unchanged: 0, error: null });
        const expected = sumBy(orders, (o) => o.customer, (o) => o.cents);
        for (const customer of [1, 7, 20]) {
          const v = await value("customer_lifetime_value", customer);
          expect(v.value).toBe((expected.get(customer) as number) / 100);
          expect(Date.parse(v.timestamp)).toBeGreaterThanOrEqual(before - 1000);
        }
      });

      it("customer_purchase_frequency: the 30-day CTE with named columns", async () => {
        await feature("customer_purchase_frequency", {
          description: "Frequência de compras do cliente nos últimos 30 dias",
          entity_id: "customer",
          feature_group: `${p}_customer`,
          query: `
        WITH customer_purchases AS (
            SELECT 
                customer_id,
                COUNT(*) as purchase_count,
                COUNT(*) / 30.0 as purchase_frequency
            FROM orders
            WHERE created_at >= ${t.sql.last30Days}
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
        const result = await run("customer_purchase_frequency");
        expect(result.status).toBe("succeeded");
        const recent = sumBy(orders.filter((o) => o.daysAgo < 30), (o) => o.customer, () => 1);
        expect(result.rows_read).toBe(recent.size);
        for (const [customer, count] of recent) {
          expect((await value("customer_purchase_frequency", customer)).value as number).toBeCloseTo(count / 30, 4);
        }
      });

      it("customer_total_purchases: the unnamed SUM(amount) column", async () => {
        await feature("customer_total_purchases", { entity_id: "customer", query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id" });
        expect(await run("customer_total_purchases")).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 25 });
        const expected = sumBy(purchases, (x) => x.customer, (x) => x.cents);
        for (const customer of [1, 3, 25]) expect((await value("customer_total_purchases", customer)).value).toBe((expected.get(customer) as number) / 100);
      });

      it("joins and window functions, 3 columns by position with a timestamp", async () => {
        await feature("last_purchase_amount", {
          entity_id: "customer",
          query: `
        SELECT p.customer_id, p.amount, p.purchased_at
          FROM (SELECT customer_id, amount, purchased_at,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY purchased_at DESC) AS rn
                  FROM purchases) p
          JOIN (SELECT DISTINCT customer_id FROM orders) o ON o.customer_id = p.customer_id
         WHERE p.rn = 1`,
        });
        // orders has customers 1..20, purchases 1..25: the join keeps 20.
        expect(await run("last_purchase_amount")).toMatchObject({ status: "succeeded", rows_read: 20 });
        for (const customer of [5, 20]) {
          const last = purchases.filter((x) => x.customer === customer).sort((a, b) => b.at - a.at)[0]!;
          expect(await value("last_purchase_amount", customer)).toMatchObject({ value: last.cents / 100, timestamp: new Date(last.at).toISOString().replace(".000Z", "Z") });
        }
        expect((await call("GET", `/api/v1/features/${p}_last_purchase_amount/values/21`)).status).toBe(404);
      });
    });

    describe("values and timestamps", () => {
      it("keeps every value type: float, int, string, bool, float_list, json", async () => {
        const types = [
          ["float", "SUM(order_value)", sumBy(orders, (o) => o.customer, (o) => o.cents).get(1)! / 100],
          ["int", "COUNT(*)", 30],
          ["string", "MIN(status)", "paid"],
          ["bool", t.sql.anyOf("status = 'refunded'"), true],
          ["float_list", t.sql.floatList, [1.5, 2]],
          ["json", t.sql.jsonCount, { n: 30 }],
        ] as const;
        for (const [type, expr, expected] of types) {
          await feature(`typed_${type}`, {
            entity_id: "customer",
            value_type: type,
            query: `SELECT customer_id AS entity_id, ${expr} AS value, ${ts("2024-03-01 10:00:00.123456")} AS timestamp FROM orders WHERE customer_id = 1 GROUP BY customer_id`,
          });
          expect(await run(`typed_${type}`)).toMatchObject({ status: "succeeded", rows_written: 1 });
          const v = await value(`typed_${type}`, 1);
          expect(v.value).toEqual(expected);
          expect(v.timestamp).toBe("2024-03-01T10:00:00.123456Z");
        }
        // false is a value too, not a missing one.
        await feature("typed_bool_false", { entity_id: "customer", value_type: "bool", query: `SELECT customer_id, ${t.sql.anyOf("status = 'lost'")} FROM orders GROUP BY customer_id` });
        expect(await run("typed_bool_false")).toMatchObject({ status: "succeeded", rows_written: 20 });
        expect((await value("typed_bool_false", 4)).value).toBe(false);
      });

      it("keeps timestamps exact to the microsecond, from the earliest the database keeps to 9999-12-31", async () => {
        const times = [
          ["earliest", t.earliest],
          ["before_1970", "1969-12-31 23:59:59.999999"],
          ["epoch", "1970-01-01 00:00:00.000001"],
          ["ordinary", "2024-02-29 12:34:56.654321"],
          ["after_2255", "2300-01-01 00:00:00.000001"],
          ["datetime_max", "9999-12-31 23:59:59.999999"],
        ];
        await t.exec("DROP TABLE IF EXISTS contract_times", `CREATE TABLE contract_times (entity_id VARCHAR(20), value INT, at ${t.sql.timestampType})`);
        // Two rows of one entity 1 µs apart: two history rows, the later one latest.
        await insertRows(t, "contract_times", [
          ...times.map(([entity, at], i) => [`'${entity}'`, String(i), ts(at as string)]),
          ["'close'", "1", ts("2024-05-05 05:05:05.000001")],
          ["'close'", "2", ts("2024-05-05 05:05:05.000002")],
        ]);
        await feature("times", { value_type: "int", query: "SELECT entity_id, value, at AS timestamp FROM contract_times" });
        expect(await run("times")).toMatchObject({ status: "succeeded", rows_written: times.length + 2 });
        for (const [entity, at] of times) expect((await value("times", entity as string)).timestamp).toBe(isoOf(at as string));
        expect(await value("times", "close")).toMatchObject({ value: 2, timestamp: "2024-05-05T05:05:05.000002Z" });
        const close = (await historyOf("times")).filter((h) => h.entity_id === "close").map((h) => h.timestamp).sort();
        expect(close).toEqual(["2024-05-05T05:05:05.000001Z", "2024-05-05T05:05:05.000002Z"]);
        // A second run over the same rows changes nothing: every timestamp read back compares equal.
        expect(await run("times")).toMatchObject({ status: "succeeded", rows_written: 0, rows_unchanged: times.length + 2 });
      });

      it("fails a result of the wrong shape, naming the columns found and expected, and writes nothing", async () => {
        await feature("bad_shape", { query: "SELECT id, customer_id, order_value, status FROM orders" });
        const result = await run("bad_shape");
        expect(result).toMatchObject({ status: "failed", rows_written: 0 });
        expect(result.error).toContain("[id, customer_id, order_value, status]");
        expect(result.error).toContain("entity_id, value[, timestamp]");
        expect(await historyOf("bad_shape")).toEqual([]);
      });

      it("fails a value of the wrong type naming its row and column, and writes none of the good rows", async () => {
        await t.exec("DROP TABLE IF EXISTS contract_bad_type", "CREATE TABLE contract_bad_type (seq INT, entity_id VARCHAR(20), amount VARCHAR(20), at VARCHAR(40))");
        await insertRows(t, "contract_bad_type", [
          ["1", "'a'", "'1'", "'2024-01-01T00:00:00Z'"],
          ["2", "'b'", "'2'", "'2024-01-01T00:00:00Z'"],
          ["3", "'c'", "'n/a'", "'2024-01-01T00:00:00Z'"],
          ["4", "'d'", "'4'", "'yesterday'"],
        ]);
        await feature("bad_type", { value_type: "int", query: "SELECT entity_id, amount, at FROM contract_bad_type ORDER BY seq" });
        const badValue = await run("bad_type");
        expect(badValue).toMatchObject({ status: "failed", rows_written: 0 });
        expect(badValue.error).toMatch(/^row 3, column 'amount' \(value\): value must be an integer.*'n\/a'/);
        await t.exec("UPDATE contract_bad_type SET amount = '3' WHERE seq = 3");
        const badTime = await run("bad_type");
        expect(badTime).toMatchObject({ status: "failed", rows_written: 0 });
        expect(badTime.error).toMatch(/^row 4, column 'at' \(timestamp\): 'yesterday' is not a date-time/);
        expect(await historyOf("bad_type")).toEqual([]);
        expect((await call("GET", `/api/v1/features/${p}_bad_type/values/a`)).status).toBe(404);
      });
    });

    describe("incremental runs and the result cache", () => {
      it(":since is bound to the last committed watermark, which advances after each commit", async () => {
        await t.exec("DROP TABLE IF EXISTS contract_incr", `CREATE TABLE contract_incr (customer_id INT, score FLOAT, at ${t.sql.timestampType})`);
        await insertRows(t, "contract_incr", [
          ["1", "10", ts("2024-05-01 00:00:00.250000")],
          ["2", "20", ts("2024-05-02 00:00:00")],
        ]);
        await feature("incremental", { query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM contract_incr WHERE at > :since ORDER BY at", update_frequency: "5m" });
        expect(await run("incremental")).toMatchObject({ status: "succeeded", rows_read: 2, watermark: "2024-05-02T00:00:00Z" });
        expect((await value("incremental", 1)).timestamp).toBe("2024-05-01T00:00:00.250000Z");

        await insertRows(t, "contract_incr", [["1", "11", ts("2024-05-03 00:00:00")]]);
        expect(await run("incremental")).toMatchObject({ status: "succeeded", rows_read: 1, rows_written: 1, watermark: "2024-05-03T00:00:00Z" });
        expect((await value("incremental", 1)).value).toBe(11);
        expect(await historyOf("incremental")).toHaveLength(3);
        expect(await run("incremental")).toMatchObject({ status: "succeeded", rows_read: 0, watermark: "2024-05-03T00:00:00Z" });
      });

      it("incremental_column filters on a result column; a failed run does not advance the watermark", async () => {
        await t.exec("DROP TABLE IF EXISTS contract_incr_col", `CREATE TABLE contract_incr_col (customer_id INT, score VARCHAR(20), at ${t.sql.timestampType})`);
        await insertRows(t, "contract_incr_col", [["1", "'1'", ts("2024-06-01 00:00:00")]]);
        await feature("incremental_col", { incremental_column: "timestamp", query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM contract_incr_col" });
        expect(await run("incremental_col")).toMatchObject({ status: "succeeded", rows_read: 1, watermark: "2024-06-01T00:00:00Z" });

        // A row that breaks the run (not a number) beside a good one: nothing lands, the watermark stays.
        await insertRows(t, "contract_incr_col", [
          ["2", "'oops'", ts("2024-06-02 00:00:00")],
          ["3", "'3'", ts("2024-06-03 00:00:00")],
        ]);
        const failed = await run("incremental_col");
        expect(failed).toMatchObject({ status: "failed", rows_written: 0 });
        expect(failed.error).toContain("'oops'");
        expect((await call("GET", `/api/v1/features/${p}_incremental_col/values/3`)).status).toBe(404);

        await t.exec("UPDATE contract_incr_col SET score = '2' WHERE customer_id = 2");
        expect(await run("incremental_col")).toMatchObject({ status: "succeeded", rows_read: 2, rows_written: 2, watermark: "2024-06-03T00:00:00Z" });
        expect((await value("incremental_col", 2)).value).toBe(2);
        expect(await run("incremental_col")).toMatchObject({ status: "succeeded", rows_read: 0 });
      });

      it("incremental_column works on a query ending in a line comment", async () => {
        await feature("incremental_commented", {
          incremental_column: "timestamp",
          query: "SELECT customer_id AS entity_id, score AS value, at AS timestamp FROM contract_incr_col -- every score",
        });
        expect(await run("incremental_commented")).toMatchObject({ status: "succeeded", rows_read: 3, watermark: "2024-06-03T00:00:00Z" });
        expect(await run("incremental_commented")).toMatchObject({ status: "succeeded", rows_read: 0 });
      });

      it("the result cache: a re-run over the same rows and timestamps writes nothing and counts them unchanged", async () => {
        await feature("cached", { query: "SELECT customer_id, SUM(amount), MAX(purchased_at) FROM purchases GROUP BY customer_id" });
        expect(await run("cached")).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 25, rows_unchanged: 0 });
        expect(await run("cached")).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 0, rows_unchanged: 25 });
        expect(await historyOf("cached")).toHaveLength(25);
      });

      it("a value seen again at a newer time is written: latest and history advance and a ttl feature reads PRESENT again", async () => {
        // The issue's example: 5.0 first seen 3 days ago, then again with an event time of 1 hour ago, ttl 1d.
        await t.exec("DROP TABLE IF EXISTS contract_confirmed", `CREATE TABLE contract_confirmed (entity_id VARCHAR(20), value FLOAT, seen_at ${t.sql.timestampType})`);
        await t.exec(`INSERT INTO contract_confirmed VALUES ('acct1', 5.0, ${t.sql.hoursAgo(72)})`);
        await feature("confirmed", { ttl: "1d", query: "SELECT entity_id, value, seen_at AS timestamp FROM contract_confirmed" });
        expect(await run("confirmed")).toMatchObject({ status: "succeeded", rows_written: 1 });
        const stale = (await online(`${p}_confirmed`, "acct1")).results[0]!;
        expect(stale.statuses[`${p}_confirmed`]).toBe("OUTSIDE_MAX_AGE");
        const [first] = await historyOf("confirmed");
        expect(first?.value).toBe(5);

        await t.exec(`UPDATE contract_confirmed SET seen_at = ${t.sql.hoursAgo(1)}`);
        expect(await run("confirmed")).toMatchObject({ status: "succeeded", rows_read: 1, rows_written: 1, rows_unchanged: 0 });
        const now = await value("confirmed", "acct1");
        expect(now.value).toBe(5);
        expect(Date.parse(now.timestamp)).toBeGreaterThan(Date.parse(first!.timestamp) + 60 * 3600_000);
        expect((await historyOf("confirmed")).map((h) => h.timestamp).sort()).toEqual([first!.timestamp, now.timestamp].sort());
        const fresh = (await online(`${p}_confirmed`, "acct1")).results[0]!;
        expect(fresh.statuses[`${p}_confirmed`]).toBe("PRESENT");
        expect(fresh.values[`${p}_confirmed`]).toBe(5);
      });
    });

    describe("runs longer than one invocation", () => {
      beforeAll(async () => {
        await t.exec("DROP TABLE IF EXISTS contract_many", `CREATE TABLE contract_many (n INT, entity_id VARCHAR(20), value FLOAT, at ${t.sql.timestampType})`);
        await insertRows(
          t,
          "contract_many",
          Array.from({ length: MANY }, (_, i) => manyRow(i)).map((r, i) => [String(i), `'${r.entity}'`, String(r.value), ts(r.at)]),
        );
      });

      /** Every row's value (and timestamp) in history, each exactly once; entities `e<i>`, or `<i>` with `numbered`. */
      async function expectEveryRowOnce(name: string, withTime: boolean, numbered = false) {
        const rows = await historyOf(name);
        expect(rows).toHaveLength(MANY);
        const byEntity = new Map(rows.map((r) => [r.entity_id, r]));
        expect(byEntity.size).toBe(MANY);
        for (let i = 0; i < MANY; i++) {
          const want = manyRow(i);
          const got = byEntity.get(numbered ? String(i) : want.entity);
          expect(got?.value).toBe(want.value);
          if (withTime) expect(got?.timestamp).toBe(isoOf(want.at));
        }
      }

      it(`queued (202, then polled): ${MANY} rows with a timestamp column continue across invocations`, { timeout: 200_000 }, async () => {
        await feature("many_queued", { query: "SELECT entity_id, value, at AS timestamp FROM contract_many" });
        const queued = await callJson<Run>("POST", `/api/v1/features/${p}_many_queued/materialize`, 202);
        expect(queued.status).toBe("queued");
        const done = await waitForRun(queued.id);
        expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: MANY, rows_written: MANY });
        expect(done.invocations).toBeGreaterThan(1);
        await expectEveryRowOnce("many_queued", true);
      });

      it(`inline (?wait=true): ${MANY} rows without a timestamp column, keyed by an integer, continue across invocations`, { timeout: 200_000 }, async () => {
        await feature("many_inline", { query: "SELECT n, value FROM contract_many" });
        const done = await run("many_inline");
        expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: MANY, rows_written: MANY });
        expect(done.invocations).toBeGreaterThan(1);
        await expectEveryRowOnce("many_inline", false, true);
      });

      it("a query ending in a line comment continues too", { timeout: 200_000 }, async () => {
        await feature("many_commented", { query: "SELECT entity_id, value, at AS timestamp FROM contract_many -- every row" });
        const done = await run("many_commented");
        expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: MANY, rows_written: MANY });
        expect(done.invocations).toBeGreaterThan(1);
        await expectEveryRowOnce("many_commented", true);
      });
    });

    describe("failures keep the old values served", () => {
      /** Registers a working feature, runs it, breaks it with `patch`, runs it again: returns the failed run. */
      async function breakFeature(name: string, patch: Record<string, unknown>): Promise<Run> {
        await feature(name, { query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id" });
        expect(await run(name)).toMatchObject({ status: "succeeded", rows_written: 25 });
        const before = await value(name, 4);
        await callJson("PATCH", `/api/v1/features/${p}_${name}`, 200, { body: patch });
        const failed = await run(name);
        expect(failed).toMatchObject({ status: "failed", rows_written: 0 });
        expect(await value(name, 4)).toEqual(before);
        expect(await historyOf(name)).toHaveLength(25);
        return failed;
      }

      it("a bad query fails the run with the server's message", async () => {
        const failed = await breakFeature("breaks_query", { query: "SELECT customer_id, SUM(amount) FROM no_such_table GROUP BY customer_id" });
        expect(failed.error).toMatch(/^the query failed: .*no_such_table/);
      });

      it("a statement timeout fails the run", async () => {
        const failed = await breakFeature("breaks_timeout", { timeout: "1s", query: `SELECT customer_id, ${t.sql.sleep(3)} FROM purchases GROUP BY customer_id` });
        expect(failed.error).toMatch(/^timed out/);
      });

      it("a wrong password fails the run with an authentication error that does not echo the password", async () => {
        await createConnector(`${p}_wrong_pw`, t.type, t.config({ user: t.passwordUser, password: "not-the-password-7f3a" }));
        const failed = await breakFeature("breaks_auth", { connector: `${p}_wrong_pw` });
        expect(failed.error).toMatch(/^authentication failed/);
        expect(failed.error).not.toContain("not-the-password-7f3a");
        const listed = await callJson("GET", `/api/v1/runs/${failed.id}`, 200);
        expect(JSON.stringify(listed)).not.toContain("not-the-password-7f3a");
      });
    });

    describe("one run at a time and the run list", () => {
      it("refuses a second run of a feature while one holds the lease (409), queued or inline", { timeout: 120_000 }, async () => {
        await t.exec("DROP TABLE IF EXISTS contract_gate", "CREATE TABLE contract_gate (entity_id VARCHAR(20), value INT)", "INSERT INTO contract_gate VALUES ('g1', 7)");
        await feature("gated", { value_type: "int", query: "SELECT entity_id, value FROM contract_gate" });
        const release = await t.lockTable("contract_gate");
        let first: Run;
        try {
          // The first run takes the lease and then waits on the lock for as long as we hold it.
          first = await callJson<Run>("POST", `/api/v1/features/${p}_gated/materialize`, 202);
          for (const path of [`/api/v1/features/${p}_gated/materialize?wait=true`, `/api/v1/features/${p}_gated/materialize`]) {
            const second = await call("POST", path);
            expect(second.status).toBe(409);
            expect(((await second.json()) as { error: { code: string } }).error.code).toBe("RUN_IN_PROGRESS");
          }
        } finally {
          await release();
        }
        expect(await waitForRun(first.id)).toMatchObject({ status: "succeeded", rows_written: 1 });
        expect((await value("gated", "g1")).value).toBe(7);
        // With the lease released, the next run starts.
        expect(await run("gated")).toMatchObject({ status: "succeeded", rows_read: 1 });
      });

      it("GET /api/v1/runs lists runs across features, filtered by status, feature and trigger, page by page", async () => {
        type Listed = { runs: (Run & { feature_id: string })[]; next_cursor: string | null };
        const all = async (query: string) => {
          const seen: Listed["runs"] = [];
          let cursor: string | null = null;
          do {
            const page: Listed = await callJson<Listed>("GET", `/api/v1/runs?limit=3&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, 200);
            expect(page.runs.length).toBeLessThanOrEqual(3);
            seen.push(...page.runs);
            cursor = page.next_cursor;
          } while (cursor);
          expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
          return seen;
        };
        const ofFeature = await all(`feature=${p}_breaks_query`);
        expect(ofFeature.map((r) => [r.feature_id, r.status])).toEqual([
          [`${p}_breaks_query`, "failed"],
          [`${p}_breaks_query`, "succeeded"],
        ]);
        // The same as the feature's own list, and each run on its own.
        const own = await callJson<Listed>("GET", `/api/v1/features/${p}_breaks_query/runs`, 200);
        expect(own.runs.map((r) => r.id)).toEqual(ofFeature.map((r) => r.id));
        const one = await callJson("GET", `/api/v1/runs/${ofFeature[0]!.id}`, 200);
        expect(one).toMatchObject({ feature_id: `${p}_breaks_query`, status: "failed", trigger: "manual", rows_written: 0 });
        expect(typeof one.duration_ms).toBe("number");
        const failed = await all("status=failed");
        expect(failed.every((r) => r.status === "failed")).toBe(true);
        const failedFeatures = new Set(failed.map((r) => r.feature_id));
        for (const name of ["breaks_query", "breaks_timeout", "breaks_auth", "bad_shape"]) expect(failedFeatures).toContain(`${p}_${name}`);
        expect(failed.map((r) => r.created_at)).toEqual([...failed.map((r) => r.created_at)].sort().reverse());
        const manual = await all(`trigger=manual&feature=${p}_cached`);
        expect(manual).toHaveLength(2);
        expect(await all(`trigger=schedule&feature=${p}_cached`)).toEqual([]);
        expect((await call("GET", "/api/v1/runs?feature=no_such_feature")).status).toBe(404);
        expect((await call("GET", "/api/v1/runs/no-such-run")).status).toBe(404);
      });
    });

    describe("a feature query cannot change the source database", () => {
      const victimRows = async () => (await t.rows("SELECT id, note FROM victim ORDER BY id")).map((r) => [Number(r.id), r.note]);
      const victimColumns = async () =>
        Number((await t.rows(`SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = '${t.schema}' AND table_name = 'victim'`))[0]?.n);
      const tableExists = async (name: string) =>
        Number((await t.rows(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${t.schema}' AND table_name = '${name}'`))[0]?.n) > 0;

      beforeAll(async () => {
        for (const statement of t.attackSetup) await t.exec(statement);
      });
      beforeEach(async () => {
        await t.exec("DROP TABLE IF EXISTS victim", "DROP TABLE IF EXISTS attack_made", "CREATE TABLE victim (id INT PRIMARY KEY, note VARCHAR(20))");
        await t.exec(`INSERT INTO victim VALUES ${VICTIM.map(([id, note]) => `(${id}, '${note}')`).join(", ")}`);
        expect(await victimRows()).toEqual(VICTIM.map((r) => [...r]));
      });

      [...commonAttacks(t), ...t.attacks].forEach((attack, i) => {
        it(`refuses ${attack.name}`, async () => {
          await feature(`attack_${i}`, { value_type: "int", query: attack.query, ...attack.extra });
          const result = await run(`attack_${i}`);
          expect(result).toMatchObject({ status: "failed", rows_written: 0 });
          expect(result.error).not.toMatch(/^internal error/);
          expect(result.error).toMatch(attack.error);
          expect(await victimRows()).toEqual(VICTIM.map((r) => [...r]));
          expect(await victimColumns()).toBe(2);
          expect(await tableExists("attack_made")).toBe(false);
          await attack.leftNoTrace?.();
        });
      });

      it("still runs an honest query that reads the victim table", async () => {
        await feature("reads_victim", { value_type: "string", query: "SELECT id, note FROM victim" });
        expect(await run("reads_victim")).toMatchObject({ status: "succeeded", rows_written: 3 });
        expect((await value("reads_victim", 2)).value).toBe("bob");
      });
    });
  });
}
