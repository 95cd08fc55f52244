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
import { fileFormats, type FileFormat, type ReadOptions, type RowBatch } from "./types";

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
