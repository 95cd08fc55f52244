/**
 * Timestamps. Values carry integer microseconds since the epoch as `bigint`: the range FStore
 * accepts, 0001-01-01 to 9999-12-31, needs 59 bits, and a JS number is exact only to 2^53 (the year
 * 2255). D1 cannot bind a bigint, so microseconds travel to D1 as decimal digits (inside JSON, or as
 * text, which an INTEGER column stores as an exact 64-bit integer) and come back with
 * `CAST(ts AS TEXT)` (see storage/). The API speaks RFC 3339.
 *
 * Accepted input is RFC 3339 with any offset and what Python's `datetime.isoformat()` prints:
 * no zone means UTC, fractions up to 9 digits (nanoseconds are truncated to the microsecond), `T`
 * or a space.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** Microseconds since the epoch, exact over the whole accepted range. */
export type Micros = bigint;

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: what `datetime.min`/`datetime.max` print. */
export const MIN_MICROS: Micros = -62_135_596_800_000_000n;
export const MAX_MICROS: Micros = 253_402_300_799_999_999n;

/** Microseconds since the epoch, or null when `text` is not a valid timestamp in 0001..9999 (UTC). */
export function parseTimestamp(text: string): Micros | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return null;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years 0001-0099 as they are.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return null; // e.g. 2024-02-30
  date.setUTCHours(hour, minute, Math.min(second, 59), 0); // a leap second is read as :59
  let offsetMinutes = 0;
  if (sign) {
    if (Number(oh) > 23 || Number(om) > 59) return null;
    offsetMinutes = (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om));
  }
  const micros = frac ? BigInt(frac.padEnd(6, "0").slice(0, 6)) : 0n;
  const us = BigInt(date.getTime() - offsetMinutes * 60_000) * 1000n + micros;
  return us < MIN_MICROS || us > MAX_MICROS ? null : us;
}

/** Whether `us` lies in the range FStore stores (0001-01-01 .. 9999-12-31 UTC). */
export const inRange = (us: Micros) => us >= MIN_MICROS && us <= MAX_MICROS;

/** RFC 3339 in UTC with a `Z`; microseconds are shown only when present. */
export function formatTimestamp(us: Micros): string {
  let ms = us / 1000n;
  if (us % 1000n < 0n) ms -= 1n; // floor, not truncation, before 1970
  const sub = Number(us - ms * 1000n);
  const iso = new Date(Number(ms)).toISOString(); // 2024-02-20T22:39:38.123Z
  if (sub === 0 && iso.endsWith(".000Z")) return `${iso.slice(0, 19)}Z`;
  return `${iso.slice(0, 23)}${String(sub).padStart(3, "0")}Z`;
}

export function nowMicros(): Micros {
  return BigInt(Date.now()) * 1000n;
}

/** Milliseconds (Date.now() style) as microseconds. */
export const msToMicros = (ms: number): Micros => BigInt(Math.round(ms)) * 1000n;

/** Microseconds stored in D1 and read back as text (`CAST(ts AS TEXT)`), or as a safe number. */
export const microsOf = (stored: string | number | bigint): Micros => BigInt(stored);

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** `30s`, `5m`, `1h`, `1d`, `2w` → seconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : null;
}

/** Whether a value observed at `ts` is past `ttlSeconds` at `now` (null ttl: never). */
export function isExpired(ts: Micros, ttlSeconds: number | null, now: Micros): boolean {
  return ttlSeconds !== null && now - ts > BigInt(ttlSeconds) * 1_000_000n;
}
