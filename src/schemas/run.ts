/** Run request and response bodies. */
import { z } from "@hono/zod-openapi";
import { Timestamp } from "./common";

export const Run = z
  .object({
    id: z.string(),
    feature_id: z.string(),
    source_type: z.string().openapi({ description: "sql or file" }),
    status: z.enum(["queued", "running", "succeeded", "failed"]),
    trigger: z.enum(["schedule", "manual"]),
    rows_read: z.number().int(),
    rows_written: z.number().int(),
    rows_unchanged: z.number().int().openapi({ description: "Rows already in history with the same value at the same timestamp, not written again" }),
    duration_ms: z.number().int().nullable(),
    watermark: z.string().nullable().openapi({ description: "Greatest value timestamp committed; `:since` of the next run" }),
    error: z.string().nullable(),
    invocations: z.number().int().openapi({ description: "Worker invocations the run has taken (a large run continues through the jobs queue)" }),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("Run");

export const RunList = z.object({ runs: z.array(Run), next_cursor: z.string().nullable() }).openapi("RunList");

export const RunListQuery = z.object({
  status: z.enum(["queued", "running", "succeeded", "failed"]).optional(),
  trigger: z.enum(["schedule", "manual"]).optional(),
  since: Timestamp.optional().openapi({ description: "Only runs created at or after this time" }),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(200).optional().openapi({ description: "next_cursor from the previous page" }),
});

export const RunIdParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

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

export const RunFiles = z
  .object({
    run_id: z.string(),
    files_matched: z.number().int().openapi({ description: "Files the path matched" }),
    files_skipped: z.number().int().openapi({ description: "Matched files already ingested with the same ETag" }),
    invocations: z.number().int().openapi({ description: "Worker invocations the run has taken (a large run is continued through the jobs queue)" }),
    files: z.array(RunFile).openapi({ description: "The files this run read (new or changed), in reading order" }),
  })
  .openapi("RunFiles");
