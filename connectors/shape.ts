/**
 * The result shape of a SQL feature, shared by every SQL connector. A query returns either named
 * columns `entity_id, value[, timestamp]` (any order, other columns ignored), or 2–3 columns read
 * by position: entity, value[, timestamp] — the guide's own examples are written both ways
 * (`SELECT customer_id, SUM(order_value) ...`). Without a timestamp the run's time is used.
 * Anything else is an error naming the columns found and the columns expected.
 */
import type { ValueType } from "../src/db/schema";
import { parseTimestamp } from "../src/time";
import { checkValue } from "../src/value-types";

export interface Shape {
  entity: number;
  value: number;
  /** Column index of the timestamp, or null: the run's time is used. */
  timestamp: number | null;
}

export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

export function detectShape(columns: string[]): Shape {
  const lower = columns.map((c) => c.toLowerCase());
  const entity = lower.indexOf("entity_id");
  const value = lower.indexOf("value");
  if (entity >= 0 && value >= 0) {
    const ts = lower.indexOf("timestamp");
    return { entity, value, timestamp: ts >= 0 ? ts : null };
  }
  if (columns.length === 2 || columns.length === 3) return { entity: 0, value: 1, timestamp: columns.length === 3 ? 2 : null };
  throw new ShapeError(
    `query returned ${columns.length} column(s) [${columns.join(", ")}]; expected columns named entity_id, value[, timestamp], ` +
      "or 2-3 columns read by position (entity, value[, timestamp])",
  );
}

/** A row ready to stage: entity id, JSON-encoded value, microseconds. */
export interface ShapedRow {
  entityId: string;
  value: string;
  ts: bigint;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Drivers hand numerics and bigints as strings, MySQL booleans as 0/1: bring them to the feature's type. */
export function coerceValue(type: ValueType, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === "bigint") raw = raw.toString();
  if (raw instanceof Date) raw = raw.toISOString();
  switch (type) {
    case "float":
    case "int":
      return typeof raw === "string" && NUMERIC.test(raw.trim()) ? Number(raw) : raw;
    case "bool":
      if (raw === 0 || raw === 1 || raw === "0" || raw === "1") return raw === 1 || raw === "1";
      if (raw === "t" || raw === "f") return raw === "t";
      return raw;
    case "string":
      return typeof raw === "number" ? String(raw) : raw;
    case "float_list": {
      let list = raw;
      if (typeof list === "string" && list.trim().startsWith("[")) {
        try {
          list = JSON.parse(list);
        } catch {
          return raw;
        }
      }
      return Array.isArray(list) ? list.map((x) => (typeof x === "string" && NUMERIC.test(x.trim()) ? Number(x) : x)) : raw;
    }
    case "json":
      return raw;
  }
}

/** A timestamp cell as microseconds: Date, RFC 3339 / SQL text (no zone = UTC), or a date. */
export function timestampMicros(raw: unknown): bigint | null {
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : BigInt(raw.getTime()) * 1000n;
  if (typeof raw !== "string") return null;
  let text = raw.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00:00Z";
  // Postgres prints offsets as +00 or +05:30; RFC 3339 wants minutes.
  text = text.replace(/([+-]\d{2})$/, "$1:00");
  return parseTimestamp(text);
}

function describe(raw: unknown): string {
  const text = typeof raw === "string" ? `'${raw}'` : raw instanceof Date ? raw.toISOString() : JSON.stringify(raw);
  return (text ?? String(raw)).slice(0, 80);
}

/**
 * Checks one raw row and turns it into a staged row, or throws a ShapeError naming the row
 * (1-based, in result order) and what is wrong with it.
 */
export function shapeRow(shape: Shape, type: ValueType, row: unknown[], rowNumber: number, runMicros: bigint): ShapedRow {
  const rawEntity = row[shape.entity];
  if (rawEntity === null || rawEntity === undefined || rawEntity === "") throw new ShapeError(`row ${rowNumber}: entity_id is empty`);
  const entityId = typeof rawEntity === "string" ? rawEntity : rawEntity instanceof Date ? rawEntity.toISOString() : String(rawEntity);
  if (entityId.length > 256) throw new ShapeError(`row ${rowNumber}: entity_id is longer than 256 characters`);
  const value = coerceValue(type, row[shape.value]);
  const problem = checkValue(type, value);
  if (problem) throw new ShapeError(`row ${rowNumber} (entity ${entityId}): ${problem}`);
  let ts = runMicros;
  if (shape.timestamp !== null) {
    const rawTs = row[shape.timestamp];
    const parsed = timestampMicros(rawTs);
    if (parsed === null) throw new ShapeError(`row ${rowNumber} (entity ${entityId}): timestamp ${describe(rawTs)} is not a date-time`);
    ts = parsed;
  }
  return { entityId, value: JSON.stringify(value), ts };
}
