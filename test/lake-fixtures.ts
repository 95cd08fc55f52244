/**
 * The data-lake test files: what test/setup/lake-services.ts writes into s3rver and Azurite, and
 * what the tests expect back. Imported on both sides (Node setup, workerd tests), so it holds only
 * plain data and formulas.
 */
export const BUCKET = "lake";
export const CONTAINER = "lake";

/** Row `i` of the file whose entities are prefixed `prefix`. */
export function fixtureRow(prefix: string, i: number) {
  return { entity_id: `${prefix}-${i}`, value: i * 0.5 + 1, timestamp: new Date(Date.UTC(2024, 0, 1) + i * 60_000) };
}
export const isoOf = (d: Date) => d.toISOString().replace(".000Z", "Z");

/** Rows of each file under formats/. */
export const FORMAT_ROWS = 300;
/** Parquet files under formats/: writer and codec → entity prefix. Written with row groups of 100 rows. */
export const PARQUET_FILES = {
  "formats/hyparquet-snappy.parquet": "hs",
  "formats/hyparquet-uncompressed.parquet": "hu",
  "formats/duckdb-snappy.parquet": "ds",
  "formats/duckdb-gzip.parquet": "dg",
  "formats/duckdb-zstd.parquet": "dz",
  "formats/duckdb-brotli.parquet": "db",
  "formats/duckdb-lz4.parquet": "dl",
  "formats/duckdb-uncompressed.parquet": "du",
} as const;
export const TEXT_FILES = {
  "formats/rows.csv": "csv",
  "formats/rows.json": "ja",
  "formats/rows.ndjson": "nd",
  "formats/lines.json": "jl",
} as const;

/** globs/: one row per file, entity = the file's name. */
export const GLOB_FILES = [
  "globs/2023/12/a.csv",
  "globs/2024/01/b.csv",
  "globs/2024/02/c.csv",
  "globs/2024/02/deep/d.csv",
  "globs/2024/02/notes.txt",
  "globs/clicks/e.csv",
  "globs/views/f.csv",
  "globs/other/g.csv",
];
export const globEntity = (key: string) => key.replace(/^globs\//, "").replace(/\.\w+$/, "").replaceAll("/", "_");

/** many/part-NNNN.csv: more keys than one listing page (1,000) holds. */
export const MANY_FILES = 1050;
export const manyKey = (i: number) => `many/part-${String(i).padStart(4, "0")}.csv`;

/** large/: files bigger than one invocation's row budget (the tests set FSTORE_RUN_ROWS_PER_INVOCATION=5000). */
export const LARGE_ROWS = 12_000;
export const LARGE_FILES = { "large/big.parquet": "lp", "large/big.csv": "lc", "large/big.json": "lj" } as const;
export const TEST_ROWS_PER_INVOCATION = 5_000;

/** wide/: files of a few MiB (a 1,000-character `note` per row), to see reads stay in ranges. */
export const WIDE_ROWS = 3000;
export const WIDE_GROUP = 500;
export const wideNote = (i: number) => Array.from({ length: 125 }, (_, k) => ((i * 2654435761 + k * 40503) >>> 0).toString(16).padStart(8, "0")).join("");

/** corrupt/: two good Parquet files around one whose footer is cut off. */
export const CORRUPT_GOOD = { "corrupt/a.parquet": "ca", "corrupt/c.parquet": "cc" } as const;
export const CORRUPT_BAD = "corrupt/b.parquet";
export const CORRUPT_ROWS = 50;

/** typed/: Parquet with other column names and types, feeding several features. */
export const TYPED_FILE = "typed/events.parquet";
export const TYPED_ROWS = 40;
export function typedRow(i: number) {
  return { user_id: BigInt(1000 + i), clicks: BigInt(i * 3), country: ["br", "pt", "us"][i % 3] as string, event_time: new Date(Date.UTC(2024, 5, 1) + i * 1000) };
}
/** badrow/: a CSV whose 7th data row has a value that is not a number. */
export const BAD_ROW_FILE = "badrow/rows.csv";
export const BAD_ROW = 7;

/**
 * precise/: Parquet timestamps finer than a millisecond, one file per physical type. Row `i` of
 * entity "p" is 100 µs after row `i - 1`; the NANOS file adds 789 ns, which are truncated.
 */
export const PRECISE_FILES = { "precise/micros.parquet": "TIMESTAMP(MICROS)", "precise/nanos.parquet": "TIMESTAMP(NANOS)", "precise/int96.parquet": "INT96" } as const;
export const PRECISE_ROWS = 20;
/** Microseconds since the epoch of row `i`: 2024-07-01T12:00:00.000001Z + i × 100 µs. */
export const preciseMicros = (i: number) => BigInt(Date.UTC(2024, 6, 1, 12)) * 1000n + 1n + BigInt(i) * 100n;
/** The timestamp of row `i` as the API prints it. */
export const preciseIso = (i: number) => {
  const us = preciseMicros(i);
  return `${new Date(Number(us / 1000n)).toISOString().slice(0, 19)}.${String(us % 1_000_000n).padStart(6, "0")}Z`;
};
