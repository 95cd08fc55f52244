/**
 * Source cells → rows to write: the one place that turns what SQL drivers, file formats and
 * stream events hand over into an entity id, a value of the feature's type and a timestamp.
 *
 * Cells come in many kinds: drivers give numerics and bigints as strings and MySQL booleans as
 * 0/1; CSV cells are all text (`""` = no value, `"true"`); Parquet gives bigints, typed arrays and
 * exact Instants; JSON gives anything. Strings are read as the feature's type when they spell one
 * (`"12.5"` for a float, `"t"` for a bool, `"[1,2]"` for a float_list, JSON text for json).
 * Timestamps may be RFC 3339 / SQL text (no zone = UTC), a date, a Date, an Instant, or a number of
 * seconds / milliseconds / microseconds since the epoch, told apart by size. Problems are RowErrors
 * naming the cell's role; the caller adds the row and column.
 */
import { Instant } from "../../connectors/types";
import type { ValueType } from "../db/schema";
import { formatTimestamp, inRange, parseTimestamp, type Micros } from "../time";
import { checkEntityId, encodeValue, toWellFormed } from "./rules";

/** A row ready to stage or write: entity id, JSON-encoded value, microseconds. */
export interface ShapedRow {
  entityId: string;
  value: string;
  ts: Micros;
}

export type CellRole = "entity" | "value" | "timestamp";

/** One cell that cannot become part of a row; `role` says which. */
export class RowError extends Error {
  constructor(
    readonly role: CellRole,
    message: string,
  ) {
    super(message);
    this.name = "RowError";
  }
}

/** A cell as a user would recognise it in an error message. */
export function describeCell(raw: unknown): string {
  if (typeof raw === "string") return `'${toWellFormed(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw)}'`;
  if (raw instanceof Uint8Array) return "binary data";
  if (typeof raw === "bigint") return raw.toString();
  if (typeof raw === "number" && !Number.isFinite(raw)) return String(raw); // JSON would print null
  if (raw instanceof Instant) return formatTimestamp(raw.micros);
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? "an invalid date" : raw.toISOString();
  try {
    return toWellFormed((JSON.stringify(raw) ?? String(raw)).slice(0, 60));
  } catch {
    return "a value that cannot be printed (nested too deeply?)"; // JSON.stringify recurses
  }
}

export function entityCell(raw: unknown): string {
  if (raw === null || raw === undefined || raw === "") throw new RowError("entity", "empty");
  let entityId: string;
  if (typeof raw === "string") entityId = raw;
  else if ((typeof raw === "number" && Number.isFinite(raw)) || typeof raw === "bigint") entityId = String(raw);
  else if (raw instanceof Instant) entityId = formatTimestamp(raw.micros);
  else if (raw instanceof Date && !Number.isNaN(raw.getTime())) entityId = raw.toISOString();
  else throw new RowError("entity", `expected text or an integer, got ${describeCell(raw)}`);
  const problem = checkEntityId(entityId);
  if (problem) throw new RowError("entity", problem);
  return entityId;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const toNumber = (x: unknown) => (typeof x === "string" && NUMERIC.test(x.trim()) ? Number(x) : typeof x === "bigint" ? Number(x) : x);

/** Brings a cell to the feature's type where it spells a value of it; rules.ts judges the result. */
function coerce(type: ValueType, cell: unknown): unknown {
  let raw = cell;
  if (raw === null || raw === undefined) return null;
  if (raw instanceof Instant) raw = formatTimestamp(raw.micros);
  else if (raw instanceof Date && !Number.isNaN(raw.getTime())) raw = raw.toISOString();
  if (typeof raw === "bigint") {
    if (type === "string") return raw.toString();
    // Past 2^53 a bigint is not an exact JSON number: an int feature refuses it, json keeps the digits.
    if (Number.isSafeInteger(Number(raw))) return Number(raw);
    return type === "json" ? raw.toString() : raw;
  }
  if (typeof raw === "string" && type !== "string") {
    const text = raw.trim();
    if (text === "") return null;
    switch (type) {
      case "float":
      case "int":
        return NUMERIC.test(text) ? Number(text) : raw;
      case "bool":
        if (/^(true|t|1)$/i.test(text)) return true;
        if (/^(false|f|0)$/i.test(text)) return false;
        return raw;
      case "float_list":
      case "json":
        try {
          const parsed: unknown = JSON.parse(text);
          return type === "float_list" && Array.isArray(parsed) ? parsed.map(toNumber) : parsed;
        } catch {
          return raw;
        }
    }
  }
  switch (type) {
    case "bool":
      return raw === 0 || raw === 1 ? raw === 1 : raw;
    case "string":
      return typeof raw === "number" && Number.isFinite(raw) ? String(raw) : raw;
    case "float_list":
      if (Array.isArray(raw)) return raw.map(toNumber);
      return ArrayBuffer.isView(raw) && !(raw instanceof DataView) && !(raw instanceof Uint8Array) ? Array.from(raw as unknown as ArrayLike<number | bigint>, Number) : raw;
    default:
      return raw;
  }
}

/** The cell as a value of `type`, JSON-encoded. */
export function valueCell(type: ValueType, raw: unknown): string {
  const encoded = encodeValue(type, coerce(type, raw));
  if ("error" in encoded) throw new RowError("value", `${encoded.error.replace(/, got .*$/, "")}, got ${describeCell(raw)}`);
  return encoded.json;
}

/** Epoch numbers: up to 1e11 are seconds (until year 5138), up to 1e14 milliseconds, beyond microseconds. */
function epochMicros(n: number): Micros | null {
  if (!Number.isFinite(n)) return null;
  const abs = Math.abs(n);
  if (abs < 1e11) return BigInt(Math.round(n * 1e6));
  if (abs < 1e14) return BigInt(Math.round(n * 1e3));
  return BigInt(Math.round(n));
}

/** The same rule for integers, in exact integer arithmetic. */
function epochMicrosBig(n: bigint): Micros {
  const abs = n < 0n ? -n : n;
  if (abs < 100_000_000_000n) return n * 1_000_000n;
  if (abs < 100_000_000_000_000n) return n * 1000n;
  return n;
}

function timestampOf(raw: unknown): Micros | null {
  if (raw instanceof Instant) return raw.micros;
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : BigInt(raw.getTime()) * 1000n;
  if (typeof raw === "number") return epochMicros(raw);
  if (typeof raw === "bigint") return epochMicrosBig(raw);
  if (typeof raw !== "string") return null;
  let text = raw.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return epochMicros(Number(text));
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00:00Z";
  // Postgres prints offsets as +00 or +05:30; RFC 3339 wants minutes.
  text = text.replace(/([+-]\d{2})$/, "$1:00");
  return parseTimestamp(text);
}

/** The cell as microseconds since the epoch, within 0001-01-01 .. 9999-12-31. */
export function timestampCell(raw: unknown): Micros {
  const ts = raw === null || raw === undefined || raw === "" ? null : timestampOf(raw);
  if (ts === null || !inRange(ts)) throw new RowError("timestamp", `${describeCell(raw)} is not a date-time between 0001-01-01 and 9999-12-31`);
  return ts;
}

/**
 * One source row `[entity, value, timestamp]` as a row to write; `timestamp` undefined means the
 * source has no timestamp column and `runMicros` (the run's time) is used.
 */
export function shapeCells(type: ValueType, [entity, value, timestamp]: readonly [unknown, unknown, unknown], runMicros: Micros): ShapedRow {
  return {
    entityId: entityCell(entity),
    value: valueCell(type, value),
    ts: timestamp === undefined ? runMicros : timestampCell(timestamp),
  };
}
