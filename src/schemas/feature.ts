/** Feature definitions as the guide writes them, plus value_type, ttl, tags and owner. */
import { z } from "@hono/zod-openapi";
import { Cron } from "croner";
import { parseDuration } from "../time";
import { valueTypes } from "../value-types";
import { FeatureRef } from "../registry/refs";
import { Name } from "./common";

const Duration = z.string().refine((s) => parseDuration(s) !== null, { message: "must be a duration like 30s, 5m, 1h or 1d" });

const CronExpression = z.string().refine(
  (s) => {
    try {
      new Cron(s, { paused: true });
      return s.trim().split(/\s+/).length === 5;
    } catch {
      return false;
    }
  },
  { message: "must be a 5-field cron expression, e.g. '0 0 * * *'" },
);

/** Seconds, or a duration string (`7d`). Stored and returned as seconds. */
const Ttl = z
  .union([z.number().int().positive(), Duration])
  .transform((v) => (typeof v === "number" ? v : (parseDuration(v) as number)))
  .openapi({ type: "integer", description: "Seconds (or a duration such as '7d') after its timestamp when a value stops being served", example: 86400 });

const Topic = z.string().min(1).max(256).openapi({ description: "Stream topic the feature reads (Pulsar's persistent://tenant/ns/topic too)", example: "user_events" });
const DotPath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^.]+(\.[^.]+)*$/, "must be a dot path into the record's JSON payload, e.g. 'session_data.duration'");

/**
 * A stream feature's fields, top level (the guide's register_streaming_feature) or under
 * `stream_config` (its createFeature). How they combine is checked on the whole definition
 * (registry/sources.ts `streamSourceOf`), because a PATCH changes some of them.
 */
export const streamFields = {
  topic: Topic.optional(),
  value_field: DotPath.optional().openapi({ description: "Dot path of the value in the record's payload (default: the whole payload)", example: "session_data" }),
  window_size: Duration.optional().openapi({ description: "Window length; values aggregate the events of the last window_size", example: "5m" }),
  entity_field: DotPath.optional().openapi({ description: "Dot path of the entity id in the payload (default: the record key)", example: "user_id" }),
  timestamp_field: DotPath.optional().openapi({ description: "Dot path of the event time in the payload (default: the record's timestamp, else its arrival time)" }),
  aggregation: z.string().optional().openapi({ description: "last (default), count, sum, avg, min or max", example: "sum" }),
  window: z.string().optional().openapi({ description: "sliding (default with window_size) or tumbling" }),
  slide: Duration.optional().openapi({ description: "Hop of a sliding window; must divide window_size (default window_size/5, whole seconds)", example: "1m" }),
  allowed_lateness: Duration.optional().openapi({ description: "How far behind the newest event time an event may be and still count (default 1m)", example: "1m" }),
  dead_letter_late: z.boolean().optional().openapi({ description: "Store events too late to count as dead letters (GET /api/v1/dead-letters)" }),
};

/** Fields that say where a feature's values come from; stored as registered. */
const sourceFields = {
  connector: Name.optional().openapi({ description: "Name of the connector that feeds this feature" }),
  query: z.string().min(1).max(100_000).optional().openapi({ description: "SQL returning entity_id, value[, timestamp]" }),
  schedule: CronExpression.optional().openapi({ example: "0 0 * * *" }),
  update_frequency: Duration.optional().openapi({ example: "1h" }),
  timeout: Duration.optional().openapi({ description: "Statement timeout of a SQL run's queries (default 5m)", example: "30s" }),
  incremental_column: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain column name of the query's result")
    .optional()
    .openapi({ description: "Result column holding each row's timestamp: a run only pulls rows newer than the last run's watermark", example: "timestamp" }),
  path: z.string().min(1).max(1024).optional().openapi({ description: "Glob over the connector's keys (*, **, {a,b})", example: "features/user_behavior/*.parquet" }),
  format: z
    .enum(["parquet", "csv", "json", "ndjson", "orc"])
    .refine((f) => f !== "orc", { message: "ORC is not supported yet (no ORC reader runs in Workers); convert the files to Parquet" })
    .optional()
    .openapi({ description: "Default: the path's extension" }),
  entity_column: z.string().min(1).max(256).optional().openapi({ description: "File column holding the entity id (default entity_id)", example: "user_id" }),
  value_column: z.string().min(1).max(256).optional().openapi({ description: "File column holding the value (default value)", example: "clicks" }),
  timestamp_column: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .openapi({ description: "File column holding the timestamp (default timestamp; without one the run's time is used)", example: "event_time" }),
  batch_config: z.object({ path: z.string().min(1).max(1024), schedule: CronExpression.optional() }).strict().optional(),
  ...streamFields,
  stream_config: z
    .object({ ...streamFields, topic: Topic })
    .strict()
    .optional()
    .openapi({ description: "The stream fields nested (the guide's createFeature): topic, value_field, window_size, ...; docs/streaming.md" }),
};
export const sourceFieldNames = Object.keys(sourceFields) as (keyof typeof sourceFields)[];

const editableFields = {
  description: z.string().max(4096).optional(),
  ttl: Ttl.nullable().optional(),
  tags: z.record(z.string().max(128), z.string().max(1024)).optional().openapi({ example: { team: "growth" } }),
  owner: z.string().max(256).optional().openapi({ example: "ml-team@example.com" }),
  ...sourceFields,
};

export const FeatureCreate = z
  .object({
    name: Name.refine((n) => n !== "batch", { message: "'batch' is reserved" }).openapi({ example: "customer_purchase_amount" }),
    entity_id: Name.default("entity").openapi({ description: "Entity type the feature describes", example: "customer" }),
    feature_group: Name.optional().openapi({ description: "Defaults to the entity type: one group per entity", example: "customer_metrics" }),
    value_type: z
      .enum(valueTypes)
      .optional()
      .openapi({
        description:
          "Defaults to float. A stream feature's default follows what it computes: json for `last` (the payload field as it comes: a string action, a number, an object), int for `count`, float otherwise",
      }),
    ...editableFields,
  })
  .strict()
  .openapi("FeatureCreate");

/** name, entity_id, feature_group and value_type are fixed once values exist; the rest can change. */
export const FeaturePatch = z.object(editableFields).strict().openapi("FeaturePatch");

export const Feature = z
  .object({
    id: z.string().openapi({ description: "The feature's reference (= ref), used in every path" }),
    ref: z.string().openapi({ description: "What addresses the feature: its name while no other feature group has that name, else `group:name`", example: "customer_purchase_amount" }),
    name: z.string(),
    description: z.string().nullable(),
    entity_id: z.string(),
    feature_group: z.string(),
    value_type: z.enum(valueTypes),
    ttl: z.number().int().nullable(),
    tags: z.record(z.string(), z.string()),
    owner: z.string().nullable(),
    source_type: z.enum(["push", "sql", "file", "stream"]),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .catchall(z.unknown())
  .openapi("Feature");

export const FeatureList = z
  .object({ features: z.array(Feature), next_cursor: z.string().nullable() })
  .openapi("FeatureList");

export const FeatureListQuery = z.object({
  feature_group: Name.optional(),
  entity: Name.optional().openapi({ description: "Entity type (the definition's entity_id)" }),
  source_type: z.enum(["push", "sql", "file", "stream"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(260).optional().openapi({ description: "next_cursor from the previous page" }),
});

export const FeatureIdParam = z.object({
  id: FeatureRef.openapi({
    param: { name: "id", in: "path" },
    description: "The feature's name, or `group:name` when several groups have that name (':' may be URL-encoded as %3A)",
    example: "customer_purchase_amount",
  }),
});

export type FeatureCreateInput = z.infer<typeof FeatureCreate>;
export type FeaturePatchInput = z.infer<typeof FeaturePatch>;
