/**
 * Reading one file of a data-lake feature in bounded memory, from a cursor, in batches of the
 * three mapped columns (entity, value, timestamp). Parquet is read by row group through range
 * requests; CSV, JSON arrays and NDJSON are read in byte chunks cut at record boundaries. The
 * cursor (`row`, plus `byte` for the text formats) is where the next batch starts, so a file too
 * large for one invocation is continued by the next one exactly there.
 */
import { readCsv } from "./csv";
import { readJson } from "./json";
import { readParquet } from "./parquet";
import type { ObjectInfo, ObjectStore } from "./store";

export const fileFormats = ["parquet", "csv", "json", "ndjson"] as const;
export type FileFormat = (typeof fileFormats)[number];

/** Where the next unread data row starts: its 0-based index and, for text formats, its byte offset (0 = not yet known). */
export interface FileCursor {
  row: number;
  byte: number;
}

export interface MappedColumns {
  entity: string;
  value: string;
  timestamp: string;
  /** A timestamp column named explicitly must exist; the default one may be absent (the run's time is used). */
  timestampRequired: boolean;
}

/** Rows as `[entity, value, timestamp]` (timestamp undefined when the file has none). */
export interface RowBatch {
  rows: [unknown, unknown, unknown][];
  /** 0-based index of rows[0] among the file's data rows. */
  firstRow: number;
  /** The cursor after this batch. */
  next: FileCursor;
}

/** A problem with the file itself (corrupt, missing column, bad row): fails that file only. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileError";
  }
}

export interface ReadOptions {
  store: ObjectStore;
  file: ObjectInfo;
  columns: MappedColumns;
  cursor: FileCursor;
  /** Rows per yielded batch at most. */
  batchRows: number;
}

export function readFileRows(format: FileFormat, options: ReadOptions): AsyncGenerator<RowBatch> {
  switch (format) {
    case "parquet":
      return readParquet(options);
    case "csv":
      return readCsv(options);
    case "json":
    case "ndjson":
      return readJson(options);
  }
}

/** Which format a feature's files are in: the definition's `format`, else the extension of its path. */
export function formatOf(format: unknown, path: string): FileFormat | null {
  if (typeof format === "string") return (fileFormats as readonly string[]).includes(format) ? (format as FileFormat) : null;
  const ext = /\.([a-z0-9]+)(?:\.\w+)?$/i.exec(path.replace(/[{}*?[\]]+/g, ""))?.[1]?.toLowerCase();
  if (ext === "jsonl") return "ndjson";
  return ext && (fileFormats as readonly string[]).includes(ext) ? (ext as FileFormat) : null;
}

export function describeColumns(columns: string[]): string {
  return columns.length > 20 ? `${columns.slice(0, 20).join(", ")}, ... (${columns.length} columns)` : columns.join(", ");
}

/** Bytes [start, end) of the file, read with its listed ETag, as a plain ArrayBuffer. */
export async function readBytes(options: ReadOptions, start: number, end: number): Promise<Uint8Array> {
  return options.store.read(options.file.key, start, Math.min(end, options.file.size), options.file.etag);
}
