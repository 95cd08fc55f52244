/** Online vectors for many entities, and feature groups as first-class objects. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { featureToJson } from "../registry/features";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { FeatureGroup, FeatureGroupDetail, HistoricalRequest, OnlineRequest, OnlineResponse } from "../schemas/online";
import { pointInTime } from "../serving/historical";
import { contentTypes, encodeTraining, negotiateFormat } from "../serving/training-output";
import { ApiError } from "../errors";
import { usageOf } from "../invocation";
import { catalogRef, distinctFeatures, groupFeatures, loadCatalog, resolveRefs } from "../serving/catalog";
import { readOnline } from "../serving/online";
import { onlineBody } from "../serving/online-json";
import { nowMicros, parseTimestamp } from "../time";
import { errorHook } from "../validation";

const security = [{ bearerAuth: [] }];

export const onlineRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/online-features",
      tags: ["online"],
      security,
      summary: "Latest feature vectors for up to 1,000 entities",
      description:
        "One KV read per (feature group, entity), in bulk reads of 100 issued concurrently; D1 answers what KV misses and KV is filled in the background (`X-FStore-Cache: hit | miss`). Each value has a status: PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE (older than the feature's ttl; value null) or NULL_VALUE. Float values always carry a fraction (`1.0`). A feature asked for twice is answered once. Features are keyed by their ref: the name, or `group:name` when several feature groups have that name; a bare name several groups have is a 400 AMBIGUOUS_FEATURE.",
      middleware: [requireScope("read")] as const,
      request: { body: jsonBody(OnlineRequest) },
      responses: { 200: jsonResponse(OnlineResponse, "One result per entity, in request order"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const usage = usageOf(c.env);
      const catalog = await usage.phaseAsync("registry", () => loadCatalog(c.env.DB));
      const features = usage.phase("registry", () => distinctFeatures(body.features ? resolveRefs(catalog, body.features) : groupFeatures(catalog, body.feature_group as string)));
      const read = await readOnline(c.env, features, body.entity_ids, (p) => c.executionCtx.waitUntil(p));
      const text = usage.phase("encode", () => onlineBody(read, features, features.map((f) => catalogRef(catalog, f)), body.entity_ids, nowMicros()));
      c.header("X-FStore-Cache", read.fromD1 === 0 ? "hit" : "miss");
      // The body is the route's JSON schema, built as text; the typed c.json() cannot take text.
      return c.body(text, 200, { "content-type": "application/json" }) as never;
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/feature-groups",
      tags: ["online"],
      security,
      summary: "Feature groups: name, entity and feature names",
      middleware: [requireScope("read")] as const,
      responses: { 200: jsonResponse(z.object({ feature_groups: z.array(FeatureGroup) }), "All groups"), ...authErrors },
    }),
    async (c) => {
      const catalog = await loadCatalog(c.env.DB);
      // Names within a group are unique: each group lists its features by name.
      const groups = [...catalog.byGroup.entries()].map(([name, rows]) => ({ name, entity: rows[0]?.entityId ?? "", features: rows.map((r) => r.name) }));
      return c.json({ feature_groups: groups }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/feature-groups/{name}",
      tags: ["online"],
      security,
      summary: "One feature group with its feature definitions",
      middleware: [requireScope("read")] as const,
      request: { params: z.object({ name: z.string().min(1).max(128).openapi({ param: { name: "name", in: "path" } }) }) },
      responses: { 200: jsonResponse(FeatureGroupDetail, "The group"), 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const catalog = await loadCatalog(c.env.DB);
      const rows = groupFeatures(catalog, name);
      return c.json({ name, entity: rows[0]?.entityId ?? "", features: rows.map((r) => featureToJson(r, catalogRef(catalog, r) !== r.name)) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/historical-features",
      tags: ["training"],
      security,
      summary: "Point-in-time correct training set for up to 100,000 entity rows (JSON, CSV or Parquet)",
      description:
        "For each entity row, the value each feature had at the row's timestamp: the latest value at or before it, null when there is none or it is older than the feature's ttl. The body is streamed. Pick the format with `format` or the Accept header (text/csv, application/vnd.apache.parquet). Types are kept: floats carry a fraction in JSON and CSV (`1.0`); in CSV an empty field is null and `\"\"` the empty string; Parquet columns are DOUBLE, INT64, STRING, BOOLEAN, LIST<DOUBLE> (float_list) and JSON, the timestamp TIMESTAMP(MICROS, UTC). A feature may be asked for once.",
      middleware: [requireScope("read")] as const,
      request: { body: jsonBody(HistoricalRequest) },
      responses: {
        200: {
          description: "One row per entity row, in request order: entity_id, timestamp, then one column per feature",
          content: {
            "application/json": { schema: z.object({ features: z.array(z.string()), rows: z.array(z.record(z.string(), z.unknown())) }) },
            "text/csv": { schema: z.string() },
            "application/vnd.apache.parquet": { schema: z.string().openapi({ format: "binary" }) },
          },
        },
        400: errors[400],
        404: errors[404],
        ...authErrors,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const catalog = await loadCatalog(c.env.DB);
      const features = resolveRefs(catalog, body.features);
      // One column per feature: the same feature twice (as `name` and `group:name`, say) is an error, not two columns of one name.
      const twice = features.find((f, i) => features.findIndex((g) => g.id === f.id) !== i);
      if (twice) {
        const refs = body.features.filter((_, i) => features[i]?.id === twice.id);
        throw new ApiError("VALIDATION_FAILED", `feature '${twice.name}' is asked for more than once (${refs.map((r) => `'${r}'`).join(", ")}); a training set has one column per feature`, {
          duplicates: refs,
        });
      }
      const clash = features.find((f) => f.name === "entity_id" || f.name === "timestamp");
      if (clash) throw new ApiError("VALIDATION_FAILED", `feature '${clash.name}' collides with the entity_id/timestamp columns of a training set`);
      const format = negotiateFormat(body.format, c.req.header("accept"));
      const rows = body.entity_rows.map((r) => ({ entityId: r.entity_id, ts: parseTimestamp(r.timestamp) as bigint }));
      const stream = encodeTraining(format, features, features.map((f) => catalogRef(catalog, f)), pointInTime(c.env.DB, features, rows));
      return new Response(stream, { status: 200, headers: { "content-type": contentTypes[format] } }) as never;
    },
  );
