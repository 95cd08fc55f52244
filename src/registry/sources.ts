/**
 * What a feature's source fields mean: which kind of source feeds it (push, SQL query, data-lake
 * files, stream), the file source's path/format/column mapping, and the checks made when a
 * definition is registered or changed — a named connector must exist and be of the right kind,
 * and a file feature's format must be known — so a bad definition is a 400 at registration, not
 * a failed run later. A stream feature's fields are normalised here (`streamSourceOf`).
 */
import { connectorFor } from "../../connectors/registry";
import { formatOf } from "../../connectors/files/read";
import type { FileFormat, MappedColumns } from "../../connectors/files/types";
import type { ConnectorKind } from "../../connectors/types";
import type { SourceType, ValueType } from "../db/schema";
import { ApiError } from "../errors";
import { parseDuration } from "../time";

/** Which kind of source a definition describes, from the fields it sets. */
export function sourceTypeOf(source: Record<string, unknown>): SourceType {
  if (source.query) return "sql";
  if (source.path || source.batch_config) return "file";
  if (source.topic || source.stream_config) return "stream";
  return "push";
}

/**
 * The value type of a definition that names none: float, except for a stream feature, whose
 * default follows what it computes — `last` keeps the payload field as it comes (json: the guide's
 * `customer_last_action` reads string actions), `count` counts (int), the others are numbers (float).
 */
export function defaultValueType(source: Record<string, unknown>): ValueType {
  if (sourceTypeOf(source) !== "stream") return "float";
  const config = (source.stream_config ?? {}) as Record<string, unknown>;
  const aggregation = config.aggregation ?? source.aggregation ?? "last";
  return aggregation === "last" ? "json" : aggregation === "count" ? "int" : "float";
}

/** The connector kind each source type reads from. */
const connectorKindOf: Partial<Record<SourceType, ConnectorKind>> = { sql: "sql", file: "object_store", stream: "stream" };

export interface FileSource {
  path: string;
  format: FileFormat;
  columns: MappedColumns;
  /** The connector to read, or null: the only object-store connector there is (the guide's batch example names none). */
  connector: string | null;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

/** The file source of a definition (`path` or `batch_config.path`, format, column mapping), or why there is none. */
export function fileSourceOf(source: Record<string, unknown>): FileSource | string {
  const batch = (source.batch_config ?? {}) as { path?: string };
  const path = str(source.path) ?? batch.path;
  if (typeof path !== "string") return "the feature has no 'path' (or 'batch_config.path')";
  const format = formatOf(source.format, path);
  if (!format) return `cannot tell the format of '${path}' from its extension: set 'format' to parquet, csv, json or ndjson`;
  return {
    path,
    format,
    columns: {
      entity: str(source.entity_column) ?? "entity_id",
      value: str(source.value_column) ?? "value",
      timestamp: str(source.timestamp_column) ?? "timestamp",
      timestampRequired: str(source.timestamp_column) !== undefined,
    },
    connector: str(source.connector) ?? null,
  };
}

export const aggregations = ["last", "count", "sum", "avg", "min", "max"] as const;
export type Aggregation = (typeof aggregations)[number];

/** A stream feature's definition, normalised: both shapes of the guide, defaults filled in, durations in ms. */
export interface StreamSource {
  topic: string;
  /** Dot path of the value in the payload; null: the whole payload. */
  valueField: string | null;
  /** Dot path of the entity id in the payload; null: the record key. */
  entityField: string | null;
  /** Dot path of the event time in the payload; null: the record's timestamp, else its arrival. */
  timestampField: string | null;
  aggregation: Aggregation;
  /** null: no window (only `last`: the newest event's value). */
  windowMs: number | null;
  /** Tile length: the slide of a sliding window, the window itself for a tumbling one (null without a window). */
  tileMs: number | null;
  kind: "sliding" | "tumbling" | null;
  allowedLatenessMs: number;
  deadLetterLate: boolean;
  connector: string | null;
}

export const DEFAULT_ALLOWED_LATENESS_MS = 60_000;

/** The default slide: window/5 when that is whole seconds, else the largest whole-second divisor below it (1 s at least). */
export function defaultSlideSeconds(windowSeconds: number): number {
  for (let d = Math.floor(windowSeconds / 5); d > 1; d--) if (windowSeconds % d === 0) return d;
  return 1;
}

type Problem = { path: string; message: string };

/**
 * The stream source of a definition (top-level fields, or `stream_config`, whose fields win), or
 * the problems that make it unusable. `valueType` is the feature's: numeric aggregations need
 * float or int (avg: float).
 */
export function streamSourceOf(source: Record<string, unknown>, valueType: ValueType): StreamSource | Problem[] {
  const nested = (source.stream_config ?? {}) as Record<string, unknown>;
  const prefix = source.stream_config ? "stream_config." : "";
  const field = (name: string): unknown => nested[name] ?? source[name];
  const at = (name: string) => (nested[name] !== undefined ? prefix : "") + name;
  const problems: Problem[] = [];
  const topic = str(field("topic"));
  if (!topic) problems.push({ path: "topic", message: "a stream feature needs a topic" });
  const aggregation = (field("aggregation") ?? "last") as string;
  if (!(aggregations as readonly string[]).includes(aggregation)) {
    problems.push({ path: at("aggregation"), message: `unknown aggregation '${String(aggregation).slice(0, 40)}': use one of ${aggregations.join(", ")}` });
  }
  const seconds = (name: string): number | null | undefined => {
    const raw = field(name);
    if (raw === undefined) return undefined;
    const s = typeof raw === "string" ? parseDuration(raw) : null;
    if (s === null) problems.push({ path: at(name), message: "must be a duration like 30s, 5m, 1h or 1d" });
    return s;
  };
  const window = seconds("window_size");
  const slideRaw = seconds("slide");
  const lateness = seconds("allowed_lateness");
  const kindRaw = field("window");
  let kind: StreamSource["kind"] = null;
  if (kindRaw !== undefined && kindRaw !== "sliding" && kindRaw !== "tumbling") {
    problems.push({ path: at("window"), message: `unknown window '${String(kindRaw).slice(0, 40)}': use sliding or tumbling` });
  } else if (kindRaw !== undefined && window === undefined) {
    problems.push({ path: at("window_size"), message: `a ${String(kindRaw)} window needs a window_size` });
  } else if (window) kind = (kindRaw as StreamSource["kind"]) ?? "sliding";
  if (slideRaw !== undefined && kind !== "sliding") problems.push({ path: at("slide"), message: "slide is the hop of a sliding window: set window_size (and no window: tumbling)" });
  let tile: number | null = null;
  if (window && kind === "tumbling") tile = window;
  if (window && kind === "sliding") {
    // A slide that is not a duration (null) is already named above.
    const slide = slideRaw === undefined ? defaultSlideSeconds(window) : slideRaw;
    if (slide !== null && (slide > window || window % slide !== 0)) problems.push({ path: at("slide"), message: `slide (${slide}s) must divide window_size (${window}s) evenly` });
    else if (slide !== null && window / slide > 1000) problems.push({ path: at("slide"), message: `a window may hold at most 1,000 slides (window_size ${window}s / slide ${slide}s)` });
    else tile = slide;
  }
  if (aggregation !== "last" && window === undefined) {
    problems.push({ path: at("window_size"), message: `aggregation '${aggregation}' needs a window_size (only 'last' works without a window)` });
  }
  if (aggregation !== "last" && (aggregations as readonly string[]).includes(aggregation)) {
    const numeric = aggregation === "avg" ? valueType === "float" : valueType === "float" || valueType === "int";
    if (!numeric) {
      problems.push({
        path: "value_type",
        message: `aggregation '${aggregation}' makes ${aggregation === "avg" ? "a float: set value_type float" : "numbers: set value_type float or int"} (the feature is ${valueType})`,
      });
    }
  }
  if (aggregation !== "last" && aggregation !== "count" && field("value_field") === undefined) {
    problems.push({ path: at("value_field"), message: `aggregation '${aggregation}' needs a value_field naming the number to aggregate` });
  }
  if (problems.length > 0 || !topic) return problems;
  const dead = field("dead_letter_late");
  return {
    topic,
    valueField: str(field("value_field")) ?? null,
    entityField: str(field("entity_field")) ?? null,
    timestampField: str(field("timestamp_field")) ?? null,
    aggregation: aggregation as Aggregation,
    windowMs: window ? window * 1000 : null,
    tileMs: tile === null ? null : tile * 1000,
    kind,
    allowedLatenessMs: lateness ? lateness * 1000 : DEFAULT_ALLOWED_LATENESS_MS,
    deadLetterLate: dead === true,
    connector: str(source.connector) ?? null,
  };
}

/**
 * Refuses (400) a definition whose source cannot work: a connector that does not exist or is of
 * the wrong kind, a file feature whose format cannot be worked out.
 */
export async function checkSource(db: D1Database, source: Record<string, unknown>, valueType: ValueType): Promise<void> {
  const type = sourceTypeOf(source);
  if (type === "stream") {
    const stream = streamSourceOf(source, valueType);
    if (Array.isArray(stream)) throw new ApiError("VALIDATION_FAILED", `Invalid stream feature: ${stream[0]?.path}: ${stream[0]?.message}`, stream);
  }
  if (type === "file") {
    const file = fileSourceOf(source);
    if (typeof file === "string") throw new ApiError("VALIDATION_FAILED", file, [{ path: "format", message: file }]);
  }
  const name = str(source.connector);
  if (name === undefined) return;
  const row = await db.prepare("SELECT type FROM connectors WHERE name = ?1").bind(name).first<{ type: string }>();
  if (!row) throw new ApiError("VALIDATION_FAILED", `connector '${name}' does not exist: create it first (POST /api/v1/connectors)`, [{ path: "connector", message: "no such connector" }]);
  const kind = connectorFor(row.type)?.kind;
  const wanted = connectorKindOf[type];
  if (type === "push") {
    throw new ApiError("VALIDATION_FAILED", `the feature names connector '${name}' but no source to read from it: add a 'query', a 'path' (or 'batch_config') or a 'topic'`, [
      { path: "connector", message: "no source fields" },
    ]);
  }
  if (kind !== wanted) {
    const needs = { sql: "a postgres or mysql", object_store: "an s3 or adls", stream: "a kafka or pulsar" }[wanted as ConnectorKind];
    throw new ApiError("VALIDATION_FAILED", `connector '${name}' is a ${row.type} connector; a ${type} feature needs ${needs} connector`, [
      { path: "connector", message: `wrong kind of connector (${row.type})` },
    ]);
  }
}
