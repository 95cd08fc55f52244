/**
 * PostgreSQL through the Neon serverless driver (`Client` over a WebSocket). Neon hosts are
 * reached directly; any other PostgreSQL through a WebSocket-to-TCP proxy speaking Neon's wsproxy
 * protocol (`ws_proxy`, e.g. `npm run pgproxy` locally; docs/connectors.md for production).
 *
 * A query runs inside `BEGIN READ ONLY` with a local statement_timeout and reads through a cursor
 * (`DECLARE ... CURSOR` + `FETCH n`), so only one batch is ever held in memory; the transaction is
 * always rolled back.
 */
import { Client, types, type FieldDef } from "@neondatabase/serverless";
import { z } from "zod";
import { sourceError, toSourceError } from "../errors";
import { bindSince, checkQueryStatement, SINCE_BEGINNING } from "../sql-statement";
import { secret, SourceError, type QueryBatch, type QueryOptions, type QueryRequest, type SqlConnector, type TestResult } from "../types";

export const PostgresConfig = z
  .object({
    host: z.string().min(1).max(255),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).max(255),
    user: z.string().min(1).max(255),
    password: secret(z.string().max(1024).default("")),
    /**
     * Encrypts the WebSocket (wss://). Default: on, except to a ws_proxy on this machine
     * (127.0.0.1 / localhost), which is the local development setup.
     */
    ssl: z.boolean().optional(),
    /** A wsproxy-compatible WebSocket proxy, host:port/path without protocol, e.g. "127.0.0.1:8787/v2". Not needed for Neon. */
    ws_proxy: z.string().min(1).max(512).optional(),
    /** Seconds to wait for the connection. */
    connect_timeout: z.number().positive().max(300).default(10),
  })
  .strict();
export type PostgresConfig = z.infer<typeof PostgresConfig>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/i;

/** Date-times stay text (microseconds kept; a JS Date would drop them): timestamp, timestamptz, date. */
const TEXT_TYPES = new Set([1114, 1184, 1082]);
const typeParsers = {
  getTypeParser: (id: number, format?: "text" | "binary") => (TEXT_TYPES.has(id) ? (v: string) => v : types.getTypeParser(id, format)),
};

/** A Client whose WebSocket remembers why it closed (the proxy names the TCP error there). */
function makeClient(config: PostgresConfig) {
  const state: { closeReason: string } = { closeReason: "" };
  const client = new Client({
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
    application_name: "fstore",
    types: typeParsers,
  });
  if (config.ws_proxy) {
    client.neonConfig.wsProxy = config.ws_proxy;
    client.neonConfig.useSecureWebSocket = config.ssl ?? !LOOPBACK.test(config.ws_proxy);
    // Pipelining the startup needs cleartext password auth, which ordinary servers rarely use.
    client.neonConfig.pipelineConnect = false;
  } else {
    client.neonConfig.useSecureWebSocket = config.ssl ?? true;
  }
  client.neonConfig.webSocketConstructor = class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener("close", (e) => {
        if (e.reason) state.closeReason = e.reason;
      });
    }
  };
  // Errors after a failure or at shutdown arrive as events; they are reported through the
  // promise that failed, so an unlistened 'error' must not crash the isolate.
  client.on("error", () => {});
  return { client, state };
}

async function connect(config: PostgresConfig) {
  const { client, state } = makeClient(config);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new SourceError("timeout", `timed out: no answer from ${config.host}:${config.port} within ${config.connect_timeout}s`)), config.connect_timeout * 1000);
      }),
    ]);
    return client;
  } catch (err) {
    void client.end().catch(() => {});
    const reason = state.closeReason;
    if (reason) throw toSourceError({ code: reason, message: `${reason} connecting to ${config.host}:${config.port}` }, "refused", [config.password]);
    const e = err as { message?: string };
    if (!(err instanceof SourceError) && e && /websocket|network connection lost|connection terminated/i.test(String(e.message))) {
      throw new SourceError(
        "refused",
        `the connection was refused: could not open a WebSocket to ${config.ws_proxy ?? config.host} (is the WebSocket proxy running, and is ${config.host}:${config.port} on its allow-list?): ${e.message}`,
      );
    }
    throw toSourceError(err, "unknown", [config.password]);
  } finally {
    clearTimeout(timer);
  }
}

async function close(client: Client) {
  // end() sends Terminate; don't let a dead connection hold the run up.
  await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
}

async function test(config: PostgresConfig): Promise<TestResult> {
  const started = Date.now();
  try {
    const client = await connect(config);
    try {
      const { rows } = await client.query("SELECT version() AS v");
      return { ok: true, message: "connected", server: String(rows[0]?.v ?? ""), latency_ms: Date.now() - started };
    } finally {
      await close(client);
    }
  } catch (err) {
    const e = toSourceError(err, "unknown", [config.password]);
    return { ok: false, kind: e.kind, message: e.message, latency_ms: Date.now() - started };
  }
}

const CURSOR = "fstore_pull";

/** A double-quoted Postgres identifier. */
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The statement to DECLARE a cursor for: the query itself, or — continuing a long run in key
 * order — the query wrapped so its columns get plain names (c1, c2, ...; the query's own names may
 * repeat or be odd) and ordered by the key, starting after the last key read.
 */
function cursorQuery(request: QueryRequest): { sql: string; params: string[] } {
  const { sql, count } = bindSince(checkQueryStatement(request.sql, "postgres"), () => "$1");
  const params = count > 0 ? [request.since ?? SINCE_BEGINNING] : [];
  const keyset = request.keyset;
  if (!keyset) return { sql, params };
  const names = keyset.columns.map((_, i) => ident(`c${i + 1}`));
  const key = keyset.positions.map((p) => names[p] as string);
  let where = "";
  if (keyset.after) {
    const placeholders = keyset.after.map((_, i) => `$${params.length + i + 1}`);
    where = ` WHERE (${key.join(", ")}) > (${placeholders.join(", ")})`;
    params.push(...keyset.after);
  }
  // The newline ends a trailing `-- comment` of the query before the closing parenthesis.
  return { sql: `SELECT * FROM (${sql}\n) AS fstore_q(${names.join(", ")})${where} ORDER BY ${key.join(", ")}`, params };
}

/**
 * Reads the query through a cursor inside `BEGIN READ ONLY` with a local statement_timeout, so only
 * one batch is ever held in memory. The DECLARE goes through the extended protocol (a named
 * statement), where Postgres parses the whole text as ONE statement before running any of it: a
 * second statement (`...; COMMIT; DELETE ...`) is a parse error, and DECLARE accepts only a
 * SELECT/VALUES query without data-modifying WITH clauses. Nothing of a refused query runs.
 */
async function* query(config: PostgresConfig, request: QueryRequest, options: QueryOptions): AsyncGenerator<QueryBatch> {
  const { sql, params } = cursorQuery(request);
  const client = await connect(config);
  try {
    try {
      await client.query("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      // SET LOCAL cannot take parameters; set_config(..., true) is the same thing with binding.
      await client.query("SELECT set_config('statement_timeout', $1, true), set_config('TimeZone', 'UTC', true)", [String(options.timeoutMs)]);
      await client.query({ name: "fstore_declare", text: `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${sql}`, values: params });
    } catch (err) {
      throw toSourceError(err, "query", [config.password]);
    }
    let columns: string[] | null = null;
    for (;;) {
      let result;
      try {
        result = await client.query({ text: `FETCH ${Math.floor(options.batchSize)} FROM ${CURSOR}`, rowMode: "array" });
      } catch (err) {
        throw toSourceError(err, "query", [config.password]);
      }
      columns ??= result.fields.map((f: FieldDef) => f.name);
      const rows = result.rows as unknown[][];
      if (rows.length > 0 || columns.length > 0) yield { columns: request.keyset?.columns ?? columns, rows };
      if (rows.length < options.batchSize) break;
    }
    // READ ONLY does not stop everything (a SELECT may create a large object): a transaction that
    // got a transaction id wrote something. It is rolled back either way; a write fails the run.
    let wrote = false;
    try {
      const { rows } = await client.query("SELECT txid_current_if_assigned() IS NOT NULL AS wrote");
      wrote = rows[0]?.wrote === true;
    } catch (err) {
      throw toSourceError(err, "query", [config.password]);
    } finally {
      await client.query("ROLLBACK").catch(() => {});
    }
    if (wrote) throw sourceError("read_only", "the query changed the database (e.g. created a large object); the change was rolled back");
  } finally {
    await close(client);
  }
}

export const postgres: SqlConnector<typeof PostgresConfig> = { type: "postgres", kind: "sql", configSchema: PostgresConfig, test, query };
