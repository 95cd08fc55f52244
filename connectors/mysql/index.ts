/**
 * MySQL and MariaDB through mysql2 over Workers TCP sockets (`nodejs_compat`; `disableEval`
 * because Workers forbid generated code). A query runs in `START TRANSACTION READ ONLY` with a
 * statement timeout (MySQL `max_execution_time`, MariaDB `max_statement_time`) as a server-side
 * prepared statement whose rows are streamed (see `query`).
 */
import mysql from "mysql2";
import { z } from "zod";
import { testFailure, toSourceError } from "../errors";
import { bindSince, checkQueryStatement, SINCE_BEGINNING } from "../sql-statement";
import { secret, SourceError, type QueryBatch, type QueryOptions, type QueryRequest, type SqlConnector, type TestResult } from "../types";

export const MysqlConfig = z
  .object({
    host: z.string().min(1).max(255),
    port: z.coerce.number().int().min(1).max(65535).default(3306),
    database: z.string().min(1).max(255),
    user: z.string().min(1).max(255),
    password: secret(z.string().max(1024).default("")),
    /** TLS to the server (mysql2 `ssl`). */
    ssl: z.boolean().default(false),
    /** Seconds to wait for the connection. */
    connect_timeout: z.number().positive().max(300).default(10),
  })
  .strict();
export type MysqlConfig = z.infer<typeof MysqlConfig>;

type Connection = mysql.Connection;

function open(config: MysqlConfig): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let conn: Connection;
    const timer = setTimeout(() => {
      conn?.destroy();
      reject(new SourceError("timeout", `timed out: no answer from ${config.host}:${config.port} within ${config.connect_timeout}s`));
    }, config.connect_timeout * 1000);
    try {
      conn = mysql.createConnection({
        host: config.host,
        port: config.port,
        user: config.user,
        password: config.password,
        database: config.database,
        ssl: config.ssl ? {} : undefined,
        connectTimeout: config.connect_timeout * 1000,
        disableEval: true,
        // Date-times as text keep microseconds; big numbers as text keep their digits.
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        timezone: "Z",
      });
    } catch (err) {
      clearTimeout(timer);
      reject(toSourceError(err, "unknown", [config.password]));
      return;
    }
    conn.on("error", () => {});
    conn.connect((err) => {
      clearTimeout(timer);
      if (err) {
        conn.destroy();
        reject(toSourceError(err, "unknown", [config.password]));
      } else resolve(conn);
    });
  });
}

/** Says goodbye (COM_QUIT) so the server and the Workers socket both let go, then makes sure. */
async function close(conn: Connection): Promise<void> {
  await Promise.race([new Promise<void>((resolve) => conn.end(() => resolve())), new Promise((r) => setTimeout(r, 1000))]);
  conn.destroy();
}

function run(conn: Connection, sql: string, values: unknown[] = []): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    conn.execute({ sql, values }, (err, rows) => (err ? reject(err) : resolve(rows as unknown[])));
  });
}

async function test(config: MysqlConfig): Promise<TestResult> {
  const started = Date.now();
  try {
    const conn = await open(config);
    try {
      const rows = (await run(conn, "SELECT VERSION() AS v")) as { v: string }[];
      return { ok: true, message: "connected", server: String(rows[0]?.v ?? "").slice(0, 200), latency_ms: Date.now() - started };
    } finally {
      await close(conn);
    }
  } catch (err) {
    return testFailure(err, [config.password]);
  }
}

/** A backquoted MySQL identifier. */
const ident = (name: string) => `\`${name.replace(/`/g, "``")}\``;

/**
 * The statement to run: the query itself, or — continuing a long run in key order — the query as a
 * derived table ordered by the key, starting after the last key read. (MariaDB has no derived
 * column lists, so the key columns are named as the first read reported them.)
 */
function statementOf(request: QueryRequest): { sql: string; params: string[] } {
  const { sql, count } = bindSince(checkQueryStatement(request.sql, "mysql"), () => "?");
  // The watermark is UTC; DATETIME text without a zone compares as such.
  const since = (request.since ?? SINCE_BEGINNING).replace("T", " ").replace(/Z$/, "");
  const params = Array.from({ length: count }, () => since);
  const keyset = request.keyset;
  if (!keyset) return { sql, params };
  const key = keyset.positions.map((p) => `fstore_q.${ident(keyset.columns[p] as string)}`);
  let where = "";
  if (keyset.after) {
    where = ` WHERE (${key.join(", ")}) > (${keyset.after.map(() => "?").join(", ")})`;
    params.push(...keyset.after);
  }
  // The newline ends a trailing `-- comment` or `# comment` of the query before the closing parenthesis.
  return { sql: `SELECT * FROM (${sql}\n) AS fstore_q${where} ORDER BY ${key.join(", ")}`, params };
}

/** Prepares `sql` server-side without running it: one statement only, and how many columns it returns. */
function prepare(conn: Connection, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // mysql2's typings omit them, but a prepared statement carries the server's column and parameter definitions.
    conn.prepare(sql, (err, statement) => (err ? reject(err) : resolve((statement as unknown as { columns: unknown[] }).columns.length)));
  });
}

/**
 * Runs the query in `START TRANSACTION READ ONLY` with a statement timeout, as a server-side
 * prepared statement whose rows are streamed: the socket is paused whenever a batch is full, so
 * only about one batch is held in memory. The statement is prepared first and refused unless it
 * returns rows: DDL such as DROP or TRUNCATE commits implicitly (ending the read-only transaction),
 * so it must never reach execution.
 */
async function* query(config: MysqlConfig, request: QueryRequest, options: QueryOptions): AsyncGenerator<QueryBatch> {
  const { sql, params } = statementOf(request);
  const conn = await open(config);
  try {
    try {
      const [version] = (await run(conn, "SELECT VERSION() AS v")) as { v: string }[];
      if (/mariadb/i.test(version?.v ?? "")) await run(conn, "SET SESSION max_statement_time = ?", [options.timeoutMs / 1000]);
      else await run(conn, "SET SESSION max_execution_time = ?", [Math.ceil(options.timeoutMs)]);
      await run(conn, "SET SESSION time_zone = '+00:00'");
      if ((await prepare(conn, sql)) === 0) {
        throw new SourceError("query", "a feature query must be one SELECT statement that returns rows; this one returns no result set and was not run");
      }
      await run(conn, "START TRANSACTION READ ONLY");
    } catch (err) {
      throw toSourceError(err, "query", [config.password]);
    }

    let columns: string[] | null = null;
    const buffer: unknown[][] = [];
    let done = false;
    let failure: unknown = null;
    let paused = false;
    let wake: (() => void) | null = null;
    const notify = () => {
      wake?.();
      wake = null;
    };
    const command = conn.execute({ sql, values: params, rowsAsArray: true });
    command.on("fields", (fields: { name: string }[]) => {
      columns = fields.map((f) => f.name);
      notify();
    });
    command.on("result", (row: unknown) => {
      buffer.push(row as unknown[]);
      if (buffer.length >= options.batchSize && !paused) {
        paused = true;
        conn.pause();
      }
      notify();
    });
    command.on("error", (err: unknown) => {
      failure = err;
      notify();
    });
    command.on("end", () => {
      done = true;
      notify();
    });
    // A streaming command has no callback, so mysql2 reports a dropped connection on the
    // connection itself ('error'), and the socket's end as 'end'.
    conn.on("error", (err: unknown) => {
      failure ??= err;
      notify();
    });
    conn.on("end", () => {
      if (!done) failure ??= new SourceError("connection_lost", "the connection to the source was lost mid-run: the server closed the connection");
      notify();
    });

    let yielded = false;
    for (;;) {
      if (failure) throw toSourceError(failure, "query", [config.password]);
      if (buffer.length >= options.batchSize || (done && (buffer.length > 0 || !yielded))) {
        const rows = buffer.splice(0, options.batchSize);
        yielded = true;
        yield { columns: columns ?? [], rows };
        if (paused && buffer.length < options.batchSize) {
          paused = false;
          conn.resume();
        }
        continue;
      }
      if (done) break;
      await new Promise<void>((r) => (wake = r));
    }
    await run(conn, "COMMIT").catch(() => {});
  } finally {
    await close(conn);
  }
}

export const mysqlConnector: SqlConnector<typeof MysqlConfig> = {
  type: "mysql",
  kind: "sql",
  configSchema: MysqlConfig,
  endpoints: (config) => [{ field: "host", host: config.host }],
  test,
  query,
};
