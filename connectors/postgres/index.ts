/**
 * PostgreSQL, reached one of two ways (`transport`):
 *
 * - `tcp` (default): node-postgres (`pg`) over a Workers TCP socket — the guide's config
 *   (`host, port, database, user, password`) as written, with no proxy. In production the
 *   database must be reachable from Cloudflare's network; put a Hyperdrive binding in front of it
 *   (`hyperdrive: "<binding>"` — FStore then takes host, port, user, password and database from the
 *   binding) for pooled, low-latency connections and private networks.
 * - `websocket`: the Neon serverless driver over a WebSocket — Neon hosts directly, any other
 *   Postgres through a WebSocket-to-TCP proxy speaking Neon's wsproxy protocol (`ws_proxy`, e.g.
 *   `npm run pgproxy` locally). The default for `*.neon.tech` hosts and whenever `ws_proxy` is set.
 *
 * Both speak the same protocol through the same client API, so reads are identical: a query runs
 * inside `BEGIN READ ONLY` with a local statement_timeout and reads through a cursor
 * (`DECLARE ... CURSOR` + `FETCH n`), so only one batch is ever held in memory; the transaction is
 * always rolled back.
 */
import { Client as NeonClient, types as neonTypes, type FieldDef } from "@neondatabase/serverless";
import pg from "pg";
import { z } from "zod";
import { sourceError, testFailure, toSourceError } from "../errors";
import { bindSince, checkQueryStatement, SINCE_BEGINNING } from "../sql-statement";
import { secret, SourceError, type Endpoint, type QueryBatch, type QueryOptions, type QueryRequest, type SqlConnector, type TestResult } from "../types";

export const PostgresConfig = z
  .object({
    host: z.string().min(1).max(255).optional(),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).max(255).optional(),
    user: z.string().min(1).max(255).optional(),
    password: secret(z.string().max(1024).default("")),
    /** How to reach the server: `tcp` (node-postgres over a socket) or `websocket` (Neon's driver). Default: websocket for Neon hosts and with `ws_proxy`, else tcp. */
    transport: z.enum(["tcp", "websocket"]).optional(),
    /**
     * Encrypts the connection (TLS for tcp, wss:// for websocket). Default: on, except to this
     * machine (127.0.0.1 / localhost), which is the local development setup.
     */
    ssl: z.boolean().optional(),
    /** A wsproxy-compatible WebSocket proxy, host:port/path without protocol, e.g. "127.0.0.1:8787/v2" (websocket transport). */
    ws_proxy: z.string().min(1).max(512).optional(),
    /** Name of a Hyperdrive binding of the Worker (wrangler.toml) to connect through; it supplies host, port, user, password and database. */
    hyperdrive: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be the name of a Hyperdrive binding").optional(),
    /** Seconds to wait for the connection. */
    connect_timeout: z.number().positive().max(300).default(10),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.hyperdrive) return; // the binding supplies the address
    for (const field of ["host", "database", "user"] as const) {
      if (!c[field]) ctx.addIssue({ code: "custom", path: [field], message: `${field} is required (or name a Hyperdrive binding in 'hyperdrive')` });
    }
    if (c.ws_proxy && c.transport === "tcp") ctx.addIssue({ code: "custom", path: ["ws_proxy"], message: "ws_proxy is for the websocket transport; remove it or set transport to websocket" });
  });
export type PostgresConfig = z.infer<typeof PostgresConfig>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:|\/|$)/i;

/** Date-times stay text (microseconds kept; a JS Date would drop them): timestamp, timestamptz, date. */
const TEXT_TYPES = new Set([1114, 1184, 1082]);
const textDates = <P>(getTypeParser: (id: number, format?: "text" | "binary") => P) => ({
  getTypeParser: (id: number, format?: "text" | "binary") => (TEXT_TYPES.has(id) ? (v: string) => v : getTypeParser(id, format)),
});

/** What both drivers' clients offer, and all this connector uses. */
interface PgLikeClient {
  connect(): Promise<unknown>;
  query(text: string | { text: string; name?: string; values?: unknown[]; rowMode?: "array" }, values?: unknown[]): Promise<{ rows: unknown[]; fields: FieldDef[] }>;
  end(): Promise<void>;
  on(event: "error", listener: (err: Error) => void): unknown;
}

const transportOf = (config: PostgresConfig) => config.transport ?? (config.ws_proxy || /\.neon\.tech$/i.test(config.host ?? "") ? "websocket" : "tcp");
const where = (config: PostgresConfig) => `${config.host}:${config.port}`;

/** A Client of the config's transport, plus why its WebSocket closed (the proxy names the TCP error there). */
function makeClient(config: PostgresConfig): { client: PgLikeClient; state: { closeReason: string } } {
  const state = { closeReason: "" };
  const options = { host: config.host, port: config.port, database: config.database, user: config.user, password: config.password, application_name: "fstore" };
  if (transportOf(config) === "tcp") {
    const client = new pg.Client({
      ...options,
      ssl: config.ssl ?? !LOOPBACK.test(config.host ?? "") ? { rejectUnauthorized: true } : false,
      connectionTimeoutMillis: config.connect_timeout * 1000,
      types: textDates(pg.types.getTypeParser),
    });
    return { client: client as unknown as PgLikeClient, state };
  }
  const client = new NeonClient({ ...options, types: textDates(neonTypes.getTypeParser) });
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
  return { client: client as unknown as PgLikeClient, state };
}

async function connect(config: PostgresConfig): Promise<PgLikeClient> {
  const { client, state } = makeClient(config);
  // Errors after a failure or at shutdown arrive as events; they are reported through the
  // promise that failed, so an unlistened 'error' must not crash the isolate.
  client.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new SourceError("timeout", `timed out: no answer from ${where(config)} within ${config.connect_timeout}s`)), config.connect_timeout * 1000);
      }),
    ]);
    return client;
  } catch (err) {
    void client.end().catch(() => {});
    // A proxy that is reached but cannot reach the database says why in the WebSocket's close reason.
    // The proxy's words are shown only when they are an error code (ECONNREFUSED, ...): a test must not echo arbitrary remote text.
    const reason = /^[A-Z][A-Z0-9_]{1,40}$/.test(state.closeReason) ? state.closeReason : "";
    if (reason) {
      throw toSourceError({ code: reason, message: `${reason} connecting to ${where(config)} through the WebSocket proxy ${config.ws_proxy}` }, "refused", [config.password]);
    }
    const message = reason || String((err as Error)?.message ?? err);
    if (!(err instanceof SourceError) && transportOf(config) === "websocket" && /websocket|network connection lost|connection terminated/i.test(message)) {
      throw new SourceError(
        "refused",
        config.ws_proxy
          ? `could not open a WebSocket to the proxy ${config.ws_proxy} (ws_proxy): is it running (locally: npm run pgproxy), and is ${where(config)} on its allow-list? (${message})`
          : `could not open a WebSocket to ${config.host}: only Neon hosts accept one directly. For any other PostgreSQL use transport "tcp" (the default without ws_proxy), or run a WebSocket proxy (locally: npm run pgproxy) and set ws_proxy. (${message})`,
      );
    }
    throw toSourceError(err, "unknown", [config.password]);
  } finally {
    clearTimeout(timer);
  }
}

async function close(client: PgLikeClient) {
  // end() sends Terminate; don't let a dead connection hold the run up.
  await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
}

async function test(config: PostgresConfig): Promise<TestResult> {
  const started = Date.now();
  try {
    const client = await connect(config);
    try {
      const { rows } = await client.query("SELECT version() AS v");
      return { ok: true, message: "connected", server: String((rows[0] as { v?: unknown })?.v ?? "").slice(0, 200), latency_ms: Date.now() - started };
    } finally {
      await close(client);
    }
  } catch (err) {
    return testFailure(err, [config.password]);
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
  let filter = "";
  if (keyset.after) {
    const placeholders = keyset.after.map((_, i) => `$${params.length + i + 1}`);
    filter = ` WHERE (${key.join(", ")}) > (${placeholders.join(", ")})`;
    params.push(...keyset.after);
  }
  // The newline ends a trailing `-- comment` of the query before the closing parenthesis.
  return { sql: `SELECT * FROM (${sql}\n) AS fstore_q(${names.join(", ")})${filter} ORDER BY ${key.join(", ")}`, params };
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
        // Again before every FETCH: a row of the query may have called set_config('statement_timeout', '0', true).
        await client.query("SELECT set_config('statement_timeout', $1, true)", [String(options.timeoutMs)]);
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
      wrote = (rows[0] as { wrote?: unknown } | undefined)?.wrote === true;
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

/**
 * The hosts a config reaches: the database host (through a ws_proxy it is the proxy that connects to
 * it, but the policy still applies) and the proxy. A Hyperdrive binding is configured by whoever
 * deploys the Worker (wrangler.toml), so it is trusted as it is.
 */
function endpoints(config: PostgresConfig): Endpoint[] {
  if (config.hyperdrive) return [];
  const list: Endpoint[] = config.host ? [{ field: "host", host: config.host }] : [];
  // host:port/path, without a protocol.
  if (config.ws_proxy) list.push({ field: "ws_proxy", host: proxyHost(config.ws_proxy) });
  return list;
}

/** The host of a `host:port/path` proxy address (IPv6 in brackets). */
export function proxyHost(proxy: string): string {
  const authority = proxy.replace(/^[a-z]+:\/\//i, "").split(/[/?#]/)[0] ?? "";
  if (authority.startsWith("[")) return authority.slice(0, authority.indexOf("]") + 1);
  return authority.replace(/:\d*$/, "");
}

export const postgres: SqlConnector<typeof PostgresConfig> = { type: "postgres", kind: "sql", configSchema: PostgresConfig, endpoints, test, query };
