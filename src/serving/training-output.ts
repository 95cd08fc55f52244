/**
 * Training-set encodings, each a byte stream fed chunk by chunk: JSON (`{"features", "rows"}`),
 * CSV (header row, RFC 4180 quoting) and Parquet (one row group per chunk, written with
 * hyparquet-writer and flushed to the stream as each row group completes).
 *
 * Every encoding keeps the feature's type: floats always carry a fraction in JSON and CSV (`1.0`),
 * so readers that infer types see floats; in Parquet a float_list is LIST<DOUBLE>, a json value is
 * JSON text encoded once, the row timestamp TIMESTAMP(MICROS, UTC) — exact for 0001..9999. In CSV
 * an empty field is null and `""` is the empty string (PostgreSQL COPY's and DuckDB's convention).
 */
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { SchemaElement } from "hyparquet";
import type { FeatureRow, ValueType } from "../db/schema";
import { formatTimestamp } from "../time";
import { servedJson } from "../value-types";
import type { EntityRow } from "./historical";

export type TrainingFormat = "json" | "csv" | "parquet";
export type Chunk = { row: EntityRow; values: unknown[] }[];

export const contentTypes: Record<TrainingFormat, string> = {
  json: "application/json",
  csv: "text/csv; charset=utf-8",
  parquet: "application/vnd.apache.parquet",
};

/** `format` wins; otherwise the Accept header; JSON by default. */
export function negotiateFormat(format: TrainingFormat | undefined, accept: string | undefined): TrainingFormat {
  if (format) return format;
  const a = (accept ?? "").toLowerCase();
  if (a.includes("text/csv")) return "csv";
  if (a.includes("parquet")) return "parquet";
  return "json";
}

const encoder = new TextEncoder();

/**
 * A CSV field: null is empty, the empty string is `""`; strings as they are, every other type as
 * its served JSON (floats `1.0`, lists `[0.5,1.0]`, json values as JSON text).
 */
function csvCell(type: ValueType | "text", value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = (type === "string" || type === "text") && typeof value === "string" ? value : servedJson(type === "text" ? "json" : type, value);
  return text === "" || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes parquet bytes out as each row group completes, keeping only the current one in memory. */
class FlushingWriter extends ByteWriter {
  constructor(private readonly emit: (bytes: Uint8Array) => void) {
    super(64 * 1024);
  }
  flush() {
    if (this.index > 0) this.emit(new Uint8Array(this.buffer.slice(0, this.index)));
    this.index = 0;
  }
  override finish() {
    this.flush();
  }
}

/** The schema elements of a feature's column (a float_list is the three-level LIST of the Parquet spec). */
function parquetSchema(name: string, type: ValueType): SchemaElement[] {
  switch (type) {
    case "float":
      return [{ name, type: "DOUBLE", repetition_type: "OPTIONAL" }];
    case "int":
      return [{ name, type: "INT64", repetition_type: "OPTIONAL" }];
    case "string":
      return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" }, repetition_type: "OPTIONAL" }];
    case "bool":
      return [{ name, type: "BOOLEAN", repetition_type: "OPTIONAL" }];
    case "float_list":
      return [
        { name, repetition_type: "OPTIONAL", converted_type: "LIST", logical_type: { type: "LIST" }, num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", type: "DOUBLE", repetition_type: "REQUIRED" },
      ];
    case "json":
      // The writer encodes JSON columns itself: it gets the values, not their text.
      return [{ name, type: "BYTE_ARRAY", converted_type: "JSON", logical_type: { type: "JSON" }, repetition_type: "OPTIONAL" }];
  }
}

function parquetColumn(type: ValueType, values: unknown[]): unknown[] {
  if (type === "int") return values.map((v) => (v === null ? null : BigInt(v as number)));
  return values;
}

/** An encoding as three steps; each returns what to send (or sends it through `emit`). */
interface Encoder {
  start(): string | void;
  chunk(chunk: Chunk): string | Promise<void>;
  end(): string | Promise<void>;
}

function jsonEncoder(features: FeatureRow[], names: string[]): Encoder {
  const keys = names.map((n) => `,${JSON.stringify(n)}:`);
  let first = true;
  return {
    start: () => `{"features":${JSON.stringify(names)},"rows":[`,
    chunk: (chunk) => {
      const parts = chunk.map(({ row, values }) => {
        let text = `{"entity_id":${JSON.stringify(row.entityId)},"timestamp":"${formatTimestamp(row.ts)}"`;
        features.forEach((f, j) => (text += `${keys[j]}${servedJson(f.valueType, values[j] ?? null)}`));
        return `${text}}`;
      });
      const text = parts.length > 0 ? `${first ? "" : ","}${parts.join(",")}` : "";
      if (parts.length > 0) first = false;
      return text;
    },
    end: () => "]}",
  };
}

function csvEncoder(features: FeatureRow[], names: string[]): Encoder {
  return {
    start: () => `${["entity_id", "timestamp", ...names].map((n) => csvCell("text", n)).join(",")}\r\n`,
    chunk: (chunk) =>
      chunk
        .map(({ row, values }) => `${csvCell("text", row.entityId)},${formatTimestamp(row.ts)}${features.map((f, j) => `,${csvCell(f.valueType, values[j])}`).join("")}\r\n`)
        .join(""),
    end: () => "",
  };
}

function parquetEncoder(features: FeatureRow[], names: string[], emit: (bytes: Uint8Array) => void): Encoder {
  const schema: SchemaElement[] = [
    { name: "root", num_children: 2 + features.length },
    { name: "entity_id", type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" }, repetition_type: "REQUIRED" },
    // Microseconds as they are (bigint): exact over 0001..9999, where a JS Date would not be.
    { name: "timestamp", type: "INT64", repetition_type: "REQUIRED", converted_type: "TIMESTAMP_MICROS", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" } },
    ...features.flatMap((f, j) => parquetSchema(names[j] as string, f.valueType)),
  ];
  const writer = new ParquetWriter({ writer: new FlushingWriter(emit), schema });
  return {
    start: () => undefined,
    chunk: async (chunk) => {
      await writer.write({
        rowGroupSize: chunk.length,
        columnData: [
          { name: "entity_id", data: chunk.map((c) => c.row.entityId) },
          { name: "timestamp", data: chunk.map((c) => c.row.ts) },
          ...features.map((f, j) => ({ name: names[j] as string, data: parquetColumn(f.valueType, chunk.map((c) => c.values[j] ?? null)) })),
        ],
      });
    },
    end: async () => {
      await writer.finish();
    },
  };
}

/**
 * The training set as a byte stream that computes the next chunk only when the reader asks for it;
 * `names` are the feature columns' names (the features' refs).
 */
export function encodeTraining(format: TrainingFormat, features: FeatureRow[], names: string[], chunks: AsyncIterable<Chunk>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  let enc: Encoder;
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, out: string | void) => {
    if (out) controller.enqueue(encoder.encode(out));
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        enc = format === "json" ? jsonEncoder(features, names) : format === "csv" ? csvEncoder(features, names) : parquetEncoder(features, names, (b) => controller.enqueue(b));
        send(controller, enc.start());
      },
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            send(controller, await enc.end());
            controller.close();
          } else send(controller, await enc.chunk(next.value));
        } catch (err) {
          // Headers are gone already: the client sees a truncated body, the log says why.
          console.error(`training set stream failed: ${(err as Error).name}: ${(err as Error).message}`);
          controller.error(err);
        }
      },
    },
    { highWaterMark: 0 },
  );
}
