/** Online serving, feature groups and training-set request/response bodies. */
import { z } from "@hono/zod-openapi";
import { EntityId, Name, Timestamp } from "./common";
import { Feature } from "./feature";

export const MAX_ONLINE_ENTITIES = 1000;
export const MAX_ONLINE_FEATURES = 500;
export const MAX_ENTITY_ROWS = 100_000;

const FeatureRef = z.string().min(1).max(260).openapi({ description: "A feature name, or `group:name`", example: "customer_metrics:customer_purchase_amount" });

export const OnlineRequest = z
  .object({
    features: z.array(FeatureRef).min(1).max(MAX_ONLINE_FEATURES).optional(),
    feature_group: Name.optional().openapi({ description: "Every feature of this group (instead of `features`)" }),
    entity_ids: z.array(EntityId).min(1).max(MAX_ONLINE_ENTITIES),
  })
  .strict()
  .refine((r) => (r.features === undefined) !== (r.feature_group === undefined), {
    message: "give exactly one of 'features' or 'feature_group'",
  })
  .openapi("OnlineRequest");

const Status = z.enum(["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE", "NULL_VALUE"]);

export const OnlineResponse = z
  .object({
    features: z.array(z.string()),
    results: z.array(
      z.object({
        entity_id: z.string(),
        values: z.record(z.string(), z.unknown()),
        statuses: z.record(z.string(), Status),
        event_timestamps: z.record(z.string(), z.string().nullable()),
      }),
    ),
  })
  .openapi("OnlineResponse");

export const FeatureGroup = z
  .object({ name: z.string(), entity: z.string(), features: z.array(z.string()) })
  .openapi("FeatureGroup");

export const FeatureGroupDetail = z
  .object({ name: z.string(), entity: z.string(), features: z.array(Feature) })
  .openapi("FeatureGroupDetail");

export const HistoricalRequest = z
  .object({
    features: z.array(FeatureRef).min(1).max(MAX_ONLINE_FEATURES),
    entity_rows: z
      .array(z.object({ entity_id: EntityId, timestamp: Timestamp }).strict())
      .min(1)
      .max(MAX_ENTITY_ROWS),
    format: z.enum(["json", "csv", "parquet"]).optional().openapi({ description: "Overrides the Accept header" }),
  })
  .strict()
  .openapi("HistoricalRequest");
