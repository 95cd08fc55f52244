/**
 * Materialization runs: `POST /api/v1/features/{id}/materialize` starts one now (write scope),
 * `GET /api/v1/features/{id}/runs` lists a feature's runs, `GET /api/v1/runs/{id}` shows one.
 * With `?wait=true` the run executes in the request and the finished run is returned (200);
 * otherwise it is queued on the jobs queue (202).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { enqueueJobs } from "../jobs/messages";
import { executeFileRun } from "../lake/run";
import { executeRun, getRun, listRuns, startRun } from "../materialize/run";
import { getFeature } from "../registry/features";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { FeatureIdParam } from "../schemas/feature";
import { errorHook } from "../validation";

const tags = ["runs"];
const security = [{ bearerAuth: [] }];

const Run = z
  .object({
    id: z.string(),
    feature_id: z.string(),
    status: z.enum(["queued", "running", "succeeded", "failed"]),
    trigger: z.enum(["schedule", "manual"]),
    rows_read: z.number().int(),
    rows_written: z.number().int(),
    rows_unchanged: z.number().int().openapi({ description: "Rows equal to the entity's latest value, not written again" }),
    duration_ms: z.number().int().nullable(),
    watermark: z.string().nullable().openapi({ description: "Greatest timestamp committed; `:since` of the next run" }),
    error: z.string().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("Run");

export const runRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/features/{id}/materialize",
      tags,
      security,
      summary: "Run a SQL feature's query now (write)",
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
      if (feature.sourceType !== "sql" && feature.sourceType !== "file") {
        throw new ApiError("BAD_REQUEST", `feature '${feature.name}' has no SQL query or file path to materialize`);
      }
      const runId = await startRun(c.env.DB, feature, "manual");
      if (!runId) throw new ApiError("RUN_IN_PROGRESS", `a run of feature '${feature.name}' is already in progress`);
      if (c.req.valid("query").wait === "true") {
        const run = feature.sourceType === "file" ? await executeFileRun(c.env, feature, runId, { inline: true }) : await executeRun(c.env, feature, runId);
        return c.json(run, 200);
      }
      await enqueueJobs(c.env.JOBS, [{ type: "materialize", run_id: runId }]);
      return c.json(await getRun(c.env.DB, runId), 202);
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
      request: { params: FeatureIdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) }) },
      responses: { 200: jsonResponse(z.object({ runs: z.array(Run) }), "Runs"), 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const feature = await getFeature(c.env.DB, c.req.valid("param").id);
      return c.json({ runs: await listRuns(c.env.DB, feature.id, c.req.valid("query").limit) }, 200);
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
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) }) },
      responses: { 200: jsonResponse(Run, "The run"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(await getRun(c.env.DB, c.req.valid("param").id), 200),
  );
