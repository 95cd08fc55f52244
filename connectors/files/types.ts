/**
 * Shared by the file-format readers: where a read starts (cursor), which columns it maps, what a
 * batch of rows looks like, and the error that fails one file (not the whole run).
 */
import type { ObjectInfo, ObjectStore } from "../types";

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

/** Rows as `[entity, value, timestamp]` cells as the file holds them (timestamp undefined when the file has none). */
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

export function describeColumns(columns: string[]): string {
  return columns.length > 20 ? `${columns.slice(0, 20).join(", ")}, ... (${columns.length} columns)` : columns.join(", ");
}

/** Bytes [start, end) of the file, read with its listed ETag. */
export async function readBytes(options: ReadOptions, start: number, end: number): Promise<Uint8Array> {
  return options.store.read(options.file.key, start, Math.min(end, options.file.size), options.file.etag);
}
