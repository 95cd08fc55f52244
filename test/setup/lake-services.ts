/**
 * vitest globalSetup (Node side) for the data-lake tests: starts s3rver and Azurite, writes the
 * test files of test/lake-fixtures.ts into both — Parquet from two writers (hyparquet-writer and
 * DuckDB, every codec), CSV, JSON arrays, NDJSON, more keys than one listing page, files larger
 * than one invocation's budget, a corrupt file, timestamps finer than a millisecond in every
 * Parquet physical type (TIMESTAMP MICROS and NANOS, INT96) — and provides the endpoints and SAS tokens to
 * the tests in workerd. Servers are stopped (and their data removed) in teardown.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ContainerSASPermissions, generateBlobSASQueryParameters, SASProtocol, StorageSharedKeyCredential, BlobServiceClient } from "@azure/storage-blob";
import { DuckDBInstance } from "@duckdb/node-api";
import { parquetMetadata } from "hyparquet";
import { ByteWriter, parquetWriteBuffer } from "hyparquet-writer";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import type { TestProject } from "vitest/node";
import { AZURITE_ACCOUNT, AZURITE_KEY, s3Writer, startAzurite, startS3rver } from "../../scripts/lake-servers.mjs";
import {
  BAD_ROW,
  BAD_ROW_FILE,
  BUCKET,
  CONTAINER,
  CORRUPT_BAD,
  CORRUPT_GOOD,
  CORRUPT_ROWS,
  FORMAT_ROWS,
  fixtureRow,
  GLOB_FILES,
  globEntity,
  isoOf,
  LARGE_ROWS,
  MANY_FILES,
  manyKey,
  PARQUET_FILES,
  PRECISE_ROWS,
  preciseMicros,
  TYPED_FILE,
  TYPED_ROWS,
  typedRow,
  WIDE_GROUP,
  WIDE_ROWS,
  wideNote,
} from "../lake-fixtures";

declare module "vitest" {
  export interface ProvidedContext {
    lakeS3Endpoint: string;
    lakeAzureEndpoint: string;
    lakeAzureSas: string;
    lakeAzureWriteSas: string;
    lakeAzureExpiredSas: string;
    lakeAzureNoListSas: string;
  }
}

type Files = Map<string, Uint8Array>;
const text = (s: string) => new TextEncoder().encode(s);

function rowsOf(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => fixtureRow(prefix, i));
}

function hyparquet(prefix: string, n: number, codec: "SNAPPY" | "UNCOMPRESSED", rowGroupSize: number): Uint8Array {
  const rows = rowsOf(prefix, n);
  return new Uint8Array(
    parquetWriteBuffer({
      codec,
      rowGroupSize,
      columnData: [
        { name: "entity_id", data: rows.map((r) => r.entity_id), type: "STRING" },
        { name: "value", data: Float64Array.from(rows.map((r) => r.value)), type: "DOUBLE" },
        { name: "timestamp", data: rows.map((r) => r.timestamp), type: "TIMESTAMP" },
      ],
    }),
  );
}

/** Parquet written by DuckDB, a writer other than our own, with `codec`. */
async function duckdbParquet(dir: string, prefix: string, n: number, codec: string): Promise<Uint8Array> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const file = path.join(dir, `${prefix}.parquet`);
  await connection.run(
    `COPY (SELECT '${prefix}-' || i AS entity_id, (i * 0.5 + 1)::DOUBLE AS value, TIMESTAMP '2024-01-01 00:00:00' + to_minutes(i::BIGINT) AS timestamp
             FROM range(${n}) t(i) ORDER BY i)
       TO '${file}' (FORMAT parquet, COMPRESSION '${codec}', ROW_GROUP_SIZE 100)`,
  );
  connection.closeSync();
  instance.closeSync();
  return new Uint8Array(await readFile(file));
}

/** precise/: the same rows as TIMESTAMP(MICROS) and TIMESTAMP(NANOS) (DuckDB) and INT96 (below). */
async function preciseParquet(dir: string, type: "TIMESTAMP" | "TIMESTAMP_NS"): Promise<Uint8Array> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const file = path.join(dir, `precise-${type}.parquet`);
  const rows = Array.from({ length: PRECISE_ROWS }, (_, i) => {
    const us = preciseMicros(i);
    const text = `${new Date(Number(us / 1000n)).toISOString().slice(0, 19).replace("T", " ")}.${String(us % 1_000_000n).padStart(6, "0")}${type === "TIMESTAMP_NS" ? "789" : ""}`;
    return `('p', ${i}::DOUBLE, ${type} '${text}')`;
  });
  await connection.run(`COPY (SELECT * FROM (VALUES ${rows.join(", ")}) t(entity_id, value, timestamp)) TO '${file}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
  return new Uint8Array(await readFile(file));
}

/**
 * INT96 timestamps (nanoseconds of the day, then the Julian day; what Spark and Impala wrote), which
 * no writer at hand produces: the column is written as 12-byte FIXED_LEN_BYTE_ARRAY values (the
 * same bytes) and the footer is rewritten to call it INT96.
 */
function int96Parquet(): Uint8Array {
  const JULIAN_EPOCH = 2_440_588n;
  const values = Array.from({ length: PRECISE_ROWS }, (_, i) => {
    const nanos = preciseMicros(i) * 1000n;
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, nanos % 86_400_000_000_000n, true);
    view.setUint32(8, Number(JULIAN_EPOCH + nanos / 86_400_000_000_000n), true);
    return bytes;
  });
  const file = parquetWriteBuffer({
    codec: "UNCOMPRESSED",
    statistics: false,
    columnData: [
      { name: "entity_id", data: values.map(() => "p") },
      { name: "value", data: Float64Array.from(values.map((_, i) => i)) },
      { name: "timestamp", data: values, encoding: "PLAIN", offsetIndex: false },
    ],
    schema: [
      { name: "root", num_children: 3 },
      { name: "entity_id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
      { name: "value", type: "DOUBLE", repetition_type: "REQUIRED" },
      { name: "timestamp", type: "FIXED_LEN_BYTE_ARRAY", type_length: 12, repetition_type: "REQUIRED" },
    ],
  });
  const bytes = new Uint8Array(file);
  const metadata = parquetMetadata(file);
  const footerStart = bytes.length - 8 - new DataView(file).getUint32(bytes.length - 8, true);
  const column = metadata.schema.find((e) => e.name === "timestamp")!;
  column.type = "INT96";
  delete column.type_length;
  for (const group of metadata.row_groups) for (const chunk of group.columns) if (chunk.meta_data?.path_in_schema[0] === "timestamp") chunk.meta_data.type = "INT96";
  const writer = new ByteWriter();
  writeMetadata(writer, metadata);
  const footer = new Uint8Array(writer.getBuffer());
  const out = new Uint8Array(footerStart + footer.length + 8);
  out.set(bytes.subarray(0, footerStart));
  out.set(footer, footerStart);
  new DataView(out.buffer).setUint32(footerStart + footer.length, footer.length, true);
  out.set(new TextEncoder().encode("PAR1"), footerStart + footer.length + 4);
  return out;
}

function csv(prefix: string, n: number): string {
  const lines = ["entity_id,value,timestamp,note"];
  for (const r of rowsOf(prefix, n)) {
    const i = Number(r.entity_id.split("-")[1]);
    // Python's isoformat (no zone) on odd rows, RFC 3339 on even ones; notes exercise quoting.
    const ts = i % 2 ? r.timestamp.toISOString().replace("Z", "").replace(/\.(\d{3})$/, ".$1000") : isoOf(r.timestamp);
    const note = i % 10 === 0 ? `"has ""quotes"", commas, and a\nnewline"` : i % 10 === 1 ? "" : `plain ${i}`;
    lines.push(`${r.entity_id},${r.value},${ts},${note}`);
  }
  return lines.join("\r\n") + "\r\n";
}

async function buildFiles(dir: string): Promise<Files> {
  const files: Files = new Map();
  files.set("formats/hyparquet-snappy.parquet", hyparquet(PARQUET_FILES["formats/hyparquet-snappy.parquet"], FORMAT_ROWS, "SNAPPY", 100));
  files.set("formats/hyparquet-uncompressed.parquet", hyparquet(PARQUET_FILES["formats/hyparquet-uncompressed.parquet"], FORMAT_ROWS, "UNCOMPRESSED", 100));
  for (const codec of ["snappy", "gzip", "zstd", "brotli", "lz4", "uncompressed"]) {
    const key = `formats/duckdb-${codec}.parquet` as keyof typeof PARQUET_FILES;
    files.set(key, await duckdbParquet(dir, PARQUET_FILES[key], FORMAT_ROWS, codec));
  }
  files.set("formats/rows.csv", text(csv("csv", FORMAT_ROWS)));
  files.set("formats/rows.json", text(JSON.stringify(rowsOf("ja", FORMAT_ROWS).map((r) => ({ ...r, timestamp: isoOf(r.timestamp) })), null, 2)));
  files.set("formats/rows.ndjson", text(rowsOf("nd", FORMAT_ROWS).map((r) => JSON.stringify({ ...r, timestamp: r.timestamp.getTime() })).join("\n") + "\n"));
  files.set("formats/lines.json", text(rowsOf("jl", FORMAT_ROWS).map((r) => JSON.stringify({ ...r, timestamp: r.timestamp.getTime() / 1000 })).join("\n")));
  // Column mapping and a delimiter other than the comma.
  files.set("formats/custom.csv", text("user;amount;event_time\n" + rowsOf("cu", 20).map((r) => `${r.entity_id};${r.value};${isoOf(r.timestamp)}`).join("\n") + "\n"));

  for (const key of GLOB_FILES) files.set(key, text(`entity_id,value\n${globEntity(key)},1\n`));
  for (let i = 0; i < MANY_FILES; i++) files.set(manyKey(i), text(`entity_id,value,timestamp\nm-${i},${i},2024-03-01T00:00:00Z\n`));

  files.set("large/big.parquet", hyparquet("lp", LARGE_ROWS, "SNAPPY", 4000));
  files.set("large/big.csv", text(csv("lc", LARGE_ROWS)));
  files.set("large/big.json", text(JSON.stringify(rowsOf("lj", LARGE_ROWS).map((r) => ({ ...r, timestamp: isoOf(r.timestamp) })))));

  const wide = rowsOf("w", WIDE_ROWS);
  files.set("wide/rows.csv", text("entity_id,value,timestamp,note\n" + wide.map((r, i) => `${r.entity_id},${r.value},${isoOf(r.timestamp)},${wideNote(i)}`).join("\n") + "\n"));
  files.set(
    "wide/rows.parquet",
    new Uint8Array(
      parquetWriteBuffer({
        rowGroupSize: WIDE_GROUP,
        columnData: [
          { name: "entity_id", data: wide.map((r) => r.entity_id), type: "STRING" },
          { name: "value", data: Float64Array.from(wide.map((r) => r.value)), type: "DOUBLE" },
          { name: "timestamp", data: wide.map((r) => r.timestamp), type: "TIMESTAMP" },
          { name: "note", data: wide.map((_, i) => wideNote(i)), type: "STRING" },
        ],
      }),
    ),
  );

  for (const [key, prefix] of Object.entries(CORRUPT_GOOD)) files.set(key, hyparquet(prefix, CORRUPT_ROWS, "SNAPPY", 25));
  const good = hyparquet("cb", CORRUPT_ROWS, "SNAPPY", 25);
  files.set(CORRUPT_BAD, good.slice(0, good.length - 30)); // footer cut off

  const typed = Array.from({ length: TYPED_ROWS }, (_, i) => typedRow(i));
  files.set(
    TYPED_FILE,
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: "user_id", data: BigInt64Array.from(typed.map((r) => r.user_id)), type: "INT64" },
          { name: "clicks", data: BigInt64Array.from(typed.map((r) => r.clicks)), type: "INT64" },
          { name: "country", data: typed.map((r) => r.country), type: "STRING" },
          { name: "event_time", data: typed.map((r) => r.event_time), type: "TIMESTAMP" },
        ],
      }),
    ),
  );
  files.set("precise/micros.parquet", await preciseParquet(dir, "TIMESTAMP"));
  files.set("precise/nanos.parquet", await preciseParquet(dir, "TIMESTAMP_NS"));
  files.set("precise/int96.parquet", int96Parquet());
  const bad = rowsOf("br", 10).map((r, i) => `${r.entity_id},${i + 1 === BAD_ROW ? "n/a" : r.value},${isoOf(r.timestamp)}`);
  files.set(BAD_ROW_FILE, text(`entity_id,value,timestamp\n${bad.join("\n")}\n`));
  return files;
}

/** What goes into Azurite as well: every file of the object-store contract (test/contract/object-store.ts). */
const AZURE_KEYS = (key: string) => /^(formats\/|globs\/|many\/|large\/|corrupt\/|precise\/)/.test(key);

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), "fstore-lake-data-"));
  const s3 = await startS3rver({ buckets: [BUCKET] });
  const azure = await startAzurite().catch(async (err) => {
    await s3.close();
    throw err;
  });
  const closeAll = async () => {
    await Promise.allSettled([s3.close(), azure.close(), rm(dir, { recursive: true, force: true })]);
  };
  try {
    const files = await buildFiles(dir);
    const writer = s3Writer(s3.endpoint);
    await inParallel([...files], 8, ([key, body]) => writer.put(BUCKET, key, body));

    const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const service = new BlobServiceClient(azure.endpoint, credential);
    const container = service.getContainerClient(CONTAINER);
    await container.create();
    await inParallel(
      [...files].filter(([key]) => AZURE_KEYS(key)),
      8,
      ([key, body]) => container.getBlockBlobClient(key).uploadData(body),
    );
    const sas = (permissions: string, expiresOn = new Date(Date.now() + 6 * 3600_000)) =>
      generateBlobSASQueryParameters(
        {
          containerName: CONTAINER,
          permissions: ContainerSASPermissions.parse(permissions),
          startsOn: new Date(expiresOn.getTime() - 6 * 3600_000),
          expiresOn,
          protocol: SASProtocol.HttpsAndHttp,
        },
        credential,
      ).toString();
    project.provide("lakeS3Endpoint", s3.endpoint);
    project.provide("lakeAzureEndpoint", azure.endpoint);
    project.provide("lakeAzureSas", sas("rl"));
    project.provide("lakeAzureWriteSas", sas("racwdl"));
    project.provide("lakeAzureExpiredSas", sas("rl", new Date(Date.now() - 3600_000)));
    project.provide("lakeAzureNoListSas", sas("r"));
  } catch (err) {
    await closeAll();
    throw err;
  }
  return closeAll;
}
