/**
 * Training-set encodings, each a byte stream fed chunk by chunk: JSON (`{"features", "rows"}`),
 * CSV (header row, RFC 4180 quoting) and Parquet (one row group per chunk, written with
 * hyparquet-writer and flushed to the stream as each row group completes).
 */
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { SchemaElement } from "hyparquet";
import type { FeatureRow, ValueType } from "../db/schema";
import { formatTimestamp } from "../time";
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

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
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

const parquetTypes: Record<ValueType, Omit<SchemaElement, "name">> = {
  float: { type: "DOUBLE", repetition_type: "OPTIONAL" },
  int: { type: "INT64", repetition_type: "OPTIONAL" },
  string: { type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
  bool: { type: "BOOLEAN", repetition_type: "OPTIONAL" },
  // Lists and JSON travel as JSON text: every Parquet reader can load them.
  float_list: { type: "BYTE_ARRAY", converted_type: "JSON", repetition_type: "OPTIONAL" },
  json: { type: "BYTE_ARRAY", converted_type: "JSON", repetition_type: "OPTIONAL" },
};

function parquetColumn(type: ValueType, values: unknown[]): unknown[] {
  if (type === "int") return values.map((v) => (v === null ? null : BigInt(v as number)));
  if (type === "float_list" || type === "json") return values.map((v) => (v === null ? null : JSON.stringify(v)));
  return values;
}

/** An encoding as three steps; each returns what to send (or sends it through `emit`). */
interface Encoder {
  start(): string | void;
  chunk(chunk: Chunk): string | Promise<void>;
  end(): string | Promise<void>;
}

function jsonEncoder(names: string[]): Encoder {
  let first = true;
  return {
    start: () => `{"features":${JSON.stringify(names)},"rows":[`,
    chunk: (chunk) => {
      const parts = chunk.map(({ row, values }) => {
        const out: Record<string, unknown> = { entity_id: row.entityId, timestamp: formatTimestamp(row.ts) };
        names.forEach((n, j) => (out[n] = values[j]));
        return JSON.stringify(out);
      });
      const text = parts.length > 0 ? `${first ? "" : ","}${parts.join(",")}` : "";
      if (parts.length > 0) first = false;
      return text;
    },
    end: () => "]}",
  };
}

function csvEncoder(names: string[]): Encoder {
  return {
    start: () => `${["entity_id", "timestamp", ...names].map(csvCell).join(",")}\r\n`,
    chunk: (chunk) => chunk.map(({ row, values }) => `${[row.entityId, formatTimestamp(row.ts), ...values].map(csvCell).join(",")}\r\n`).join(""),
    end: () => "",
  };
}

function parquetEncoder(features: FeatureRow[], emit: (bytes: Uint8Array) => void): Encoder {
  const schema: SchemaElement[] = [
    { name: "root", num_children: 2 + features.length },
    { name: "entity_id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
    { name: "timestamp", type: "INT64", repetition_type: "REQUIRED", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" } },
    ...features.map((f) => ({ name: f.name, ...parquetTypes[f.valueType] })),
  ];
  const writer = new ParquetWriter({ writer: new FlushingWriter(emit), schema });
  return {
    start: () => undefined,
    chunk: async (chunk) => {
      await writer.write({
        rowGroupSize: chunk.length,
        columnData: [
          { name: "entity_id", data: chunk.map((c) => c.row.entityId) },
          { name: "timestamp", data: chunk.map((c) => BigInt(c.row.ts)) },
          ...features.map((f, j) => ({ name: f.name, data: parquetColumn(f.valueType, chunk.map((c) => c.values[j] ?? null)) })),
        ],
      });
    },
    end: async () => {
      await writer.finish();
    },
  };
}

/** The training set as a byte stream that computes the next chunk only when the reader asks for it. */
export function encodeTraining(format: TrainingFormat, features: FeatureRow[], chunks: AsyncIterable<Chunk>): ReadableStream<Uint8Array> {
  const names = features.map((f) => f.name);
  const iterator = chunks[Symbol.asyncIterator]();
  let enc: Encoder;
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, out: string | void) => {
    if (out) controller.enqueue(encoder.encode(out));
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        enc = format === "json" ? jsonEncoder(names) : format === "csv" ? csvEncoder(names) : parquetEncoder(features, (b) => controller.enqueue(b));
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
