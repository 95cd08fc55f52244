/**
 * Timestamps. Values carry integer microseconds since the epoch; the API speaks RFC 3339.
 * Accepted input is RFC 3339 with any offset and what Python's `datetime.isoformat()` prints:
 * no zone means UTC, fractions up to 9 digits (kept to the microsecond), `T` or a space.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** Microseconds since the epoch, or null when `text` is not a valid timestamp. */
export function parseTimestamp(text: string): number | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return null; // e.g. 2024-02-30
  date.setUTCHours(hour, minute, Math.min(second, 59), 0); // a leap second is read as :59
  let offsetMinutes = 0;
  if (sign) {
    if (Number(oh) > 23 || Number(om) > 59) return null;
    offsetMinutes = (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om));
  }
  const micros = frac ? Number(frac.padEnd(6, "0").slice(0, 6)) : 0;
  return (date.getTime() - offsetMinutes * 60_000) * 1000 + micros;
}

/** RFC 3339 in UTC with a `Z`; microseconds are shown only when present. */
export function formatTimestamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-02-20T22:39:38.123Z
  const sub = micros - ms * 1000;
  const fraction = micros % 1_000_000;
  if (fraction === 0) return `${iso.slice(0, 19)}Z`;
  return `${iso.slice(0, 23)}${String(sub).padStart(3, "0")}Z`;
}

export function nowMicros(): number {
  return Date.now() * 1000;
}

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** `30s`, `5m`, `1h`, `1d`, `2w` → seconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : null;
}
