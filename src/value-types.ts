/**
 * Feature value types and the JSON a value is served as. The rules a value must follow to be
 * stored are in ingest/rules.ts.
 */
import type { ValueType } from "./db/schema";

export const valueTypes = ["float", "int", "string", "bool", "float_list", "json"] as const satisfies readonly ValueType[];

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
