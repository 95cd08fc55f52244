/**
 * Reading the dashboard's query strings and forms with zod. Empty form fields count as absent,
 * and a failure becomes a list of plain sentences the page shows above its (unchanged) data.
 */
import { z } from "@hono/zod-openapi";

/** An optional field where an empty input means "not given". */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

export type Parsed<T> = { ok: true; data: T } | { ok: false; errors: string[] };

export function parseWith<T extends z.ZodType>(schema: T, input: unknown): Parsed<z.infer<T>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)) };
}

/** Page size: `limit` from 1 to `max`, `fallback` when absent. */
export const pageSize = (fallback: number, max: number) =>
  z.preprocess((v) => (v === "" || v === undefined ? fallback : v), z.coerce.number().int().min(1).max(max, `at most ${max} per page`));
