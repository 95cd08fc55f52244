/**
 * What a value must be to enter FStore, whichever way it comes (REST push, batch, Feast push, SQL
 * and file runs, streams): an entity id FStore can store and serve, a value of the feature's type
 * within the limits below, a timestamp in range. Written once here and called by every source, and
 * by the request schemas (schemas/common.ts), so reads refuse the ids writes refuse.
 * `null` is accepted for every type: it is an explicit "no value" (served as NULL_VALUE).
 *
 * The limits, and why (docs/api.md#limits):
 * - entity id: 1..256 UTF-8 bytes of well-formed Unicode without control characters, and not `.`
 *   or `..`. Bytes, not characters: the id becomes part of a KV key (`v2:<group>:<entity>`, at most
 *   512 bytes, with a group name of at most 128) and of URLs; a lone surrogate cannot be encoded as
 *   UTF-8 at all (D1 would store bytes that never read back), and `.`/`..` cannot be written in a URL
 *   path (they are resolved away), so such an entity could be written but never read by id.
 * - value: at most 512 KiB as JSON (D1 stores at most 2 MB in one string and rows travel to D1 as
 *   JSON inside JSON, which can double their size); json values nested at most 32 levels deep (deeper
 *   values overflow the stack of whoever parses or prints them later); every number finite (JSON has
 *   no Infinity: `1e400` would silently become null); every string well-formed Unicode.
 */
import type { ValueType } from "../db/schema";

/** Longest entity id, in UTF-8 bytes (ASCII ids: the REST contract's 256 characters). */
export const MAX_ENTITY_ID_BYTES = 256;
/** Largest value, in UTF-8 bytes of its JSON encoding. */
export const MAX_VALUE_BYTES = 512 * 1024;
/** Deepest nesting of arrays and objects in a value (`[[1]]` is 2 levels). */
export const MAX_VALUE_DEPTH = 32;

const encoder = new TextEncoder();
/** UTF-8 length of well-formed text. */
const utf8Bytes = (text: string) => encoder.encode(text).byteLength;
/**
 * Whether `text` takes more than `max` bytes of UTF-8. A UTF-16 code unit is at most 3 bytes of
 * UTF-8, so text of at most max / 3 code units is never encoded (most ids and values).
 */
const overUtf8Bytes = (text: string, max: number) => text.length * 3 > max && utf8Bytes(text) > max;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this matches
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

/** Whether `text` is well-formed Unicode (encodable as UTF-8): no lone surrogate. */
export const isWellFormed = (text: string) => !LONE_SURROGATE.test(text);

/** `text` with each lone surrogate replaced by U+FFFD, for messages that quote input. */
export const toWellFormed = (text: string) => text.replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD");

/** Why `entityId` cannot be stored, or null when it can. */
export function checkEntityId(entityId: unknown): string | null {
  if (typeof entityId !== "string") return "entity_id must be a string";
  if (entityId === "") return "entity_id must not be empty";
  // Checked on characters first, so a huge id is refused without encoding it.
  if (entityId.length > MAX_ENTITY_ID_BYTES || overUtf8Bytes(entityId, MAX_ENTITY_ID_BYTES)) {
    return `entity_id must be at most ${MAX_ENTITY_ID_BYTES} bytes of UTF-8 (got ${entityId.length > 4 * MAX_ENTITY_ID_BYTES ? `${entityId.length} characters` : `${utf8Bytes(entityId)} bytes`})`;
  }
  if (!isWellFormed(entityId)) return "entity_id must be valid Unicode text (it holds a lone UTF-16 surrogate, which UTF-8 cannot encode)";
  if (CONTROL.test(entityId)) return "entity_id must not contain control characters (U+0000-U+001F, U+007F-U+009F)";
  if (entityId === "." || entityId === "..") return "entity_id must not be '.' or '..' (a URL path cannot carry them)";
  return null;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

const checks: Record<ValueType, { ok: (v: unknown) => boolean; expected: string }> = {
  float: { ok: isFiniteNumber, expected: "a finite number" },
  int: { ok: (v) => Number.isSafeInteger(v), expected: "an integer between -(2^53-1) and 2^53-1" },
  string: { ok: (v) => typeof v === "string", expected: "a string" },
  bool: { ok: (v) => typeof v === "boolean", expected: "true or false" },
  float_list: { ok: (v) => Array.isArray(v) && v.every(isFiniteNumber), expected: "an array of finite numbers" },
  json: { ok: () => true, expected: "any JSON value" },
};

/**
 * Why a JSON-like value breaks the limits (depth, finite numbers, well-formed strings and keys,
 * only JSON types), or null. Iterative, so a value nested 100,000 levels deep is refused rather
 * than overflowing the stack here.
 */
export function checkJsonShape(value: unknown): string | null {
  // A number, boolean or null (most values) needs no walk.
  if (value === null || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return null;
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (v === null || typeof v === "boolean") continue;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return `numbers must be finite (JSON has no ${v}; a literal such as 1e400 is out of range of a 64-bit float)`;
      continue;
    }
    if (typeof v === "string") {
      if (!isWellFormed(v)) return "strings must be valid Unicode text (one holds a lone UTF-16 surrogate, which UTF-8 cannot encode)";
      continue;
    }
    if (typeof v !== "object") return `a value must be JSON (got a ${typeof v})`;
    if (depth >= MAX_VALUE_DEPTH) return `a value may nest arrays and objects at most ${MAX_VALUE_DEPTH} levels deep`;
    if (Array.isArray(v)) {
      for (const item of v) stack.push({ v: item, depth: depth + 1 });
      continue;
    }
    for (const [key, item] of Object.entries(v)) {
      if (!isWellFormed(key)) return "object keys must be valid Unicode text (one holds a lone UTF-16 surrogate)";
      stack.push({ v: item, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * The value encoded for storage: JSON text within the limits, or why it cannot be stored. The one
 * way values become the text D1 keeps, so what is checked is exactly what is written.
 */
export function encodeValue(type: ValueType, value: unknown): { json: string } | { error: string } {
  if (value === null) return { json: "null" };
  const check = checks[type];
  if (!check.ok(value)) return { error: `value must be ${check.expected} for a feature of type ${type}, got ${describe(value)}` };
  const shape = checkJsonShape(value);
  if (shape) return { error: `value: ${shape}` };
  // A string longer than the limit in characters is refused without encoding it.
  const json = typeof value === "string" && value.length > MAX_VALUE_BYTES ? null : JSON.stringify(value);
  if (json === null || overUtf8Bytes(json, MAX_VALUE_BYTES)) return { error: `value must be at most ${MAX_VALUE_BYTES} bytes as JSON (${MAX_VALUE_BYTES / 1024} KiB)` };
  return { json };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return `${value} (not a finite number)`;
  if (typeof value === "number" && !Number.isInteger(value)) return `the number ${value}`;
  if (typeof value === "number" && !Number.isSafeInteger(value)) return `the integer ${value}, past 2^53`;
  return typeof value === "string" ? "a string" : typeof value === "object" ? "an object" : String(value);
}
