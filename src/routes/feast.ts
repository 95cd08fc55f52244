/**
 * Feast feature-server compatibility, so a Feast client with a `remote` online store pointed at
 * FStore works unchanged (docs/feast.md has the mapping):
 * - `POST /get-online-features` — Feast's request; Feast's column-major response.
 * - `POST /push`, `POST /write-to-online-store` — Feast's columnar `df` written as values.
 * Feast's client sends these bodies without a JSON content type, so they are parsed by hand
 * (with the same zod schemas the OpenAPI document shows).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireScope } from "../auth";
import type { FeatureRow } from "../db/schema";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { checkEntityId } from "../ingest/rules";
import { batchError, commitValues, toRow, type ItemError } from "../ingest/write";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { usageOf } from "../invocation";
import { entityIdOf, keyJsonOf, parseJsonKeepingNumbers, type ParsedJson } from "../json-numbers";
import { groupFeatures, loadCatalog, resolveRefs, type Catalog } from "../serving/catalog";
import { MAX_VECTORS_PER_REQUEST, readOnline, type OnlineRead } from "../serving/online";
import type { ValueRow } from "../ingest/sql";
import { feastBody } from "../serving/online-json";
import { nowMicros } from "../time";
import { errorHook } from "../validation";

const EntityValue = z.union([z.string(), z.number(), z.boolean()]);

const GetOnlineFeatures = z
  .object({
    features: z.array(z.string().min(1).max(260)).min(1).max(500).optional(),
    feature_service: z.string().min(1).max(128).optional(),
    entities: z.record(
      z.string().max(128),
      z
        .array(EntityValue)
        .min(1)
        .max(1000)
        .superRefine((keys, ctx) => {
          // The same rule as writes: an id that could never be stored is a 400, not a lookup.
          keys.forEach((key, i) => {
            const problem = checkEntityId(String(key));
            if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
          });
        }),
    ),
    full_feature_names: z.boolean().default(false),
  })
  .refine((r) => (r.features === undefined) !== (r.feature_service === undefined), { message: "give exactly one of 'features' or 'feature_service'" })
  .refine((r) => Object.keys(r.entities).length >= 1, { message: "entities must name at least one join key", path: ["entities"] })
  .refine((r) => new Set(Object.values(r.entities).map((keys) => keys.length)).size <= 1, {
    message: "every join key's list of entities must have the same length (one entity row per position, as Feast requires)",
    path: ["entities"],
  })
  .openapi("FeastGetOnlineFeaturesRequest");

const FeastResponse = z
  .object({
    metadata: z.object({ feature_names: z.array(z.string()) }),
    results: z.array(z.object({ values: z.array(z.unknown()), statuses: z.array(z.string()), event_timestamps: z.array(z.string()) })),
  })
  .openapi("FeastGetOnlineFeaturesResponse");

const Columnar = z.record(z.string(), z.array(z.unknown()));
const Push = z
  .object({
    push_source_name: z.string().min(1).max(128),
    df: Columnar,
    to: z.enum(["online", "offline", "online_and_offline"]).default("online"),
    allow_registry_cache: z.boolean().optional(),
    transform_on_write: z.boolean().optional(),
  })
  .openapi("FeastPushRequest");
const WriteToOnlineStore = z
  .object({ feature_view_name: z.string().min(1).max(128), df: Columnar, allow_registry_cache: z.boolean().optional(), transform_on_write: z.boolean().optional() })
  .openapi("FeastWriteToOnlineStoreRequest");

/** The body, validated, and the source text of its numbers (for join keys; see json-numbers.ts). */
async function parseBody<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<{ data: z.infer<T> } & ParsedJson> {
  let parsed: ParsedJson;
  try {
    parsed = parseJsonKeepingNumbers(await c.req.text());
  } catch {
    throw new ApiError("INVALID_JSON", "Request body is not valid JSON");
  }
  const result = schema.safeParse(parsed.value);
  if (!result.success) errorHook({ success: false, error: result.error, data: parsed.value, target: "json" } as never, c as never);
  return { ...parsed, data: (result as { data: z.infer<T> }).data };
}

/** The join-key column as the client sent it, with the source text of each number in it. */
function sentKeys(parsed: ParsedJson, column: unknown): (string | undefined)[] {
  return (Array.isArray(column) && parsed.numberSources.get(column)) || [];
}

/** A Feast push source or feature view name → an FStore feature group. */
function groupFor(catalog: Catalog, name: string): FeatureRow[] {
  if (catalog.byGroup.has(name)) return groupFeatures(catalog, name);
  for (const [group, rows] of catalog.byGroup) if (rows.some((f) => f.tags.feast_push_source === name)) return groupFeatures(catalog, group);
  throw new ApiError("NOT_FOUND", `no feature group named '${name}' (and no feature tagged feast_push_source=${name})`);
}

/**
 * Feast's columnar `df` → value rows for the group's features, all checked before anything is
 * written. `keySources` holds the source text of numeric join keys, so int64 keys stay exact.
 */
function rowsFromColumns(group: FeatureRow[], df: Record<string, unknown[]>, keySources: (string | undefined)[]): ValueRow[] {
  const joinKey = group[0]?.entityId as string;
  const entities = df[joinKey];
  if (!entities) throw new ApiError("VALIDATION_FAILED", `df has no '${joinKey}' column (the group's entity join key)`, { columns: Object.keys(df) });
  const byName = new Map(group.map((f) => [f.name, f]));
  const ignored = new Set([joinKey, "event_timestamp", "created", "created_timestamp"]);
  const unknown = Object.keys(df).filter((col) => !ignored.has(col) && !byName.has(col));
  if (unknown.length > 0) {
    throw new ApiError("VALIDATION_FAILED", `df has columns that are not features of group '${group[0]?.featureGroup}': ${unknown.join(", ")}`, { unknown });
  }
  const lengths = new Set(Object.values(df).map((col) => col.length));
  if (lengths.size > 1) throw new ApiError("VALIDATION_FAILED", "all df columns must have the same length");

  const now = nowMicros();
  const rows: ValueRow[] = [];
  const errorsByRow: ItemError[] = [];
  entities.forEach((entity, i) => {
    const problems: ItemError["errors"] = [];
    const key = EntityValue.safeParse(entity);
    if (!key.success) problems.push({ path: joinKey, message: "entity key must be a string, number or bool" });
    const entityId = key.success ? entityIdOf(key.data, keySources[i]) : "";
    if (key.success) {
      const entityProblem = checkEntityId(entityId);
      if (entityProblem) problems.push({ path: joinKey, message: entityProblem });
    }
    const ts = df.event_timestamp?.[i];
    if (ts !== undefined && ts !== null && typeof ts !== "string") problems.push({ path: "event_timestamp", message: "must be an ISO 8601 string" });
    for (const [name, feature] of byName) {
      const column = df[name];
      if (!column) continue;
      if (problems.length > 0) break;
      const row = toRow(feature, { entity_id: entityId, value: column[i] ?? null, timestamp: (ts as string | null | undefined) ?? undefined }, now);
      if (typeof row === "string") problems.push({ path: name, message: row });
      else rows.push(row);
    }
    if (problems.length > 0) errorsByRow.push({ index: i, errors: problems });
  });
  if (errorsByRow.length > 0) throw batchError(errorsByRow, entities.length);
  return rows;
}

async function writeColumns(c: Context<AppEnv>, groupName: string, df: Record<string, unknown[]>, parsed: ParsedJson) {
  const usage = usageOf(c.env);
  const catalog = await usage.phaseAsync("registry", () => loadCatalog(c.env.DB));
  const group = usage.phase("registry", () => groupFor(catalog, groupName));
  const rawDf = (parsed.value as { df: Record<string, unknown> }).df;
  const rows = usage.phase("validate", () => rowsFromColumns(group, df, sentKeys(parsed, rawDf[group[0]?.entityId as string])));
  const featureGroup = group[0]?.featureGroup as string;
  await commitValues(c.env, rows, () => featureGroup);
  return c.json(null, 200);
}

export const feastRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook });

feastRoutes.post("/get-online-features", requireScope("read"), async (c) => {
  const usage = usageOf(c.env);
  const parsed = await parseBody(c, GetOnlineFeatures);
  const body = parsed.data;
  const catalog = await usage.phaseAsync("registry", () => loadCatalog(c.env.DB));
  // `view:feature` references: a Feast feature view is an FStore feature group.
  const features = usage.phase("registry", () => (body.features ? resolveRefs(catalog, body.features) : groupFeatures(catalog, body.feature_service as string)));
  const names = features.map((f) => (body.full_feature_names ? `${f.featureGroup}__${f.name}` : f.name));
  const collision = names.find((n, i) => names.indexOf(n) !== i);
  if (collision !== undefined) {
    const views = features.filter((f, i) => names[i] === collision).map((f) => f.featureGroup);
    throw new ApiError(
      "VALIDATION_FAILED",
      `feature name '${collision}' comes from several feature views (${views.join(", ")}); set full_feature_names: true, as Feast requires for colliding names`,
      { collision, views },
    );
  }
  // Each feature is looked up by its own join key (its entity_id); one read per join key.
  const rawEntities = (parsed.value as { entities: Record<string, unknown> }).entities;
  const joinKeys = Object.keys(body.entities);
  const setOf = new Map<string, number>();
  const sets: { joinKey: string; features: FeatureRow[]; entityIds: string[] }[] = [];
  const columns = features.map((f) => {
    let set = setOf.get(f.entityId);
    if (set === undefined) {
      const keyValues = body.entities[f.entityId];
      if (!keyValues) {
        throw new ApiError(
          "VALIDATION_FAILED",
          `feature '${f.featureGroup}:${f.name}' is keyed by '${f.entityId}', but the request's entities have no '${f.entityId}' (join keys sent: ${joinKeys.join(", ")})`,
          { join_key: f.entityId, sent: joinKeys },
        );
      }
      // Join keys come back exactly as sent (int64 beyond 2^53, strings, bools): their source text.
      const sources = sentKeys(parsed, rawEntities[f.entityId]);
      setOf.set(f.entityId, (set = sets.push({ joinKey: f.entityId, features: [], entityIds: keyValues.map((v, i) => entityIdOf(v, sources[i])) }) - 1));
    }
    const s = sets[set] as (typeof sets)[number];
    return { set, index: s.features.push(f) - 1 };
  });
  const unused = joinKeys.filter((k) => !setOf.has(k));
  if (unused.length > 0) {
    throw new ApiError("VALIDATION_FAILED", `entities has join keys no requested feature is keyed by: ${unused.join(", ")} (composite keys are not supported)`, { unused });
  }
  const vectors = sets.reduce((sum, s) => sum + new Set(s.features.map((f) => f.featureGroup)).size * new Set(s.entityIds).size, 0);
  if (vectors > MAX_VECTORS_PER_REQUEST) {
    throw new ApiError("VALIDATION_FAILED", `this request needs ${vectors} vectors (feature views × entities, over its join keys); at most ${MAX_VECTORS_PER_REQUEST} — split it`);
  }
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const reads = await Promise.all(sets.map((s) => readOnline(c.env, s.features, s.entityIds, waitUntil)));
  const keys = joinKeys.map((joinKey) => {
    const sources = sentKeys(parsed, rawEntities[joinKey]);
    return { joinKey, keyJson: (body.entities[joinKey] as z.infer<typeof EntityValue>[]).map((v, i) => keyJsonOf(v, sources[i])) };
  });
  const readSets = sets.map((s, i) => ({ read: reads[i] as OnlineRead, features: s.features }));
  const text = usage.phase("encode", () => feastBody(keys, readSets, columns, names, nowMicros()));
  c.header("X-FStore-Cache", reads.every((r) => r.fromD1 === 0) ? "hit" : "miss");
  return c.body(text, 200, { "content-type": "application/json" });
});

feastRoutes.post("/push", requireScope("write"), async (c) => {
  const parsed = await parseBody(c, Push);
  return writeColumns(c, parsed.data.push_source_name, parsed.data.df, parsed);
});

feastRoutes.post("/write-to-online-store", requireScope("write"), async (c) => {
  const parsed = await parseBody(c, WriteToOnlineStore);
  return writeColumns(c, parsed.data.feature_view_name, parsed.data.df, parsed);
});

const feastDoc = (path: string, summary: string, request: z.ZodType, response: z.ZodType) =>
  feastRoutes.openAPIRegistry.registerPath({
    method: "post",
    path,
    tags: ["feast"],
    security: [{ bearerAuth: [] }],
    summary,
    request: { body: { required: true, content: { "application/json": { schema: request } } } },
    responses: { 200: jsonResponse(response, "Feast-compatible response"), 400: errors[400], 404: errors[404], ...authErrors },
  });
feastDoc("/get-online-features", "Feast feature server: online features (column-major)", GetOnlineFeatures, FeastResponse);
feastDoc("/push", "Feast feature server: push a columnar df into a feature group", Push, z.null());
feastDoc("/write-to-online-store", "Feast feature server: write a columnar df into a feature group", WriteToOnlineStore, z.null());

