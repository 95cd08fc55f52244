/** What every benchmark script shares: its settings from the environment, and how it prints numbers. */

/** An integer setting from the environment (the fallback when unset), refused outside [min, max]. */
export function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

/** A number with thousands separators and `digits` decimals. */
export const fmt = (n, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
