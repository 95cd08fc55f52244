/** How the dashboard writes numbers, sizes, ages, durations and feature values. */
import { LargeValue } from "./data";

export const int = (n: number) => n.toLocaleString("en-US");

/** `4s`, `12m`, `3h`, `2d` — the largest unit that fits. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A run's duration: milliseconds under a second, then seconds and minutes. */
export function duration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A ttl in seconds as the shortest exact duration (`7d`, `90m`, `45s`). */
export function ttl(seconds: number | null): string {
  if (seconds === null) return "none";
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** Text cut to `max` characters. */
export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A value as JSON text (strings quoted, so `"1"` and `1` differ), cut to `max` characters. */
export function showValue(value: unknown, max = 120): string {
  if (value instanceof LargeValue) return `(${bytes(value.bytes)} value, not shown)`;
  return clip(JSON.stringify(value) ?? "null", max);
}

/** A numeric reading of a value for a chart: numbers as they are, booleans as 0/1, else null. */
export function numeric(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return null;
}

/** Short UTC date and time for axis labels: `02-20 22:39`. */
export const shortTime = (ms: number) => new Date(ms).toISOString().slice(5, 16).replace("T", " ");

/** A number in few characters for an axis label. */
export function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return n.toExponential(2);
  return Number(n.toPrecision(4)).toString();
}
