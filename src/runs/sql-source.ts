/**
 * SQL features as a run source. The feature's query runs on its connector (Postgres, MySQL) and
 * its result is read in batches: named columns `entity_id, value[, timestamp]` (any order, other
 * columns ignored) or 2–3 columns by position — the guide writes its queries both ways
 * (`SELECT customer_id, SUM(order_value) ...`). Without a timestamp the run's start time is used.
 * Anything else fails the run with a message naming the columns found and expected.
 *
 * A run that does not fit one invocation continues in the next one. The first read is the query
 * as written, streamed in the order the database produces (the cheapest read, and most runs end
 * there). An unordered read cannot be resumed, so when the budget runs out first the rows staged
 * so far are dropped and the run continues in key order (entity[, timestamp]): each later
 * invocation runs the query once more, ordered and starting after the last key it staged. Rows
 * added to the source meanwhile are picked up; rows with the same key as the last one staged are
 * skipped (they would overwrite each other anyway: history keeps one value per entity and time).
 */
import type { QueryBatch, QueryRequest, SqlConnector } from "../../connectors/types";
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { RowError, shapeCells, type CellRole } from "../ingest/shape";
import { resolveConnector } from "../registry/connectors";
import { parseDuration } from "../time";
import { RunError, type RunContext, type Source, type SourceEvent, type SourceOutcome } from "./source";

/** Rows per batch read from the database: all a run holds in memory at once. */
export const PULL_BATCH_ROWS = 5000;
/** Default statement timeout of a run's queries. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export interface Shape {
  entity: number;
  value: number;
  /** Column index of the timestamp, or null: the run's time is used. */
  timestamp: number | null;
}

export function detectShape(columns: string[]): Shape {
  const lower = columns.map((c) => c.toLowerCase());
  const entity = lower.indexOf("entity_id");
  const value = lower.indexOf("value");
  if (entity >= 0 && value >= 0) {
    const ts = lower.indexOf("timestamp");
    return { entity, value, timestamp: ts >= 0 ? ts : null };
  }
  if (columns.length === 2 || columns.length === 3) return { entity: 0, value: 1, timestamp: columns.length === 3 ? 2 : null };
  throw new RunError(
    `query returned ${columns.length} column(s) [${columns.join(", ")}]; expected columns named entity_id, value[, timestamp], ` +
      "or 2-3 columns read by position (entity, value[, timestamp])",
  );
}

/** Where a SQL run continues. */
interface SqlCursor {
  /** `scan`: reading the query as written (cannot resume); `keyset`: reading in key order after `after`. */
  mode: "scan" | "keyset";
  columns: string[];
  shape: Shape;
  /** The key (entity[, timestamp]) of the last row staged, as text the database reads back. */
  after: string[] | null;
  /** Rows staged so far, so error messages count rows from the start of the run. */
  rows: number;
}

/** The SQL to run: the definition's query, filtered on `incremental_column > :since` when it declares one. */
export function runQuery(feature: FeatureRow): string {
  const query = String(feature.source.query ?? "").trim().replace(/;\s*$/, "");
  const column = feature.source.incremental_column;
  if (typeof column !== "string") return query;
  // The column name was checked against an identifier pattern at registration. The newline ends a
  // trailing `-- comment` of the query before the wrapper's closing parenthesis.
  return `SELECT * FROM (${query}\n) fstore_incremental WHERE fstore_incremental.${column} > :since`;
}

/** The feature's SQL connector with its config (secrets decrypted). */
async function sqlConnectorOf(env: Bindings, feature: FeatureRow): Promise<{ connector: SqlConnector; config: Record<string, unknown> }> {
  const name = feature.source.connector;
  if (typeof name !== "string") throw new RunError("the feature names no connector: set 'connector' to a postgres or mysql connector's name");
  const { impl, config } = await resolveConnector(env, name);
  if (impl.kind !== "sql") throw new RunError(`connector '${name}' is a ${impl.type} connector; a feature with a 'query' needs a postgres or mysql connector`);
  return { connector: impl, config: impl.configSchema.parse(config) as Record<string, unknown> };
}

const roleNames: Record<CellRole, string> = { entity: "entity", value: "value", timestamp: "timestamp" };

/** A key cell as text the database can compare with: drivers give text, numbers or bigints here. */
const keyText = (cell: unknown) => (cell instanceof Date ? cell.toISOString() : String(cell));

export const sqlSource: Source = {
  async *read(ctx: RunContext, saved: unknown): AsyncGenerator<SourceEvent, SourceOutcome> {
    const { feature } = ctx;
    if (typeof feature.source.query !== "string") throw new RunError("the feature has no query");
    const { connector, config } = await sqlConnectorOf(ctx.env, feature);
    let cursor = (saved ?? null) as SqlCursor | null;
    if (cursor?.mode === "scan") {
      // The previous invocation stopped inside an unordered read: start over, in key order.
      cursor = { ...cursor, mode: "keyset", after: null, rows: 0 };
      yield { type: "discard", cursor };
    }
    const timeout = typeof feature.source.timeout === "string" ? parseDuration(feature.source.timeout) : null;
    let shape = cursor?.shape ?? null;
    let columns = cursor?.columns ?? null;
    const keyPositions = (s: Shape) => (s.timestamp === null ? [s.entity] : [s.entity, s.timestamp]);
    const request: QueryRequest = {
      sql: runQuery(feature),
      since: ctx.watermark,
      keyset: cursor?.mode === "keyset" ? { columns: cursor.columns, positions: keyPositions(cursor.shape), after: cursor.after } : undefined,
    };
    const mode = request.keyset ? "keyset" : "scan";
    let rows = cursor?.rows ?? 0;
    let after = cursor?.after ?? null;
    const batches = connector.query(config, request, { batchSize: PULL_BATCH_ROWS, timeoutMs: timeout ? timeout * 1000 : DEFAULT_TIMEOUT_MS });
    try {
      let next = await batches.next();
      while (!next.done) {
        const batch: QueryBatch = next.value;
        columns ??= batch.columns;
        shape ??= detectShape(batch.columns);
        const s = shape;
        const shaped = batch.rows.map((row, i) => {
          try {
            return shapeCells(feature.valueType, [row[s.entity], row[s.value], s.timestamp === null ? undefined : row[s.timestamp]], ctx.runMicros);
          } catch (err) {
            if (!(err instanceof RowError)) throw err;
            const column = { entity: s.entity, value: s.value, timestamp: s.timestamp ?? -1 }[err.role];
            throw new RunError(`row ${rows + i + 1}, column '${columns?.[column] ?? roleNames[err.role]}' (${roleNames[err.role]}): ${err.message}`);
          }
        });
        if (shaped.length > 0) {
          rows += shaped.length;
          const last = batch.rows[batch.rows.length - 1] as unknown[];
          after = keyPositions(s).map((p) => keyText(last[p]));
          yield { type: "rows", rows: shaped, cursor: { mode, columns, shape, after, rows } satisfies SqlCursor };
        }
        next = await batches.next();
        if (!next.done && ctx.budget.spent()) {
          const resume: SqlCursor = mode === "keyset" ? { mode, columns, shape: s, after, rows } : { mode: "keyset", columns, shape: s, after: null, rows: 0 };
          if (mode === "scan") yield { type: "discard", cursor: resume };
          yield { type: "pause", cursor: resume };
          return { error: null };
        }
      }
    } finally {
      await batches.return(undefined);
    }
    yield { type: "commit", cursor: null };
    return { error: null };
  },
};
