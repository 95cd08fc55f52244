/**
 * The guide's REST contract: push one value, push a batch (all or nothing), read the latest
 * value (KV first, D1 on a miss) and read history.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import type { FeatureRow } from "../db/schema";
import { ApiError } from "../errors";
import { batchError, commitValues, prepareBatch, toRow, writeBatch, type ItemError } from "../ingest/write";
import { refOf, resolveRef } from "../registry/refs";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { FeatureIdParam } from "../schemas/feature";
import { Batch, BatchItem, BatchResult, History, HistoryQuery, LatestValue, ValuePathParams, ValuePush, WrittenValue } from "../schemas/value";
import { usageOf } from "../invocation";
import { catalogRef, loadCatalog, resolveRefs } from "../serving/catalog";
import { readOnline } from "../serving/online";
import { readHistory } from "../storage/values";
import { formatTimestamp, isExpired, nowMicros, parseTimestamp } from "../time";
import { errorHook } from "../validation";
import { servedJson } from "../value-types";

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
      return c.json({ written: await writeBatch(c.env, c.req.valid("json")) }, 200);
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
      const usage = usageOf(c.env);
      const { row: feature, shared } = await usage.phaseAsync("registry", () => resolveRef(c.env.DB, c.req.valid("param").id));
      const row = usage.phase("validate", () => toRow(feature, c.req.valid("json")));
      if (typeof row === "string") throw new ApiError("INVALID_VALUE", row);
      await commitValues(c.env, [row], () => feature.featureGroup);
      // The value as it is served (a float keeps its fraction: 1.0).
      const value = servedJson(feature.valueType, JSON.parse(row.value));
      const text = `{"feature_id":${JSON.stringify(refOf(feature, shared))},"entity_id":${JSON.stringify(row.entityId)},"value":${value},"timestamp":"${formatTimestamp(row.ts)}"}`;
      // The body is the route's JSON schema, built as text; the typed c.json() cannot take text.
      return c.body(text, 200, { "content-type": "application/json" }) as never;
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{id}/values/{entity_id}",
      tags,
      security,
      summary: "Latest value of a feature for one entity",
      description: "Served from the KV online cache (header `X-FStore-Cache: hit`), falling back to D1 on a miss or when the cached vector was written in the last 5 seconds (`miss`), so a value just pushed reads back. 404 with code VALUE_NOT_FOUND when the entity has no value, VALUE_EXPIRED when its latest value is older than the feature's ttl. A float value always carries a fraction (`1.0`).",
      middleware: [requireScope("read")] as const,
      request: { params: ValuePathParams },
      responses: { 200: jsonResponse(LatestValue, "The latest value"), 400: errors[400], 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const { id, entity_id: entityId } = c.req.valid("param");
      const usage = usageOf(c.env);
      // The catalog (cached per isolate), or D1 for a feature registered elsewhere since it was loaded
      // (and for an ambiguous name: another group's feature of that name may have gone since).
      const { feature, ref } = await usage.phaseAsync("registry", async () => {
        const catalog = await loadCatalog(c.env.DB);
        try {
          const [row] = resolveRefs(catalog, [id]) as [FeatureRow];
          return { feature: row, ref: catalogRef(catalog, row) };
        } catch {
          const { row, shared } = await resolveRef(c.env.DB, id);
          return { feature: row, ref: refOf(row, shared) };
        }
      });
      // A vector written in the last seconds is checked against D1: a value just pushed reads back.
      const read = await readOnline(c.env, [feature], [entityId], (p) => c.executionCtx.waitUntil(p), "all");
      const cell = read.cells[0]?.[0]?.[feature.id];
      if (!cell) throw new ApiError("VALUE_NOT_FOUND", `feature '${feature.name}' has no value for entity '${entityId}'`);
      const [value, timestamp] = cell;
      if (isExpired(parseTimestamp(timestamp) as bigint, feature.ttlSeconds, nowMicros())) {
        throw new ApiError("VALUE_EXPIRED", `the latest value of '${feature.name}' for '${entityId}' is older than the feature's ttl (${feature.ttlSeconds}s)`, {
          timestamp,
          ttl: feature.ttlSeconds,
        });
      }
      c.header("X-FStore-Cache", read.fromD1 === 0 ? "hit" : "miss");
      // The value's JSON is spliced in as stored (floats keep their fraction: 1.0).
      const text = `{"feature_id":${JSON.stringify(ref)},"entity_id":${JSON.stringify(entityId)},"value":${value},"timestamp":"${timestamp}"}`;
      // The body is the route's JSON schema, built as text; the typed c.json() cannot take text.
      return c.body(text, 200, { "content-type": "application/json" }) as never;
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
      const { row: feature, shared } = await resolveRef(c.env.DB, c.req.valid("param").id);
      const q = c.req.valid("query");
      const start = q.start === undefined ? undefined : (parseTimestamp(q.start) as bigint);
      const end = q.end === undefined ? undefined : (parseTimestamp(q.end) as bigint);
      if (start !== undefined && end !== undefined && start > end) throw new ApiError("VALIDATION_FAILED", "start must not be after end");
      const values = await readHistory(c.env.DB, feature.id, { entityId: q.entity_id, start, end, limit: q.limit });
      return c.json({ feature_id: refOf(feature, shared), values }, 200);
    },
  );

