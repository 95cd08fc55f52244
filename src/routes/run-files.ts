/**
 * Per-file results of a data-lake run: `GET /api/v1/runs/{id}/files` lists the files the run
 * read, each with its status, rows and error, plus how many files matched the path and how many
 * were skipped because their ETag was already ingested.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { getRun } from "../materialize/run";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { errorHook } from "../validation";

const RunFile = z
  .object({
    key: z.string(),
    etag: z.string(),
    size: z.number().int(),
    status: z.enum(["pending", "reading", "ingested", "failed"]),
    rows_read: z.number().int(),
    rows_written: z.number().int(),
    rows_unchanged: z.number().int(),
    error: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("RunFile");

const RunFiles = z
  .object({
    run_id: z.string(),
    files_matched: z.number().int().openapi({ description: "Files the path matched" }),
    files_skipped: z.number().int().openapi({ description: "Matched files already ingested with the same ETag" }),
    invocations: z.number().int().openapi({ description: "Worker invocations the run has taken (a large run is continued through the jobs queue)" }),
    files: z.array(RunFile).openapi({ description: "The files this run read (new or changed), in reading order" }),
  })
  .openapi("RunFiles");

interface RunFileRow {
  key: string;
  etag: string;
  size: number;
  status: "pending" | "reading" | "ingested" | "failed";
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  error: string | null;
  finished_at: number | null;
}

export const runFileRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook }).openapi(
  createRoute({
    method: "get",
    path: "/runs/{id}/files",
    tags: ["runs"],
    security: [{ bearerAuth: [] }],
    summary: "Per-file results of a data-lake run: status, rows and error of each file",
    middleware: [requireScope("read")] as const,
    request: {
      params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) }),
      query: z.object({ status: z.enum(["pending", "reading", "ingested", "failed"]).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
    },
    responses: { 200: jsonResponse(RunFiles, "The run's files"), 404: errors[404], ...authErrors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { status, limit } = c.req.valid("query");
    await getRun(c.env.DB, id); // 404 for an unknown run
    const counts = await c.env.DB.prepare("SELECT files_matched, files_skipped, invocations FROM lake_runs WHERE run_id = ?1")
      .bind(id)
      .first<{ files_matched: number; files_skipped: number; invocations: number }>();
    const { results } = await c.env.DB.prepare(
      `SELECT key, etag, size, status, rows_read, rows_written, rows_unchanged, error, finished_at FROM run_files
        WHERE run_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY seq LIMIT ?3`,
    )
      .bind(id, status ?? null, limit)
      .all<RunFileRow>();
    return c.json(
      {
        run_id: id,
        files_matched: counts?.files_matched ?? 0,
        files_skipped: counts?.files_skipped ?? 0,
        invocations: counts?.invocations ?? 0,
        files: results.map((f) => ({ ...f, finished_at: f.finished_at === null ? null : new Date(f.finished_at).toISOString() })),
      },
      200,
    );
  },
);
