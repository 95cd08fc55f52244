/**
 * Data-lake features (`path`/`batch_config` on an S3 or Azure Data Lake connector) as a run source:
 *
 * - Files, not a query: the glob is listed (every page); files whose ETag was already ingested are
 *   skipped; the rest are recorded in `run_files` and read one by one.
 * - The unit of atomicity is the file: its rows are staged, then committed with its ETag in one
 *   transaction when the file has been read to its end. A corrupt file or a bad row fails that
 *   file (its staged rows are dropped, the error names the file, column and row) and the run goes
 *   on with the next one; the run ends failed, naming the files that failed.
 * - A large file is read across invocations: the file's cursor (row, byte offset) is saved with
 *   every staged batch and reading continues exactly there.
 */
import { asc, eq, inArray, and } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { connectorFor } from "../../connectors/registry";
import { compileGlob } from "../../connectors/files/glob";
import { readFileRows } from "../../connectors/files/read";
import { FileError, type FileCursor } from "../../connectors/files/types";
import { SourceError, type ObjectInfo, type ObjectStore } from "../../connectors/types";
import { connectors, runFiles, type FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import { stagedCounts } from "../ingest/sql";
import { RowError, shapeCells } from "../ingest/shape";
import { resolveConnector } from "../registry/connectors";
import { fileSourceOf, type FileSource } from "../registry/sources";
import { RunError, type RunContext, type Source, type SourceEvent, type SourceOutcome } from "./source";

/** Rows per reader batch, and rows staged per D1 batch. */
const BATCH_ROWS = 5000;

/** Where a file run continues: whether the files were listed, and what the listing found. */
interface FileRunCursor {
  planned: true;
  matched: number;
  skipped: number;
}

/**
 * The store a feature reads: its `connector`, or — as in the guide's batch example, which never
 * names one — the only object-store connector there is.
 */
async function openStore(env: Bindings, name: string | null): Promise<ObjectStore> {
  if (name === null) {
    const all = await drizzle(env.DB).select({ name: connectors.name, type: connectors.type }).from(connectors).all();
    const lakes = all.filter((c) => connectorFor(c.type)?.kind === "object_store");
    if (lakes.length !== 1) {
      throw new RunError(
        lakes.length === 0
          ? "the feature names no connector and there is no S3 or Azure Data Lake connector: create one and set 'connector'"
          : `the feature names no connector and there are ${lakes.length} data-lake connectors (${lakes.map((c) => c.name).join(", ")}): set 'connector'`,
      );
    }
    name = (lakes[0] as { name: string }).name;
  }
  const { impl, config } = await resolveConnector(env, name);
  if (impl.kind !== "object_store") throw new RunError(`connector '${name}' is a ${impl.type} connector; a feature with a 'path' needs an s3 or adls connector`);
  return impl.open(impl.configSchema.parse(config));
}

/** Lists the glob and records the files to read; files whose ETag was already ingested are counted as skipped. */
async function plan(db: D1Database, feature: FeatureRow, runId: string, store: ObjectStore, path: string): Promise<FileRunCursor> {
  const glob = compileGlob(path);
  const { results: known } = await db.prepare("SELECT key, etag FROM lake_files WHERE feature_id = ?1").bind(feature.id).all<{ key: string; etag: string }>();
  const ingested = new Map(known.map((k) => [k.key, k.etag]));
  const todo: ObjectInfo[] = [];
  let matched = 0;
  for await (const page of store.list(glob.prefix)) {
    for (const object of page) {
      if (!glob.matches(object.key) || object.key.endsWith("/")) continue;
      matched++;
      if (ingested.get(object.key) !== object.etag) todo.push(object);
    }
  }
  const insert = db.prepare(
    `INSERT INTO run_files (run_id, seq, key, etag, size, status)
       SELECT ?1, json_extract(f.value, '$[0]'), json_extract(f.value, '$[1]'), json_extract(f.value, '$[2]'), json_extract(f.value, '$[3]'), 'pending'
         FROM json_each(?2) AS f`,
  );
  // A plan left by an invocation that died before saving its cursor is replaced.
  const statements = [db.prepare("DELETE FROM run_files WHERE run_id = ?1").bind(runId)];
  for (let i = 0; i < todo.length; i += 500) {
    statements.push(insert.bind(runId, JSON.stringify(todo.slice(i, i + 500).map((f, j) => [i + j, f.key, f.etag, f.size]))));
  }
  await db.batch(statements);
  return { planned: true, matched, skipped: matched - todo.length };
}

/** Why a run failed when some of its files did (the others stay ingested), or null. */
async function outcome(db: D1Database, runId: string): Promise<SourceOutcome> {
  const counts = await db
    .prepare("SELECT count(*) AS total, coalesce(sum(status = 'failed'), 0) AS failed FROM run_files WHERE run_id = ?1")
    .bind(runId)
    .first<{ total: number; failed: number }>();
  if (!counts?.failed) return { error: null };
  const { results } = await db.prepare("SELECT error FROM run_files WHERE run_id = ?1 AND status = 'failed' ORDER BY seq LIMIT 5").bind(runId).all<{ error: string }>();
  return { error: `${counts.failed} of ${counts.total} files failed (the others were ingested): ${results.map((f) => f.error).join("; ")}` };
}

const roleColumns = { entity: "entity_column", value: "value_column", timestamp: "timestamp_column" } as const;

export const fileSource: Source = {
  async *read(ctx: RunContext, saved: unknown): AsyncGenerator<SourceEvent, SourceOutcome> {
    const { env, feature, runId } = ctx;
    const db = env.DB;
    const source: FileSource | string = fileSourceOf(feature.source);
    if (typeof source === "string") throw new RunError(source);
    const store = await openStore(env, source.connector);
    const cursor = (saved as FileRunCursor | null) ?? (await plan(db, feature, runId, store, source.path));
    const files = await drizzle(db)
      .select()
      .from(runFiles)
      .where(and(eq(runFiles.runId, runId), inArray(runFiles.status, ["pending", "reading"])))
      .orderBy(asc(runFiles.seq))
      .all();
    for (const file of files) {
      if (ctx.budget.spent()) {
        yield { type: "pause", cursor };
        return { error: null };
      }
      const name = `${store.location}/${file.key}`;
      const fileRow = (statement: string, ...values: unknown[]) => db.prepare(statement).bind(runId, file.seq, ...values);
      let at: FileCursor = { row: file.cursorRow, byte: file.cursorByte };
      try {
        // Batches no larger than what is left of the budget, so an invocation stops close to it.
        const batchRows = Math.max(1, Math.min(BATCH_ROWS, ctx.budget.rowsLeft()));
        const batches = readFileRows(source.format, { store, file: { key: file.key, etag: file.etag, size: file.size }, columns: source.columns, cursor: at, batchRows });
        for await (const batch of batches) {
          let raw = batch.rows;
          at = batch.next;
          // A Parquet cursor is a row index, so its batches can be cut exactly at the budget.
          const room = ctx.budget.rowsLeft();
          if (source.format === "parquet" && raw.length > room && room > 0) {
            raw = raw.slice(0, room);
            at = { row: batch.firstRow + room, byte: 0 };
          }
          const rows = raw.map((cells, i) => {
            try {
              return shapeCells(feature.valueType, cells, ctx.runMicros);
            } catch (err) {
              if (!(err instanceof RowError)) throw err;
              throw new FileError(`row ${batch.firstRow + i + 1}, column '${source.columns[err.role]}' (${roleColumns[err.role]}): ${err.message}`);
            }
          });
          yield {
            type: "rows",
            rows,
            cursor,
            bookkeeping: [fileRow("UPDATE run_files SET status = 'reading', cursor_row = ?3, cursor_byte = ?4, rows_read = ?3 WHERE run_id = ?1 AND seq = ?2", at.row, at.byte)],
          };
          if (ctx.budget.spent()) {
            // Continued by the next invocation from the file's saved cursor.
            yield { type: "pause", cursor };
            return { error: null };
          }
        }
        const rowsRead = at.row;
        yield {
          type: "commit",
          cursor,
          bookkeeping: ({ from, to }) => {
            const counts = stagedCounts("?1", "?3", "?4");
            return [
              db
                .prepare(`UPDATE run_files SET status = 'ingested', finished_at = ?5, rows_read = ?6, rows_written = ${counts.changed}, rows_unchanged = ${counts.unchanged} WHERE run_id = ?1 AND seq = ?2`)
                .bind(runId, file.seq, from, to, Date.now(), rowsRead),
              db
                .prepare(
                  `INSERT INTO lake_files (feature_id, key, etag, size, rows, run_id, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                   ON CONFLICT (feature_id, key) DO UPDATE SET etag = excluded.etag, size = excluded.size, rows = excluded.rows, run_id = excluded.run_id, ingested_at = excluded.ingested_at`,
                )
                .bind(feature.id, file.key, file.etag, file.size, rowsRead, runId, Date.now()),
            ];
          },
        };
      } catch (err) {
        // A bad file (or one that vanished or changed mid-read) fails alone: drop its rows, record why, go on.
        if (!(err instanceof FileError) && !(err instanceof SourceError && err.kind === "query")) throw err;
        yield {
          type: "discard",
          cursor,
          bookkeeping: [fileRow("UPDATE run_files SET status = 'failed', error = ?3, finished_at = ?4 WHERE run_id = ?1 AND seq = ?2", `${name}: ${(err as Error).message}`.slice(0, 2000), Date.now())],
        };
      }
      ctx.budget.useItem();
    }
    // An empty commit saves the listing's counts with the run.
    yield { type: "commit", cursor };
    return outcome(db, runId);
  },
};

/** What the listing of a file run found, for GET /runs/{id}/files. */
export function listingOf(cursor: unknown): { matched: number; skipped: number } {
  const c = cursor as Partial<FileRunCursor> | null;
  return { matched: c?.matched ?? 0, skipped: c?.skipped ?? 0 };
}
