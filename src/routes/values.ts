/**
 * The guide's REST contract: push one value, push a batch (all or nothing), read the latest
 * value (KV first, D1 on a miss) and read history.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { batchError, commitValues, prepareBatch, toRow, type ItemError } from "../ingest/write";
import { getFeature } from "../registry/features";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { FeatureIdParam } from "../schemas/feature";
import { Batch, BatchItem, BatchResult, History, HistoryQuery, LatestValue, ValuePathParams, ValuePush, WrittenValue } from "../schemas/value";
import { readVector, refreshVectors } from "../storage/online-cache";
import { servableValue } from "../storage/stored-value";
import { readHistory, readLatest } from "../storage/values";
import { formatTimestamp, isExpired, microsOf, nowMicros, parseTimestamp } from "../time";
import { errorHook } from "../validation";

const tags = ["values"];
const security = [{ bearerAuth: [] }];

/** Schema errors of a batch, grouped per item so each bad item is named by its index. */
function schemaErrors(raw: unknown): ItemError[] | null {
  if (!Array.isArray(raw)) return null;
  const errors: ItemError[] = [];
  raw.forEach((item, index) => {
    const parsed = BatchItem.safeParse(item);
    if (!parsed.success) {
      errors.push({ index, errors: parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })) });
    }
  });
  return errors;
}

export const valueRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/features/batch",
      tags,
      security,
      summary: "Push many values at once (all or nothing, up to 10,000 items)",
      middleware: [requireScope("write")] as const,
      request: { body: jsonBody(Batch, "A JSON array of {feature_id, entity_id, value, timestamp}") },
      responses: { 200: jsonResponse(BatchResult, "All items written"), 400: errors[400], 413: errors[413], ...authErrors },
    }),
    async (c) => {
      const items = c.req.valid("json");
      const { rows, features } = await prepareBatch(c.env.DB, items);
      const groups = new Map([...features.values()].map((f) => [f.id, f.featureGroup]));
      await commitValues(c.env, rows, (id) => groups.get(id) as string);
      return c.json({ written: rows.length }, 200);
    },
    async (result, c) => {
      if (result.success) return;
      // Report schema errors and unknown features / wrong types of the other items together.
      const raw = (result as { data?: unknown }).data;
      const itemErrors = schemaErrors(raw);
      if (!itemErrors || itemErrors.length === 0 || !Array.isArray(raw) || raw.length > 10_000) return errorHook(result, c);
      const valid = raw.map((item, i) => (itemErrors.some((e) => e.index === i) ? { feature_id: "", entity_id: "", value: null } : item));
      await prepareBatch(c.env.DB, valid, itemErrors);
      throw batchError(itemErrors, raw.length);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/features/{id}/values",
      tags,
      security,
      summary: "Push one value of a feature",
      middleware: [requireScope("write")] as const,
      request: { params: FeatureIdParam, body: jsonBody(ValuePush) },
      responses: { 200: jsonResponse(WrittenValue, "Written"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const feature = await getFeature(c.env.DB, c.req.valid("param").id);
      const row = toRow(feature, c.req.valid("json"));
      if (typeof row === "string") throw new ApiError("INVALID_VALUE", row);
      await commitValues(c.env, [row], () => feature.featureGroup);
      return c.json({ feature_id: feature.name, entity_id: row.entityId, value: JSON.parse(row.value) as unknown, timestamp: formatTimestamp(row.ts) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{id}/values/{entity_id}",
      tags,
      security,
      summary: "Latest value of a feature for one entity",
      description: "Served from the KV online cache (header `X-FStore-Cache: hit`), falling back to D1 on a miss (`miss`). 404 with code VALUE_NOT_FOUND when the entity has no value, VALUE_EXPIRED when its latest value is older than the feature's ttl.",
      middleware: [requireScope("read")] as const,
      request: { params: ValuePathParams },
      responses: { 200: jsonResponse(LatestValue, "The latest value"), 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const { id, entity_id: entityId } = c.req.valid("param");
      const feature = await getFeature(c.env.DB, id);
      const cached = (await readVector(c.env.ONLINE, feature.featureGroup, entityId))?.f[feature.id];
      const latest = cached ? { value: servableValue(cached.v, `the cached value of feature ${feature.name}`), ts: microsOf(cached.t) } : await readLatest(c.env.DB, feature.id, entityId);
      if (!latest) throw new ApiError("VALUE_NOT_FOUND", `feature '${feature.name}' has no value for entity '${entityId}'`);
      if (!cached) c.executionCtx.waitUntil(refreshVectors(c.env.DB, c.env.ONLINE, [{ group: feature.featureGroup, entityId }]));
      if (isExpired(latest.ts, feature.ttlSeconds, nowMicros())) {
        throw new ApiError("VALUE_EXPIRED", `the latest value of '${feature.name}' for '${entityId}' is older than the feature's ttl (${feature.ttlSeconds}s)`, {
          timestamp: formatTimestamp(latest.ts),
          ttl: feature.ttlSeconds,
        });
      }
      c.header("X-FStore-Cache", cached ? "hit" : "miss");
      return c.json({ feature_id: feature.name, entity_id: entityId, value: latest.value, timestamp: formatTimestamp(latest.ts) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{id}/values",
      tags,
      security,
      summary: "History of a feature's values, newest first",
      middleware: [requireScope("read")] as const,
      request: { params: FeatureIdParam, query: HistoryQuery },
      responses: { 200: jsonResponse(History, "Values in the range"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const feature = await getFeature(c.env.DB, c.req.valid("param").id);
      const q = c.req.valid("query");
      const start = q.start === undefined ? undefined : (parseTimestamp(q.start) as bigint);
      const end = q.end === undefined ? undefined : (parseTimestamp(q.end) as bigint);
      if (start !== undefined && end !== undefined && start > end) throw new ApiError("VALIDATION_FAILED", "start must not be after end");
      const values = await readHistory(c.env.DB, feature.id, { entityId: q.entity_id, start, end, limit: q.limit });
      return c.json({ feature_id: feature.name, values }, 200);
    },
  );

