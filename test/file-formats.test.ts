/**
 * File formats of data-lake features, over HTTP against the Worker, reading from s3rver: Parquet
 * from two writers (hyparquet-writer; DuckDB with snappy, gzip, zstd, brotli, lz4, none), CSV
 * with quoting and CRLF, JSON arrays, NDJSON, column mapping, typed columns feeding several
 * features, and the errors naming file, column and row.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readFileRows } from "../connectors/files/read";
import type { RowBatch } from "../connectors/files/types";
import { S3Config, S3Store } from "../connectors/s3";
import { call } from "./helpers";
import {
  BAD_ROW,
  BAD_ROW_FILE,
  FORMAT_ROWS,
  fixtureRow,
  isoOf,
  PARQUET_FILES,
  TEXT_FILES,
  TYPED_FILE,
  TYPED_ROWS,
  typedRow,
  WIDE_GROUP,
} from "./lake-fixtures";
import { createConnector, expectFixtureValues, ingest, latest, s3Config } from "./lake-helpers";

const CONNECTOR = "formats_s3";

beforeAll(async () => {
  await createConnector(CONNECTOR, "s3", s3Config());
});

describe("Parquet from two writers and every codec", () => {
  for (const [key, prefix] of Object.entries(PARQUET_FILES)) {
    it(`${key}: every row, values and timestamps`, async () => {
      const name = `pq_${prefix}`;
      const { run, files } = await ingest(name, CONNECTOR, { path: key, format: "parquet" });
      expect(run.error).toBeNull();
      expect(run.status).toBe("succeeded");
      expect(run.rows_read).toBe(FORMAT_ROWS);
      expect(run.rows_written).toBe(FORMAT_ROWS);
      expect(files.files).toMatchObject([{ key, status: "ingested", rows_read: FORMAT_ROWS }]);
      await expectFixtureValues(name, prefix);
    });
  }
});

describe("text formats", () => {
  for (const [key, prefix] of Object.entries(TEXT_FILES)) {
    it(`${key}: every row, values and timestamps (format from the extension)`, async () => {
      const name = `txt_${prefix}`;
      const { run } = await ingest(name, CONNECTOR, { path: key });
      expect(run.error).toBeNull();
      expect(run.rows_read).toBe(FORMAT_ROWS);
      await expectFixtureValues(name, prefix);
    });
  }

  it("NDJSON named .json is read with format json, and a JSON array with format ndjson", async () => {
    const a = await ingest("txt_lines_as_json", CONNECTOR, { path: "formats/lines.json", format: "json" });
    expect(a.run.rows_read).toBe(FORMAT_ROWS);
    const b = await ingest("txt_array_as_ndjson", CONNECTOR, { path: "formats/rows.json", format: "ndjson" });
    expect(b.run.rows_read).toBe(FORMAT_ROWS);
    await expectFixtureValues("txt_array_as_ndjson", "ja");
  });

  it("column mapping: other column names and a semicolon-delimited CSV", async () => {
    const { run } = await ingest("txt_custom", CONNECTOR, {
      path: "formats/custom.csv",
      entity_column: "user",
      value_column: "amount",
      timestamp_column: "event_time",
    });
    expect(run.error).toBeNull();
    expect(run.rows_read).toBe(20);
    const want = fixtureRow("cu", 13);
    expect(await latest("txt_custom", want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
  });
});

describe("one file, several features, typed columns", () => {
  it("INT64 ids and counts, strings and TIMESTAMP columns feed an int and a string feature", async () => {
    const mapping = { path: TYPED_FILE, entity_column: "user_id", timestamp_column: "event_time" };
    const clicks = await ingest("typed_clicks", CONNECTOR, { ...mapping, value_column: "clicks", value_type: "int" });
    const country = await ingest("typed_country", CONNECTOR, { ...mapping, value_column: "country", value_type: "string" });
    expect(clicks.run.error).toBeNull();
    expect(country.run.error).toBeNull();
    expect(clicks.run.rows_read).toBe(TYPED_ROWS);
    for (const i of [0, 5, TYPED_ROWS - 1]) {
      const row = typedRow(i);
      const entity = String(row.user_id);
      expect(await latest("typed_clicks", entity)).toMatchObject({ value: Number(row.clicks), timestamp: isoOf(row.event_time) });
      expect((await latest("typed_country", entity)).value).toBe(row.country);
    }
  });

  it("a value of the wrong type fails the run naming the file, the column and the row", async () => {
    const { run, files } = await ingest("typed_wrong", CONNECTOR, { path: TYPED_FILE, entity_column: "user_id", value_column: "country", value_type: "float" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain(TYPED_FILE);
    expect(run.error).toContain("row 1, column 'country' (value_column)");
    expect(files.files[0]?.status).toBe("failed");
    // Nothing of the failed file is served.
    const res = await call("GET", `/api/v1/features/typed_wrong/values/${typedRow(0).user_id}`);
    expect(res.status).toBe(404);
  });
});

describe("errors naming file, column and row", () => {
  it("a missing column lists the columns the file has", async () => {
    const { run } = await ingest("err_missing_col", CONNECTOR, { path: "formats/duckdb-gzip.parquet", value_column: "amount" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain("s3://lake/formats/duckdb-gzip.parquet");
    expect(run.error).toContain("no column 'amount' (value_column)");
    expect(run.error).toContain("entity_id, value, timestamp");
  });

  it("a missing CSV column, and a timestamp column named explicitly but absent", async () => {
    const a = await ingest("err_csv_col", CONNECTOR, { path: "formats/rows.csv", entity_column: "customer" });
    expect(a.run.error).toContain("no column 'customer' (entity_column) in the header");
    const b = await ingest("err_ts_col", CONNECTOR, { path: "globs/clicks/e.csv", timestamp_column: "event_time" });
    expect(b.run.error).toContain("no column 'event_time' (timestamp_column)");
  });

  it("a bad value in a CSV names its row; no row of that file is written", async () => {
    const { run } = await ingest("err_bad_row", CONNECTOR, { path: BAD_ROW_FILE });
    expect(run.status).toBe("failed");
    expect(run.error).toContain(`${BAD_ROW_FILE}: row ${BAD_ROW}, column 'value' (value_column)`);
    expect(run.error).toContain("'n/a'");
    expect((await call("GET", "/api/v1/features/err_bad_row/values/br-0")).status).toBe(404);
  });

  it("registering format orc is a clear 400", async () => {
    const res = await call("POST", "/api/v1/features", { body: { name: "orc_feature", connector: CONNECTOR, path: "x/*.orc", format: "orc" } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(JSON.stringify(body.error)).toContain("ORC is not supported yet");
  });

  it("a path whose format cannot be told is refused at registration (400), saying to set 'format'", async () => {
    const res = await call("POST", "/api/v1/features", { body: { name: "err_no_format", connector: CONNECTOR, path: "globs/2024/02/notes.txt" } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("set 'format'");
    expect((await call("GET", "/api/v1/features/err_no_format")).status).toBe(404);
  });
});

describe("bounded reads", () => {
  /** An S3Store on s3rver that records the byte ranges it asks for. */
  function recordingStore() {
    const ranges: [number, number][] = [];
    const store = new S3Store(S3Config.parse(s3Config()), (input, init) => {
      const req = new Request(input, init);
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.get("range") ?? "");
      if (m) ranges.push([Number(m[1]), Number(m[2]) + 1]);
      return fetch(req);
    });
    return { store, ranges };
  }
  async function info(store: S3Store, key: string) {
    for await (const page of store.list(key)) {
      const found = page.find((o) => o.key === key);
      if (found) return found;
    }
    throw new Error(`${key} not listed`);
  }
  const columns = { entity: "entity_id", value: "value", timestamp: "timestamp", timestampRequired: false };

  it("a CSV batch is read in ranges of at most 1 MiB, not the whole file, and resumes at its byte cursor", async () => {
    const { store, ranges } = recordingStore();
    const file = await info(store, "wide/rows.csv");
    expect(file.size).toBeGreaterThan(2 * 1024 * 1024);
    const reader = readFileRows("csv", { store, file, columns, cursor: { row: 0, byte: 0 }, batchRows: 1000 });
    const first = (await reader.next()).value as RowBatch;
    await reader.return(undefined);
    expect(first.rows).toHaveLength(1000);
    expect(ranges.every(([a, b]) => b - a <= 1024 * 1024)).toBe(true);
    expect(ranges.reduce((n, [a, b]) => n + b - a, 0)).toBeLessThan(file.size);
    // From the cursor: the next row, read from its byte offset on.
    ranges.length = 0;
    const resumed = readFileRows("csv", { store, file, columns, cursor: first.next, batchRows: 1 });
    const next = (await resumed.next()).value as RowBatch;
    await resumed.return(undefined);
    expect(next.rows[0]?.[0]).toBe("w-1000");
    expect(ranges.some(([a]) => a === first.next.byte)).toBe(true);
  });

  it("Parquet reads the footer and the mapped columns of the row groups asked for, not the whole file", async () => {
    const { store, ranges } = recordingStore();
    const file = await info(store, "wide/rows.parquet");
    expect(file.size).toBeGreaterThan(1024 * 1024);
    const reader = readFileRows("parquet", { store, file, columns, cursor: { row: 1000, byte: 0 }, batchRows: 5000 });
    const batch = (await reader.next()).value as RowBatch;
    await reader.return(undefined);
    expect(batch.firstRow).toBe(1000);
    expect(batch.rows).toHaveLength(WIDE_GROUP);
    expect(batch.rows[0]?.[0]).toBe("w-1000");
    expect(ranges.length).toBeGreaterThan(1);
    // The footer and three small columns of one row group: the wide note column is never fetched.
    expect(ranges.reduce((n, [a, b]) => n + b - a, 0)).toBeLessThan(file.size / 10);
  });
});
