/**
 * Reading a stored value back. Values are written as JSON by the one write path, within its limits
 * (ingest/rules.ts), but D1 may hold rows written before those limits existed — a json value nested
 * 100,000 levels deep, or text that is not JSON at all — and a read must never fail on them: every
 * reader decodes through here. Such a value is served as null and logged (feature and entity are
 * the caller's to name; the value itself is never logged).
 */

/** Nesting served as is: far deeper than writes allow (32), shallow enough for any JSON printer's stack. */
const MAX_SERVED_DEPTH = 512;

/** Whether JSON `text` nests arrays/objects deeper than `max` (a linear scan that never recurses). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/** The value stored as JSON `text`, or null (logged) when it cannot be served. */
export function decodeStoredValue(text: string | null, where = "a stored value"): unknown {
  if (text === null) return null;
  if (nestsDeeperThan(text, MAX_SERVED_DEPTH)) {
    console.warn(`${where} nests deeper than ${MAX_SERVED_DEPTH} levels (written before FStore's limits); served as null`);
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    console.warn(`${where} is not valid JSON (written before FStore's limits, or edited in D1); served as null`);
    return null;
  }
}

/** A value already parsed (e.g. from a KV vector cached before the limits existed), or null (logged) when it nests too deeply to serve. */
export function servableValue(value: unknown, where = "a cached value"): unknown {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_SERVED_DEPTH) {
      console.warn(`${where} nests deeper than ${MAX_SERVED_DEPTH} levels (written before FStore's limits); served as null`);
      return null;
    }
    for (const item of Array.isArray(v) ? v : Object.values(v)) if (item !== null && typeof item === "object") stack.push([item, depth + 1]);
  }
  return value;
}
