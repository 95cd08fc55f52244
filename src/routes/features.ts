/** Registry routes: `/api/v1/features` create, list, get, patch, delete. */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { assertScope, requireScope, scopeToDefine } from "../auth";
import type { AppEnv } from "../env";
import { createFeature, deleteFeature, featureToJson, getFeature, listFeatures, updateFeature } from "../registry/features";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { Feature, FeatureCreate, FeatureIdParam, FeatureList, FeatureListQuery, FeaturePatch, sourceFieldNames } from "../schemas/feature";
import { streamStatsOf } from "../streams/registry";
import { errorHook } from "../validation";

const tags = ["features"];

/** The source fields a request sets. */
const sourceOf = (input: Partial<Record<(typeof sourceFieldNames)[number], unknown>>) =>
  Object.fromEntries(sourceFieldNames.filter((k) => input[k] !== undefined).map((k) => [k, input[k]]));
const security = [{ bearerAuth: [] }];

export const featureRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/features",
      tags,
      security,
      summary: "Register a feature (write; admin for a feature bound to a source: query, path or topic)",
      middleware: [requireScope("write")] as const,
      request: { body: jsonBody(FeatureCreate) },
      responses: { 201: jsonResponse(Feature, "Registered"), 400: errors[400], 409: errors[409], ...authErrors },
    }),
    async (c) => {
      const input = c.req.valid("json");
      assertScope(c, scopeToDefine(sourceOf(input)), "register a feature bound to a source (query, path or topic)");
      const row = await createFeature(c.env.DB, input);
      return c.json(featureToJson(row), 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features",
      tags,
      security,
      summary: "List features (filter by group, entity, source type; paginated by cursor)",
      middleware: [requireScope("read")] as const,
      request: { query: FeatureListQuery },
      responses: { 200: jsonResponse(FeatureList, "One page of features"), 400: errors[400], ...authErrors },
    }),
    async (c) => {
      const { rows, nextCursor } = await listFeatures(c.env.DB, c.req.valid("query"));
      return c.json({ features: rows.map(featureToJson), next_cursor: nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{id}",
      tags,
      security,
      summary: "Get a feature definition",
      middleware: [requireScope("read")] as const,
      request: { params: FeatureIdParam },
      responses: { 200: jsonResponse(Feature, "The feature"), 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const row = await getFeature(c.env.DB, c.req.valid("param").id);
      // A stream feature also says how its stream is going (the counters of GET /api/v1/streams).
      const stats = row.sourceType === "stream" ? { stream_stats: await streamStatsOf(c.env.DB, row.id) } : {};
      return c.json({ ...featureToJson(row), ...stats }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/features/{id}",
      tags,
      security,
      summary: "Change a feature's description, ttl, tags, owner or source (write; admin for a feature bound to a source)",
      middleware: [requireScope("write")] as const,
      request: { params: FeatureIdParam, body: jsonBody(FeaturePatch) },
      responses: { 200: jsonResponse(Feature, "Updated"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const current = await getFeature(c.env.DB, c.req.valid("param").id);
      const patch = c.req.valid("json");
      // Both what the feature is and what it would become: neither binding nor unbinding a source is a write key's to do.
      for (const source of [current.source, { ...current.source, ...sourceOf(patch) }]) {
        assertScope(c, scopeToDefine(source), "change a feature bound to a source (query, path or topic)");
      }
      return c.json(featureToJson(await updateFeature(c.env.DB, current, patch)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/features/{id}",
      tags,
      security,
      summary: "Delete a feature and all its values (admin)",
      middleware: [requireScope("admin")] as const,
      request: { params: FeatureIdParam },
      responses: { 204: { description: "Deleted" }, 404: errors[404], ...authErrors },
    }),
    async (c) => {
      await deleteFeature(c.env.DB, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
