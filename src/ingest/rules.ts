/**
 * What a value must be to enter FStore, whichever way it comes (REST push, batch, Feast push, SQL
 * and file runs, streams): an entity id FStore can store and serve, a value of the feature's type,
 * a timestamp in range. Written once here and called by every source.
 * `null` is accepted for every type: it is an explicit "no value" (served as NULL_VALUE).
 */
import type { ValueType } from "../db/schema";

/** Longest entity id, in characters (the REST contract's limit). */
export const MAX_ENTITY_ID_CHARS = 256;

/** Why `entityId` cannot be stored, or null when it can. */
export function checkEntityId(entityId: string): string | null {
  if (entityId === "") return "entity_id must not be empty";
  if (entityId.length > MAX_ENTITY_ID_CHARS) return `entity_id must be at most ${MAX_ENTITY_ID_CHARS} characters`;
  return null;
}

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
