/**
 * Runs: `POST /api/v1/features/{id}/materialize` starts one now (write scope), `GET /api/v1/runs`
 * lists runs across features (filters, cursor paging), `GET /api/v1/features/{id}/runs` one
 * feature's runs, `GET /api/v1/runs/{id}` one run and `GET /api/v1/runs/{id}/files` a file run's
 * per-file results. With `?wait=true` the run executes in the request and the finished run is
 * returned (200); otherwise it is queued on the jobs queue (202).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { getFeature } from "../registry/features";
import { FeatureRef } from "../registry/refs";
import { listingOf } from "../runs/file-source";
import { executeRun, startRun } from "../runs/lifecycle";
import { getRun, listRuns } from "../runs/records";
import { hasRuns } from "../runs/sources";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { FeatureIdParam } from "../schemas/feature";
import { Run, RunFiles, RunIdParam, RunList, RunListQuery } from "../schemas/run";
import { parseTimestamp } from "../time";
import { errorHook } from "../validation";

const tags = ["runs"];
const security = [{ bearerAuth: [] }];

export const runRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/features/{id}/materialize",
      tags,
      security,
      summary: "Run a SQL or file feature now (write)",
      middleware: [requireScope("write")] as const,
      request: {
        params: FeatureIdParam,
        query: z.object({ wait: z.enum(["true", "false"]).default("false").openapi({ description: "Execute in this request and return the finished run" }) }),
      },
      responses: {
        200: jsonResponse(Run, "The finished run (wait=true); see its status and error"),
        202: jsonResponse(Run, "Queued"),
        400: errors[400],
        404: errors[404],
        409: errors[409],
        ...authErrors,
      },
    }),
    async (c) => {
      const feature = await getFeature(c.env.DB, c.req.valid("param").id);
      if (!hasRuns(feature.sourceType)) throw new ApiError("BAD_REQUEST", `feature '${feature.name}' has no SQL query or file path to materialize`);
      const runId = await startRun(c.env.DB, feature, "manual");
      if (!runId) throw new ApiError("RUN_IN_PROGRESS", `a run of feature '${feature.name}' is already in progress`);
      if (c.req.valid("query").wait === "true") {
        const run = await executeRun(c.env, runId, { inline: true });
        return c.json(run ?? (await getRun(c.env.DB, runId)), 200);
      }
      await enqueueJobs(c.env.JOBS, [{ type: "materialize", run_id: runId }]);
      return c.json(await getRun(c.env.DB, runId), 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/runs",
      tags,
      security,
      summary: "Runs across all features, newest first (filter by status, trigger, feature, time; paginated by cursor)",
      middleware: [requireScope("read")] as const,
      request: { query: RunListQuery.extend({ feature: FeatureRef.optional().openapi({ description: "Only this feature's runs (its name, or group:name)" }) }) },
      responses: { 200: jsonResponse(RunList, "One page of runs"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const featureId = q.feature === undefined ? undefined : (await getFeature(c.env.DB, q.feature)).id;
      const since = q.since === undefined ? undefined : Number((parseTimestamp(q.since) as bigint) / 1000n);
      const page = await listRuns(c.env.DB, { featureId, status: q.status, trigger: q.trigger, since, limit: q.limit, cursor: q.cursor });
      return c.json({ runs: page.runs, next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{id}/runs",
      tags,
      security,
      summary: "A feature's runs, newest first",
      middleware: [requireScope("read")] as const,
      request: { params: FeatureIdParam, query: RunListQuery },
      responses: { 200: jsonResponse(RunList, "One page of the feature's runs"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const feature = await getFeature(c.env.DB, c.req.valid("param").id);
      const q = c.req.valid("query");
      const since = q.since === undefined ? undefined : Number((parseTimestamp(q.since) as bigint) / 1000n);
      const page = await listRuns(c.env.DB, { featureId: feature.id, status: q.status, trigger: q.trigger, since, limit: q.limit, cursor: q.cursor });
      return c.json({ runs: page.runs, next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}",
      tags,
      security,
      summary: "One run: status, trigger, rows read/written/unchanged, duration, watermark, error",
      middleware: [requireScope("read")] as const,
      request: { params: RunIdParam },
      responses: { 200: jsonResponse(Run, "The run"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(await getRun(c.env.DB, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/files",
      tags,
      security,
      summary: "Per-file results of a data-lake run: status, rows and error of each file",
      middleware: [requireScope("read")] as const,
      request: {
        params: RunIdParam,
        query: z.object({ status: z.enum(["pending", "reading", "ingested", "failed"]).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
      },
      responses: { 200: jsonResponse(RunFiles, "The run's files"), 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { status, limit } = c.req.valid("query");
      const run = await getRun(c.env.DB, id); // 404 for an unknown run
      const state = await c.env.DB.prepare("SELECT cursor FROM runs WHERE id = ?1").bind(id).first<{ cursor: string | null }>();
      const listing = listingOf(state?.cursor ? JSON.parse(state.cursor) : null);
      const { results } = await c.env.DB.prepare(
        `SELECT key, etag, size, status, rows_read, rows_written, rows_unchanged, error, finished_at FROM run_files
          WHERE run_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY seq LIMIT ?3`,
      )
        .bind(id, status ?? null, limit)
        .all<{ finished_at: number | null } & Record<string, unknown>>();
      return c.json(
        {
          run_id: id,
          files_matched: listing.matched,
          files_skipped: listing.skipped,
          invocations: run.invocations,
          files: results.map((f) => ({ ...f, finished_at: f.finished_at === null ? null : new Date(f.finished_at).toISOString() })) as z.infer<typeof RunFiles>["files"],
        },
        200,
      );
    },
  );
