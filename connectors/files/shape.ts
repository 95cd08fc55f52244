/**
 * Turns a file row `[entity, value, timestamp]` into a staged row, converting what file formats
 * hold into the feature's value type: CSV cells are text (`"12.5"`, `"true"`, `""` = no value),
 * Parquet INT64 arrives as bigint and TIMESTAMP as Date. Timestamps may be RFC 3339 text, a Date,
 * or a number of seconds / milliseconds / microseconds since the epoch (told apart by size).
 * Problems name the row and the column; the run adds the file.
 */
import type { ValueType } from "../../src/db/schema";
import { checkValue } from "../../src/value-types";
import { coerceValue, timestampMicros, type ShapedRow } from "../shape";
import { FileError, type MappedColumns } from "./read";

function describe(raw: unknown): string {
  if (typeof raw === "string") return `'${raw.slice(0, 60)}'`;
  if (raw instanceof Uint8Array) return "binary data";
  if (typeof raw === "bigint") return raw.toString();
  return (JSON.stringify(raw) ?? String(raw)).slice(0, 60);
}

/** Epoch numbers: up to 1e11 are seconds (until year 5138), up to 1e14 milliseconds, beyond microseconds. */
function epochMicros(n: number): bigint | null {
  if (!Number.isFinite(n)) return null;
  const abs = Math.abs(n);
  if (abs < 1e11) return BigInt(Math.round(n * 1e6));
  if (abs < 1e14) return BigInt(Math.round(n * 1e3));
  return BigInt(Math.round(n));
}

/** The same rule for integers, in exact integer arithmetic. */
function epochMicrosBig(n: bigint): bigint {
  const abs = n < 0n ? -n : n;
  if (abs < 100_000_000_000n) return n * 1_000_000n;
  if (abs < 100_000_000_000_000n) return n * 1000n;
  return n;
}

export function fileTimestamp(raw: unknown): bigint | null {
  if (typeof raw === "number") return epochMicros(raw);
  if (typeof raw === "bigint") return epochMicrosBig(raw);
  if (typeof raw === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(raw)) return epochMicros(Number(raw));
  return timestampMicros(raw);
}

function fileValue(type: ValueType, raw: unknown): unknown {
  if (raw === undefined) return null;
  if (typeof raw === "string" && type !== "string") {
    const text = raw.trim();
    if (text === "") return null;
    if (type === "bool" && /^(true|false)$/i.test(text)) return text.toLowerCase() === "true";
    if (type === "json") {
      try {
        return JSON.parse(text);
      } catch {
        return raw;
      }
    }
    return coerceValue(type, text);
  }
  if (type === "float_list" && ArrayBuffer.isView(raw) && !(raw instanceof DataView)) return Array.from(raw as unknown as ArrayLike<number>, Number);
  if (type === "json" && typeof raw === "bigint") return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw.toString();
  return coerceValue(type, raw);
}

export function shapeFileRow(type: ValueType, raw: [unknown, unknown, unknown], rowNumber: number, columns: MappedColumns, runMicros: bigint): ShapedRow {
  const [rawEntity, rawValue, rawTs] = raw;
  if (rawEntity === null || rawEntity === undefined || rawEntity === "") throw new FileError(`row ${rowNumber}, column '${columns.entity}' (entity_column): empty`);
  let entityId: string;
  if (typeof rawEntity === "string") entityId = rawEntity;
  else if (typeof rawEntity === "number" || typeof rawEntity === "bigint") entityId = String(rawEntity);
  else throw new FileError(`row ${rowNumber}, column '${columns.entity}' (entity_column): expected text or an integer, got ${describe(rawEntity)}`);
  if (entityId.length > 256) throw new FileError(`row ${rowNumber}, column '${columns.entity}' (entity_column): longer than 256 characters`);

  const value = fileValue(type, rawValue);
  const problem = checkValue(type, value);
  if (problem) throw new FileError(`row ${rowNumber}, column '${columns.value}' (value_column): ${problem.replace(/, got .*$/, "")}, got ${describe(rawValue)}`);

  let ts = runMicros;
  if (rawTs !== undefined || columns.timestampRequired) {
    const parsed = rawTs === null || rawTs === undefined || rawTs === "" ? null : fileTimestamp(rawTs);
    if (parsed === null) throw new FileError(`row ${rowNumber}, column '${columns.timestamp}' (timestamp_column): ${describe(rawTs)} is not a date-time`);
    ts = parsed;
  }
  return { entityId, value: JSON.stringify(value), ts };
}
