/**
 * Parquet through hyparquet: the footer first (one ranged read of the file's tail), then only the
 * three mapped columns of one row group at a time (a row group larger than SLICE_ROWS in slices),
 * so memory follows the row group, not the file. Every codec Parquet writers use is decoded:
 * snappy by hyparquet itself, gzip/brotli/lz4/zstd by hyparquet-compressors' pure-JS decoders.
 */
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type Compressors, type FileMetaData, type ParquetParsers } from "hyparquet";
import { decompressBrotli } from "hyparquet-compressors/src/brotli.js";
import { gunzip } from "hyparquet-compressors/src/gzip.js";
import { decompressLz4, decompressLz4Raw } from "hyparquet-compressors/src/lz4.js";
import { decompress as decompressZstd } from "fzstd";
import { Instant } from "../types";
import { describeColumns, FileError, readBytes, type ReadOptions, type RowBatch } from "./types";

/**
 * hyparquet-compressors' own `compressors` table builds its snappy decoder by compiling
 * WebAssembly from bytes when the module loads, which Workers forbid; so the table is assembled
 * here from its JS decoders, and snappy stays with hyparquet's built-in JS decoder.
 */
export const compressors: Compressors = {
  GZIP: (input, length) => gunzip(input, new Uint8Array(length)),
  BROTLI: decompressBrotli,
  ZSTD: (input) => decompressZstd(input),
  LZ4: decompressLz4,
  LZ4_RAW: decompressLz4Raw,
};

/**
 * hyparquet turns TIMESTAMP/INT96 columns into JS Dates, which keep milliseconds only: rows 100 µs
 * apart would collide. These parsers keep every timestamp exact to the microsecond (nanoseconds
 * are truncated toward the past), and DATE columns as midnight UTC.
 */
const floorDiv = (n: bigint, d: bigint) => (n >= 0n || n % d === 0n ? n / d : n / d - 1n);
export const exactTimestamps: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (ms) => new Instant(BigInt(ms) * 1000n),
  timestampFromMicroseconds: (us) => new Instant(BigInt(us)),
  timestampFromNanoseconds: (ns) => new Instant(floorDiv(BigInt(ns), 1000n)),
  dateFromDays: (days) => new Instant(BigInt(days) * 86_400_000_000n),
};

/** Rows decoded at once at most, when a row group is larger. */
export const SLICE_ROWS = 65_536;
/** Bytes read from the end of the file for the footer. */
const FOOTER_GUESS = 64 * 1024;
/** Files this small are fetched whole with the first read (footer and data in one request). */
const SMALL_FILE = 512 * 1024;

function asyncBuffer(options: ReadOptions): AsyncBuffer {
  const size = options.file.size;
  let whole: Promise<Uint8Array> | undefined;
  const toArrayBuffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  return {
    byteLength: size,
    async slice(start: number, end?: number) {
      if (size <= SMALL_FILE) {
        whole ??= readBytes(options, 0, size);
        return toArrayBuffer((await whole).subarray(start, end ?? size));
      }
      return toArrayBuffer(await readBytes(options, start, end ?? size));
    },
  };
}

async function metadataOf(options: ReadOptions, file: AsyncBuffer): Promise<FileMetaData> {
  if (options.file.size < 12) throw new FileError(`not a Parquet file: ${options.file.size} bytes is too small`);
  try {
    // hyparquet reads 512 KiB from the end by default; footers are usually far smaller, and a
    // larger one is fetched in a second request. This read is repeated by each resumed invocation.
    return await parquetMetadataAsync(file, { initialFetchSize: FOOTER_GUESS, parsers: exactTimestamps });
  } catch (err) {
    throw new FileError(`not a valid Parquet file: ${(err as Error).message}`);
  }
}

export async function* readParquet(options: ReadOptions): AsyncGenerator<RowBatch> {
  const file = asyncBuffer(options);
  const metadata = await metadataOf(options, file);
  const available = parquetSchema(metadata).children.map((c) => c.element.name);
  const { entity, value, timestamp, timestampRequired } = options.columns;
  for (const [role, name] of [["entity_column", entity], ["value_column", value], ...(timestampRequired ? [["timestamp_column", timestamp]] : [])]) {
    if (!available.includes(name as string)) throw new FileError(`no column '${name}' (${role}); the file's columns are: ${describeColumns(available)}`);
  }
  const hasTimestamp = available.includes(timestamp);
  const columns = hasTimestamp ? [entity, value, timestamp] : [entity, value];

  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    for (let from = Math.max(groupStart, options.cursor.row); from < groupEnd; from += SLICE_ROWS) {
      const to = Math.min(groupEnd, from + SLICE_ROWS);
      let rows: unknown[][] = [];
      try {
        await parquetRead({ file, metadata, columns, rowStart: from, rowEnd: to, compressors, parsers: exactTimestamps, onComplete: (r) => (rows = r) });
      } catch (err) {
        if ((err as Error).name === "SourceError") throw err;
        throw new FileError(`rows ${from + 1}-${to} could not be decoded (corrupt Parquet data?): ${(err as Error).message}`);
      }
      for (let i = 0; i < rows.length; i += options.batchRows) {
        const slice = rows.slice(i, i + options.batchRows).map((r) => [r[0], r[1], hasTimestamp ? r[2] : undefined] as [unknown, unknown, unknown]);
        const firstRow = from + i;
        yield { rows: slice, firstRow, next: { row: firstRow + slice.length, byte: 0 } };
      }
      rows = [];
    }
    groupStart = groupEnd;
  }
}
