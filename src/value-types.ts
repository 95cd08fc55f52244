/**
 * Feature value types, the check that a pushed value matches its feature's type, and the JSON a
 * value is served as.
 * `null` is accepted for every type: it is an explicit "no value" (served as NULL_VALUE).
 */
import type { ValueType } from "./db/schema";

export const valueTypes = ["float", "int", "string", "bool", "float_list", "json"] as const satisfies readonly ValueType[];

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

const checks: Record<ValueType, { ok: (v: unknown) => boolean; expected: string }> = {
  float: { ok: isFiniteNumber, expected: "a number" },
  int: { ok: (v) => Number.isSafeInteger(v), expected: "an integer" },
  string: { ok: (v) => typeof v === "string", expected: "a string" },
  bool: { ok: (v) => typeof v === "boolean", expected: "true or false" },
  float_list: { ok: (v) => Array.isArray(v) && v.every(isFiniteNumber), expected: "an array of numbers" },
  json: { ok: () => true, expected: "any JSON value" },
};

/** An error message when `value` does not fit `type`, otherwise null. */
export function checkValue(type: ValueType, value: unknown): string | null {
  if (value === null) return null;
  const check = checks[type];
  return check.ok(value) ? null : `value must be ${check.expected} for a feature of type ${type}, got ${describe(value)}`;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isInteger(value)) return `the number ${value}`;
  return typeof value === "string" ? "a string" : typeof value === "object" ? "an object" : String(value);
}

/** A float as JSON that always reads back as a float: `1.0`, not `1` (and `-0.0` for -0). */
export function floatJson(n: number): string {
  const text = JSON.stringify(n);
  if (!/^-?\d+$/.test(text)) return text; // already has a fraction or an exponent (1.5, 1e+21)
  return Object.is(n, -0) ? "-0.0" : `${text}.0`;
}

/**
 * A value of `type` as FStore serves it: its JSON, except that floats always carry a fraction
 * (`1.0`, `[1.0, 2.5]`). Clients that infer types from JSON — Feast's remote online store, Python's
 * json module, pandas — then read a float feature as a float even when its value is whole.
 */
export function servedJson(type: ValueType, value: unknown): string {
  if (value === null) return "null";
  if (type === "float" && typeof value === "number") return floatJson(value);
  if (type === "float_list" && Array.isArray(value)) return `[${value.map((v) => (typeof v === "number" ? floatJson(v) : JSON.stringify(v))).join(",")}]`;
  return JSON.stringify(value);
}
