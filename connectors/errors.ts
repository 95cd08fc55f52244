/** Turns driver errors into SourceErrors a user can act on (DNS, refused, auth, database, timeout...). */
import { scrubMessage } from "./scrub";
import { SourceError, type FailureKind } from "./types";

interface DriverError {
  code?: string | number;
  errno?: number;
  message?: string;
  sqlMessage?: string;
}

const byCode: Record<string, FailureKind> = {
  // Postgres SQLSTATEs
  "28P01": "auth",
  "28000": "auth",
  "3D000": "database",
  "57014": "timeout",
  "25006": "read_only",
  "57P01": "connection_lost",
  "57P02": "connection_lost",
  "57P03": "connection_lost",
  // MySQL / MariaDB
  ER_ACCESS_DENIED_ERROR: "auth",
  ER_DBACCESS_DENIED_ERROR: "auth",
  ER_BAD_DB_ERROR: "database",
  ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: "read_only",
  ER_QUERY_TIMEOUT: "timeout",
  ER_STATEMENT_TIMEOUT: "timeout",
  ER_QUERY_INTERRUPTED: "connection_lost",
  ER_CONNECTION_KILLED: "connection_lost",
  PROTOCOL_CONNECTION_LOST: "connection_lost",
  ECONNRESET: "connection_lost",
  ECONNREFUSED: "refused",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  ETIMEDOUT: "timeout",
};

/** MariaDB error numbers mysql2 has no name for. */
const byErrno: Record<number, FailureKind> = { 1969: "timeout", 1927: "connection_lost", 3024: "timeout", 1792: "read_only" };

const hints: Record<FailureKind, string> = {
  dns: "the host name could not be resolved",
  refused: "the connection was refused (is the server running and the port right?)",
  auth: "authentication failed (user or password)",
  database: "the database does not exist",
  timeout: "timed out",
  query: "the query failed",
  read_only: "the query tried to write, which a read-only run refuses",
  connection_lost: "the connection to the source was lost",
  tls: "TLS failed",
  egress: "refused by FStore's egress policy",
  unknown: "the source failed",
};

function kindFromMessage(message: string): FailureKind | undefined {
  const m = message.toLowerCase();
  if (/enotfound|getaddrinfo|dns|name resolution|no such host|lookup/.test(m)) return "dns";
  // Workers sockets say "proxy request failed, cannot connect to the specified address".
  if (/econnrefused|connection refused|refused|cannot connect to the specified address/.test(m)) return "refused";
  if (/timeout|timed out|etimedout/.test(m)) return "timeout";
  if (/password authentication failed|access denied|authentication/.test(m)) return "auth";
  if (/does not exist/.test(m) && /database/.test(m)) return "database";
  if (/unknown database/.test(m)) return "database";
  if (/read-only transaction|read only transaction/.test(m)) return "read_only";
  if (/terminat|connection lost|connection error|not queryable|network connection lost|closed|reset|socket/.test(m)) return "connection_lost";
  return undefined;
}

/** A failed connection test: the kind and a message without the server's own words, and no timing. */
export function testFailure(err: unknown, secrets: string[]): { ok: false; kind: FailureKind; message: string } {
  const e = toSourceError(err, "unknown", secrets, { echoServerText: false });
  return { ok: false, kind: e.kind, message: e.message };
}

/** A SourceError of `kind` whose message starts with the kind's hint, like the classified ones. */
export const sourceError = (kind: FailureKind, detail: string) => new SourceError(kind, `${hints[kind]}: ${detail}`);

/**
 * Classifies `err`; `fallback` is the kind to use when nothing more specific is known (e.g. "query"
 * once connected). `secrets` (the connector's password) are scrubbed from the message where they
 * can appear (scrub.ts), in case a driver echoed one in a connection string or URL.
 */
export function toSourceError(err: unknown, fallback: FailureKind, secrets: string[] = [], { echoServerText = true } = {}): SourceError {
  if (err instanceof SourceError) return err;
  const e = (err ?? {}) as DriverError;
  const raw = String(e.sqlMessage ?? e.message ?? err ?? "unknown error");
  const code = e.code === undefined ? undefined : String(e.code);
  // A server error code we do not list is a plain query error; only code-less (network) errors
  // are classified by their message.
  const serverCode = code !== undefined && (/^[0-9A-Z]{5}$/.test(code) || code.startsWith("ER_"));
  const kind =
    (code !== undefined ? byCode[code] : undefined) ?? (e.errno !== undefined ? byErrno[e.errno] : undefined) ?? (serverCode || e.errno !== undefined ? fallback : kindFromMessage(raw)) ?? fallback;
  // A connection test names the server's error by its code only: its text is whatever the other
  // end sent, and a test must not become a way to read what an arbitrary server says.
  if (!echoServerText && (serverCode || e.errno !== undefined)) return new SourceError(kind, `${hints[kind]} (server error ${code ?? e.errno})`);
  return new SourceError(kind, `${hints[kind]}: ${scrubMessage(raw, secrets)}`);
}
