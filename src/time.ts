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

/** Days in each month of a common year. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil; exact in numbers). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/**
 * Microseconds since the epoch, or null when `text` is not a valid timestamp in 0001..9999 (UTC).
 * Plain arithmetic rather than a Date per call (batches parse thousands): milliseconds over the
 * whole range stay below 2^53, so they are exact as a number; only the microseconds need a bigint.
 */
export function parseTimestamp(text: string): Micros | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  // Indexed, not destructured: destructuring walks the match's iterator, the slowest part here.
  const year = Number(m[1]), month = Number(m[2]), day = Number(m[3]);
  const hour = Number(m[4]), minute = Number(m[5]), second = Number(m[6]);
  const frac = m[7], sign = m[9], oh = m[10], om = m[11];
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return null;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (MONTH_DAYS[month - 1] as number);
  if (day < 1 || day > monthDays) return null; // e.g. 2024-02-30
  let offsetMinutes = 0;
  if (sign) {
    if (Number(oh) > 23 || Number(om) > 59) return null;
    offsetMinutes = (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om));
  }
  // A leap second is read as :59.
  const ms = daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + Math.min(second, 59) * 1000 - offsetMinutes * 60_000;
  const us = BigInt(ms) * 1000n + (frac ? BigInt(frac.padEnd(6, "0").slice(0, 6)) : 0n);
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
