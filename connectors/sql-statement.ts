/**
 * What every SQL connector checks before a feature query runs, and how `:since` is bound. A feature
 * query must be exactly one statement that returns rows. The drivers enforce "one statement" (a
 * Postgres extended-protocol Parse, a MySQL server-side prepare) and "returns rows" (Postgres's
 * DECLARE CURSOR only takes a SELECT/VALUES; MySQL's prepare reports the result columns); this
 * check refuses everything that does not even start like a query, with a message that says why,
 * before a connection is opened.
 */
import { SourceError } from "./types";

/** Statements a feature query may start with (after comments and opening parentheses). */
const QUERY_KEYWORDS = new Set(["select", "with", "values", "table"]);

/** Leading whitespace, `-- ...` / `# ...` line comments and `/* ... *\/` block comments (not executable ones). */
const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|\/\*(?!M?!)[\s\S]*?\*\/|\()*/;

/**
 * The query without a trailing `;`, or a SourceError ("query") when it cannot be a single
 * row-returning statement. `dialect` decides whether `#` starts a comment and whether MySQL's
 * executable comments (`/*! ... *\/`, MariaDB's `/*M! ... *\/`, whose content runs) are possible.
 */
export function checkQueryStatement(query: string, dialect: "postgres" | "mysql"): string {
  const sql = query.trim().replace(/;\s*$/, "");
  if (sql === "") throw new SourceError("query", "the feature's query is empty");
  const noise = dialect === "mysql" ? LEADING_NOISE : new RegExp(LEADING_NOISE.source.replace("|#[^\\n]*(?:\\n|$)", ""));
  const rest = sql.replace(noise, "");
  // MySQL runs `/*! ... *\/` and MariaDB also `/*M! ... *\/`.
  if (dialect === "mysql" && /^\/\*M?!/.test(rest)) {
    throw new SourceError("query", "the feature's query starts with a MySQL executable comment (/*! ... */ or /*M! ... */); write the SELECT itself");
  }
  const keyword = /^[A-Za-z]+/.exec(rest)?.[0]?.toLowerCase();
  if (!keyword || !QUERY_KEYWORDS.has(keyword)) {
    throw new SourceError(
      "query",
      `a feature query must be one SELECT (or WITH ... SELECT, VALUES, TABLE) statement that returns rows; this one starts with '${(keyword ?? rest.slice(0, 20)).toUpperCase()}' and was not run`,
    );
  }
  return sql;
}

/**
 * Replaces each `:since` in `query` with the driver's placeholder (`$1` or `?`) — the watermark is
 * always bound, never pasted into SQL. A Postgres cast like `x::since` is left alone.
 */
export function bindSince(query: string, placeholder: (n: number) => string): { sql: string; count: number } {
  let count = 0;
  const sql = query.replace(/(?<![:\w]):since\b/g, () => placeholder(++count));
  return { sql, count };
}

/** What a first run binds to `:since`: the earliest timestamp FStore stores, so nothing is skipped. */
export const SINCE_BEGINNING = "0001-01-01T00:00:00Z";
